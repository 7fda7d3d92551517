"""Transfer across subjects, sessions and runs: Riemannian re-centring, stretching, rotation,
and a reference that follows the signal during online use.

EEG covariances of two subjects, two sessions or even two runs of one subject lie in
different regions of the SPD manifold (electrode impedances, head shape, arousal): a
classifier trained on one drifts off the other. Re-centring (Zanini et al., 2018) moves each
*domain* (a subject, a session, a run) so that its reference, the Riemannian mean of its
matrices, becomes the identity: ``C -> M^{-1/2} C M^{-1/2}``. After it, the matrices of
every domain share one centre and the class structure is comparable, so a decoder can be
trained on pooled source subjects or earlier sessions plus a few trials of today's target.
Riemannian Procrustes analysis (Rodrigues et al., 2019) adds stretching (each domain's
dispersion around its centre set to one) and a rotation of each source onto the target's
class means.

:class:`Recenter` is an ordinary scikit-learn step that sits after the step producing SPD
matrices (``ShrunkCovariances``, ``AugmentedCovariance``; connectivity matrices after
``shrinkage``), so model files use it like any other step. The domains are a fit parameter
(:func:`fit_pipeline` routes them): without domains, the training data are one domain.

Online, the target's reference can *follow the signal* (``adapt``): after each window, it
moves a step ``1 / adapt`` along the geodesic towards that window's matrix (a causal,
exponentially weighted Riemannian mean over about ``adapt`` recent windows; no label used),
and the next window is re-centred on the updated reference. The cost per window is two
eigendecompositions of the matrix size, whatever the history. Windows must then be given in
time order; :func:`reset_adaptation` returns every step of a model to its calibration
reference (the live engine and the pseudo-online sweep call it at the start of each run).
"""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ..errors import ConfigError, DataError

__all__ = ["Recenter", "domain_steps", "fit_pipeline", "reset_adaptation"]

#: Domain name :class:`Recenter` gives its training data when no domains are passed.
TARGET = "target"


def _eig(C):
    """Eigenvalues (floored at a tiny positive value) and eigenvectors of SPD matrices."""
    w, V = np.linalg.eigh(C)
    floor = np.finfo(float).eps * np.maximum(w[..., -1:], np.finfo(float).tiny)
    return np.maximum(w, floor), V


def _pow(C, p):
    """``C ** p`` of SPD matrices (any leading shape)."""
    w, V = _eig(C)
    return (V * w[..., None, :] ** p) @ np.swapaxes(V, -1, -2)


def _symmetrise(C):
    return (C + np.swapaxes(C, -1, -2)) / 2


#: Means a reference can be: the affine-invariant (Karcher) mean, iterative, as in Zanini
#: et al.; or the log-Euclidean mean, one eigendecomposition per matrix (several times
#: faster at the sizes of augmented covariances, and close to it for matrices near their
#: mean).
MEANS = ("riemann", "logeuclid")


def reference_mean(X, metric="riemann"):
    """Mean of SPD matrices by pyRiemann (``metric`` of :data:`MEANS`)."""
    from pyriemann.geometry.mean import mean_logeuclid, mean_riemann

    X = np.asarray(X, dtype=float)
    return mean_riemann(X) if metric == "riemann" else mean_logeuclid(X)


def _dispersion(Xc):
    """Mean squared Riemannian distance to the identity of re-centred matrices."""
    w, _ = _eig(Xc)
    return float(np.mean(np.sum(np.log(w) ** 2, axis=-1)))


#: Stopping rule of the rotation's optimisation (norm of the descent direction, iterations).
ROTATION_TOL, ROTATION_MAXITER = 1e-6, 2000


class Recenter(TransformerMixin, BaseEstimator):
    """Re-centre SPD matrices on their domain's reference (Riemannian transfer learning).

    Parameters
    ----------
    adapt : int
        0: the target's reference stays the one fitted on its calibration data. ``n > 0``:
        it follows the signal online, an exponentially weighted Riemannian mean over about
        ``n`` recent windows (each window moves it ``1/n`` of the way to itself, after being
        re-centred on the reference before it). Windows must be transformed in time order.
    adapt_s : float | None
        The same time constant in seconds, for model files: ``adapt = round(adapt_s /
        step_s)`` windows at the decoder's step ``step_s``, which the live engine and the
        pseudo-online sweep bind (:func:`~bci_app.decoding.channels.bind_recording_info`).
        Without a step (offline evaluations of epochs, not of a stream) the reference does
        not move. Give ``adapt`` or ``adapt_s``, not both.
    step_s : float | None
        The decoder's step between windows, s (bound, not set by hand).
    stretch : bool
        Also set each domain's dispersion around its reference to one (the "stretching" of
        Riemannian Procrustes analysis), so domains of different spread match.
    rotate : bool
        Also rotate each source domain so its class means meet the target's (the rotation
        of Riemannian Procrustes analysis, by :class:`pyriemann.transfer.TLRotate`). Needs
        labels of every class in every domain; only training matrices are rotated.
    shrinkage : float
        Before anything, ``(1 - shrinkage) C + shrinkage * trace(C)/n * I``, and a
        projection on the SPD cone: for matrices that are not covariances (coherence,
        PLV), 0.1 or so. 0 for covariances.
    metric : {"riemann", "logeuclid"}
        The mean a domain's reference is (:data:`MEANS`).
    target_weight : float | None
        With sources, the share of the training weight the target's own windows get in the
        classifier's fit (the domain trade-off of MDWM, Khazem et al. 2021): a few target
        trials among thousands of source windows otherwise barely count. None: every window
        weighs the same. Passed as ``sample_weight`` to the pipeline's last step by
        :func:`fit_pipeline` (the last step must accept it).

    Attributes
    ----------
    references_ : dict of str -> ndarray
        Each fitted domain's reference (Riemannian mean).
    dispersions_ : dict of str -> float
        Each domain's dispersion after re-centring (with ``stretch``).
    target_ : str
        The domain whose reference :meth:`transform` uses.
    reference_ : ndarray
        The current reference of the target (moves with ``adapt``).
    """

    def __init__(self, adapt=0, stretch=False, rotate=False, shrinkage=0.0,
                 metric="riemann", target_weight=None, adapt_s=None, step_s=None):
        self.adapt = adapt
        self.adapt_s = adapt_s
        self.step_s = step_s
        self.stretch = stretch
        self.rotate = rotate
        self.shrinkage = shrinkage
        self.metric = metric
        self.target_weight = target_weight

    # -- checks ------------------------------------------------------------------------
    def _check_params(self):
        if not isinstance(self.adapt, (int, np.integer)) or isinstance(self.adapt, bool) \
                or self.adapt < 0:
            raise ConfigError(f"Recenter: adapt must be a whole number of windows >= 0 "
                              f"(0: no adaptation), got {self.adapt!r}.")
        for name in ("adapt_s", "step_s"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(
                    value, (int, float, np.integer, np.floating)) or not value > 0):
                raise ConfigError(f"Recenter: {name} must be a positive number of seconds "
                                  f"or null, got {value!r}.")
        if self.adapt_s is not None and self.adapt:
            raise ConfigError(f"Recenter: give adapt ({self.adapt} windows) or adapt_s "
                              f"({self.adapt_s} s), not both.")
        if not 0.0 <= float(self.shrinkage) < 1.0:
            raise ConfigError(f"Recenter: shrinkage must be in [0, 1), got {self.shrinkage!r}.")
        if self.target_weight is not None and not 0.0 < float(self.target_weight) <= 1.0:
            raise ConfigError(f"Recenter: target_weight must be in (0, 1] or null, got "
                              f"{self.target_weight!r}.")
        if self.metric not in MEANS:
            raise ConfigError(f"Recenter: metric must be one of {list(MEANS)}, got "
                              f"{self.metric!r}.")

    def _matrices(self, X):
        X = np.asarray(X, dtype=float)
        if X.ndim != 3 or X.shape[1] != X.shape[2]:
            raise DataError(f"Recenter takes square matrices (n, m, m), got shape {X.shape}: "
                            "put it after the step making covariance or connectivity "
                            "matrices.")
        if not np.isfinite(X).all():
            raise DataError("Recenter: the matrices hold non-finite values.")
        X = _symmetrise(X)
        if self.shrinkage:
            from .covariance import nearest_spd

            n = X.shape[-1]
            mu = np.trace(X, axis1=1, axis2=2) / n
            X = (1 - self.shrinkage) * X + self.shrinkage * mu[:, None, None] * np.eye(n)
            X = nearest_spd(X)
        return X

    @staticmethod
    def _domains(X, domains):
        if domains is None:
            return np.full(len(X), TARGET, dtype=object)
        domains = np.asarray(domains, dtype=object)
        if domains.shape != (len(X),):
            raise DataError(f"Recenter: {len(domains)} domain labels for {len(X)} matrices.")
        return domains.astype(str).astype(object)

    # -- fitting -----------------------------------------------------------------------
    def fit(self, X, y=None, domains=None, target=None):
        """Fit each domain's reference.

        Parameters
        ----------
        X : ndarray, shape (n_matrices, n, n)
        y : array-like | None
            Labels (used by ``rotate`` only).
        domains : array-like of str, shape (n_matrices,) | None
            The domain of each matrix (None: all one domain).
        target : str | None
            The domain :meth:`transform` re-centres on (default: the domain of the last
            matrix, i.e. the newest data, as callers append the target's calibration last).
        """
        self.fit_transform(X, y, domains=domains, target=target)
        return self

    def fit_transform(self, X, y=None, domains=None, target=None):
        """Fit, and return each training matrix re-centred on its own domain's reference
        (stretched and rotated as set). Never adapts."""
        self._check_params()
        X = self._matrices(X)
        domains = self._domains(X, domains)
        target = str(domains[-1] if target is None else target)
        if target not in set(domains):
            raise DataError(f"Recenter: target domain {target!r} has no matrix among the "
                            f"domains {sorted(set(domains))}.")
        self.references_, self.dispersions_ = {}, {}
        out = np.empty_like(X)
        for d in dict.fromkeys(domains):  # in order of first appearance
            idx = domains == d
            ref = reference_mean(X[idx], self.metric)
            self.references_[d] = ref
            out[idx] = self._whiten(X[idx], ref)
            if self.stretch:
                self.dispersions_[d] = _dispersion(out[idx])
                out[idx] = self._stretch(out[idx], self.dispersions_[d])
        self.target_ = target
        if self.rotate and len(self.references_) > 1:
            out = self._rotate(out, y, domains, target)
        self.n_features_in_ = X.shape[-1]
        self.reset_adaptation()
        return out

    def _rotate(self, Xc, y, domains, target):
        from pyriemann.transfer import TLRotate, encode_domains

        if y is None:
            raise DataError("Recenter(rotate=True) needs the labels of the training data.")
        y = np.asarray(y).astype(str)
        need = set(y[domains == target])
        for d in set(domains):
            missing = need - set(y[domains == d])
            if missing:
                raise DataError(f"Recenter(rotate=True): domain {d!r} has no matrix of "
                                f"class(es) {sorted(missing)} that the target has; rotation "
                                "needs every class in every domain (use rotate: false).")
        _, y_enc = encode_domains(Xc, y, domains.astype(str))
        # A step of 1e-6 in the descent direction is far below what changes a decision;
        # pyRiemann's default (1e-9, up to 10 000 iterations) costs a minute per fit.
        return TLRotate(target_domain=target, metric="riemann", tol_step=ROTATION_TOL,
                        maxiter=ROTATION_MAXITER).fit_transform(Xc, y_enc)

    @staticmethod
    def _whiten(X, ref):
        w, V = _eig(ref)
        ihalf = (V / np.sqrt(w)) @ V.T
        return _symmetrise(ihalf @ X @ ihalf)

    @staticmethod
    def _stretch(Xc, dispersion):
        return _pow(Xc, 1.0 / np.sqrt(max(dispersion, 1e-12)))

    # -- use ---------------------------------------------------------------------------
    def __setstate__(self, state):
        # A model saved before adapt_s/step_s existed: their defaults (no change to it).
        state = dict(state)
        state.setdefault("adapt_s", None)
        state.setdefault("step_s", None)
        super().__setstate__(state)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "references_")

    def adapt_windows(self):
        """The windows the reference follows: ``adapt``, or ``adapt_s`` at the bound step
        (0 without a step: no adaptation)."""
        if self.adapt_s is None:
            return int(self.adapt)
        if self.step_s is None:
            return 0
        return max(1, round(float(self.adapt_s) / float(self.step_s)))

    def reset_adaptation(self):
        """Return the moving reference to the target's calibration reference."""
        self.reference_ = self.references_[self.target_].copy()
        # A reference from calibration data weighs like `adapt` windows: the first online
        # windows move it by 1/adapt each, not all the way.
        self.n_adapted_ = 0

    def transform(self, X):
        """Re-centre matrices on the target's reference (moving it along with ``adapt``)."""
        if not self.__sklearn_is_fitted__():
            raise DataError("Recenter is not fitted.")
        X = self._matrices(X)
        if X.shape[-1] != self.n_features_in_:
            raise DataError(f"Recenter was fitted on {self.n_features_in_}x"
                            f"{self.n_features_in_} matrices, got {X.shape[-1]}x"
                            f"{X.shape[-1]}.")
        n_windows = self.adapt_windows()
        if not n_windows:
            out = self._whiten(X, self.reference_)
        else:
            out = np.empty_like(X)
            step = 1.0 / n_windows
            w, V = _eig(self.reference_)
            for k, C in enumerate(X):
                half, ihalf = (V * np.sqrt(w)) @ V.T, (V / np.sqrt(w)) @ V.T
                Ck = _symmetrise(ihalf @ C @ ihalf)
                out[k] = Ck
                # geodesic from the reference towards C, a fraction `step` of the way
                self.reference_ = _symmetrise(half @ _pow(Ck, step) @ half)
                self.n_adapted_ += 1
                w, V = _eig(self.reference_)
        if self.stretch:
            out = self._stretch(out, self.dispersions_[self.target_])
        return out


def _steps(model):
    """The (name, step) pairs of a pipeline, or of the pipeline a search wraps (its best
    one once fitted)."""
    for candidate in (model, getattr(model, "best_estimator_", None),
                      getattr(model, "estimator", None)):
        steps = getattr(candidate, "steps", None)
        if steps:
            return steps
    return []


def domain_steps(model):
    """Names of the steps of a pipeline (or of the pipeline a grid search wraps) that take
    ``domains`` when fitted."""
    return [name for name, step in _steps(model) if isinstance(step, Recenter)]


def fit_pipeline(pipeline, X, y, domains=None, target=None):
    """Fit a pipeline, routing the domain of each training window to its domain-aware steps.

    Without such a step, the pipeline is fitted on the pooled windows as they are (plain
    pooling); with ``domains`` None, the windows are one domain.
    """
    params = {}
    if domains is not None:
        domains = np.asarray(domains).astype(str)
        target = str(domains[-1] if target is None else target)
        steps = dict(_steps(pipeline))
        for name in domain_steps(pipeline):
            params[f"{name}__domains"] = domains
            params[f"{name}__target"] = target
            share = steps[name].target_weight
            if share is not None and len(set(domains)) > 1:
                is_target = domains == target
                weight = np.where(is_target, share / max(is_target.sum(), 1),
                                  (1 - share) / max((~is_target).sum(), 1))
                last = _steps(pipeline)[-1][0]
                params[f"{last}__sample_weight"] = weight * len(weight)
    return pipeline.fit(X, y, **params)


def reset_adaptation(model):
    """Return every adapting step of a fitted model to its calibration reference (at the
    start of each run). A model without one is left alone."""
    for _, step in _steps(model):
        if isinstance(step, Recenter) and step.__sklearn_is_fitted__():
            step.reset_adaptation()


#: Steps whose output is a batch of SPD matrices a :class:`Recenter` step can follow, with
#: the shrinkage those matrices need (connectivity matrices are not covariances).
SPD_STEPS = {"ShrunkCovariances": 0.0, "AugmentedCovariance": 0.0, "Covariances": 0.0,
             "Connectivity": 0.1}


def with_recentering(pipeline, adapt=0, **params):
    """A copy of ``pipeline`` with a :class:`Recenter` step after its first step that makes
    SPD matrices (:data:`SPD_STEPS`), e.g. to measure a model file with and without transfer.

    Raises
    ------
    ConfigError
        The pipeline has no such step, or has a Recenter step already.
    """
    from sklearn.base import clone
    from sklearn.pipeline import Pipeline

    steps = list(clone(pipeline).steps)
    if domain_steps(pipeline):
        raise ConfigError("the pipeline already has a Recenter step.")
    for i, (_, step) in enumerate(steps):
        kind = type(step).__name__
        if kind in SPD_STEPS:
            params.setdefault("shrinkage", SPD_STEPS[kind])
            steps.insert(i + 1, ("recenter", Recenter(adapt=adapt, **params)))
            return Pipeline(steps)
    raise ConfigError(f"no step making SPD matrices ({', '.join(SPD_STEPS)}) in the pipeline "
                      f"{[name for name, _ in steps]}: Recenter has nothing to re-centre.")
