"""Minimum Distance to Mean for large SPD matrices.

:class:`FastMDM` gives the same class means, distances, predictions and
probabilities as :class:`pyriemann.classification.MDM`, but computes the
distances of a whole batch of windows at once. For the affine-invariant
(Riemannian) distance, the inverse square root of every class mean is computed
once at fit time, so that predicting a window costs one congruence (two matrix
products) and one symmetric eigenvalue problem per class instead of the
Cholesky factorisation and two batched linear solves per window and class done
by pyRiemann. This matters for augmented covariance matrices (100 to 512
dimensions), where the distance computation dominates the online latency.
"""

import logging

import numpy as np
import scipy.linalg
from joblib import Parallel, delayed
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from ..errors import ConfigError
from ._checks import (
    check_matrices, check_n_channels, check_type, check_value, check_vector,
)

try:  # pyRiemann >= 0.12
    from pyriemann.geometry.distance import distance as _pyr_distance
    from pyriemann.geometry.distance import distance_functions as _DISTANCES
    from pyriemann.geometry.mean import gmean as _pyr_mean
    from pyriemann.geometry.mean import mean_functions as _MEANS
except ImportError:  # pragma: no cover - older pyRiemann releases
    from pyriemann.utils.distance import distance as _pyr_distance
    from pyriemann.utils.distance import distance_functions as _DISTANCES
    from pyriemann.utils.mean import mean_covariance as _pyr_mean
    from pyriemann.utils.mean import mean_functions as _MEANS

__all__ = ["FastMDM"]

logger = logging.getLogger(__name__)

#: Distances computed by the batched code of this module; the others are
#: delegated to :func:`pyriemann.geometry.distance.distance`.
FAST_DISTANCES = ("riemann", "logeuclid", "euclid")

# Upper bound on the memory of one batch of matrices in the distance loop (bytes).
_CHUNK_BYTES = 64 * 2**20


def _ctranspose(A):
    """Conjugate transpose of the last two axes."""
    return np.conj(np.swapaxes(A, -1, -2)) if np.iscomplexobj(A) else np.swapaxes(A, -1, -2)


def _eig_function(A, func):
    """Apply a scalar function to the eigenvalues of Hermitian matrices.

    Parameters
    ----------
    A : ndarray, shape (..., n, n)
        Symmetric (Hermitian) matrices.
    func : callable
        Vectorised function applied to the eigenvalues.

    Returns
    -------
    B : ndarray, shape (..., n, n)
        ``V @ diag(func(w)) @ V^H`` with ``A = V @ diag(w) @ V^H``.
    """
    w, V = np.linalg.eigh(A)
    return (V * func(w)[..., None, :]) @ _ctranspose(V)


def _joint_diagonaliser(covmeans):
    """Basis ``V`` and scale ``d ** -0.5`` diagonalising the first two centroids at once.

    ``V^T M_1 V = I`` and ``V^T M_0 V = diag(d)`` (generalized symmetric eigenproblem
    ``M_0 v = d M_1 v``). Returns ``(None, None)`` for fewer than two classes, complex
    centroids, or centroids not positive definite enough for it.
    """
    if covmeans.shape[0] < 2 or np.iscomplexobj(covmeans):
        return None, None
    try:
        d, V = scipy.linalg.eigh(covmeans[0], covmeans[1])
    except (np.linalg.LinAlgError, ValueError):
        return None, None
    if not (np.all(np.isfinite(d)) and np.all(d > 0) and np.all(np.isfinite(V))):
        return None, None
    return np.ascontiguousarray(V), 1.0 / np.sqrt(d)


def _check_metric(metric):
    """Split and validate the ``metric`` parameter (same semantics as pyRiemann).

    Parameters
    ----------
    metric : str | dict
        One metric name for both steps, or a dict with keys ``"mean"`` and
        ``"distance"``. Callables are accepted like in pyRiemann.

    Returns
    -------
    metric_mean, metric_dist : str | callable
        Metric of the class means and metric of the distance.
    """
    check_type(metric, (str, dict), "FastMDM parameter metric",
               extra=" with keys 'mean' and 'distance'")
    if isinstance(metric, str):
        metric_mean = metric_dist = metric
    else:
        missing = [k for k in ("mean", "distance") if k not in metric]
        if missing:
            raise ConfigError(
                f"FastMDM parameter metric: the dict must have the keys 'mean' and "
                f"'distance' (missing {missing}); got keys {sorted(metric)}."
            )
        metric_mean, metric_dist = metric["mean"], metric["distance"]
    if not callable(metric_mean):
        check_value(metric_mean, sorted(_MEANS), "FastMDM mean metric")
    if not callable(metric_dist):
        check_value(metric_dist, sorted(_DISTANCES), "FastMDM distance metric")
    return metric_mean, metric_dist


def _check_matrices(X, n_channels=None):
    """SPD/HPD matrices (n_matrices, n_channels, n_channels), of the size seen at fit."""
    X = check_matrices(X, "FastMDM: X", allow_complex=True, dtype=None)
    check_n_channels(X.shape[1], n_channels, "FastMDM", matrices=True)
    return X


class FastMDM(ClassifierMixin, BaseEstimator):
    r"""Minimum Distance to Mean, batched over windows.

    Same model as :class:`pyriemann.classification.MDM`: one centroid
    :math:`M_k` per class (a mean of SPD matrices under ``metric["mean"]``),
    and each matrix :math:`C` is assigned to the closest centroid under
    ``metric["distance"]``. For the Riemannian distance,

    .. math::
        d^2(C, M_k) = \sum_i \log^2 \lambda_i\left(M_k^{-1/2} C M_k^{-1/2}\right),

    computed for all matrices at once with stacked matrix products and
    :func:`numpy.linalg.eigvalsh`. Distances ``"logeuclid"`` and ``"euclid"``
    are also batched; the other pyRiemann distances are delegated to
    :func:`pyriemann.geometry.distance.distance`.

    Parameters
    ----------
    metric : str | dict, default="riemann"
        Metric of the class means and of the distance, as in pyRiemann's MDM:
        one name for both, or ``{"mean": ..., "distance": ...}`` (e.g.
        ``{"mean": "logeuclid", "distance": "riemann"}`` for a fast fit).
        Means: any of :data:`pyriemann.geometry.mean.mean_functions`;
        distances: any of :data:`pyriemann.geometry.distance.distance_functions`.
    n_jobs : int, default=1
        Number of jobs to compute the class means in parallel (joblib
        semantics). Prediction is vectorised and does not use it.

    Attributes
    ----------
    classes_ : ndarray, shape (n_classes,)
        Class labels.
    covmeans_ : ndarray, shape (n_classes, n_channels, n_channels)
        Class centroids, identical to pyRiemann's ``MDM.covmeans_``.
    covmeans_invsqrt_ : ndarray, shape (n_classes, n_channels, n_channels) | None
        Inverse square roots of the centroids (Riemannian distance only).
    covmeans_logm_ : ndarray, shape (n_classes, n_channels, n_channels) | None
        Matrix logarithms of the centroids (log-Euclidean distance only).
    joint_basis_ : ndarray, shape (n_channels, n_channels) | None
        Riemannian distance with real matrices and at least two classes: ``V`` with
        ``V^T M_1 V = I`` and ``V^T M_0 V = diag(d)`` (generalized eigenvectors of the
        first two centroids), so that one congruence ``G = V^T C V`` gives the distances
        to both: ``eig(M_1^{-1} C) = eig(G)`` and
        ``eig(M_0^{-1} C) = eig(diag(d)^{-1/2} G diag(d)^{-1/2})``. None otherwise.
    joint_scale_ : ndarray, shape (n_channels,) | None
        ``d ** -0.5``, with ``d`` as above.
    n_channels_ : int
        Size of the matrices seen at fit.

    See Also
    --------
    pyriemann.classification.MDM : the reference implementation.
    """

    def __init__(self, metric="riemann", n_jobs=1):
        self.metric = metric
        self.n_jobs = n_jobs

    def fit(self, X, y, sample_weight=None):
        """Estimate one centroid per class.

        Parameters
        ----------
        X : ndarray, shape (n_matrices, n_channels, n_channels)
            SPD/HPD matrices.
        y : ndarray, shape (n_matrices,)
            Class labels.
        sample_weight : None | ndarray, shape (n_matrices,), default=None
            Weight of each matrix in its class mean; None for equal weights.

        Returns
        -------
        self : FastMDM
            The fitted classifier.
        """
        metric_mean, metric_dist = _check_metric(self.metric)
        X = _check_matrices(X)
        y = check_vector(y, X.shape[0], "FastMDM.fit: y")
        if sample_weight is None:
            sample_weight = np.ones(X.shape[0])
        sample_weight = check_vector(sample_weight, X.shape[0], "FastMDM.fit: sample_weight",
                                     dtype=float)
        self.classes_ = np.unique(y)
        means = Parallel(n_jobs=self.n_jobs)(
            delayed(_pyr_mean)(X[y == c], metric=metric_mean, sample_weight=sample_weight[y == c])
            for c in self.classes_
        )
        self.covmeans_ = np.stack(means, axis=0)
        self.n_channels_ = X.shape[1]
        self.covmeans_invsqrt_ = None
        self.covmeans_logm_ = None
        self.joint_basis_ = None
        self.joint_scale_ = None
        if metric_dist == "riemann":
            self.covmeans_invsqrt_ = _eig_function(self.covmeans_, lambda w: 1.0 / np.sqrt(w))
            self.joint_basis_, self.joint_scale_ = _joint_diagonaliser(self.covmeans_)
        elif metric_dist == "logeuclid":
            self.covmeans_logm_ = _eig_function(self.covmeans_, np.log)
        logger.debug(
            "FastMDM fitted: %d classes, %d x %d matrices, mean=%s, distance=%s",
            len(self.classes_), X.shape[1], X.shape[1], metric_mean, metric_dist,
        )
        return self

    def _distances(self, X):
        """Distances to every centroid, shape (n_matrices, n_classes)."""
        check_is_fitted(self, "covmeans_")
        X = _check_matrices(X, self.n_channels_)
        _, metric_dist = _check_metric(self.metric)
        n, d = X.shape[0], X.shape[1]
        n_classes = self.covmeans_.shape[0]
        dist = np.empty((n, n_classes))
        if metric_dist not in FAST_DISTANCES:
            for k, covmean in enumerate(self.covmeans_):
                dist[:, k] = np.reshape(_pyr_distance(X, covmean, metric=metric_dist), (n,))
            return dist
        # bound the temporary stacks to _CHUNK_BYTES
        chunk = max(1, _CHUNK_BYTES // (d * d * X.itemsize))
        for start in range(0, n, chunk):
            Xc = X[start:start + chunk]
            if metric_dist == "riemann":
                V = getattr(self, "joint_basis_", None)  # None: fitted before it existed
                first = 0
                if V is not None and not np.iscomplexobj(Xc):
                    # One congruence for the first two centroids (see joint_basis_).
                    G = V.T @ Xc @ V
                    eigvals = np.linalg.eigvalsh(G)
                    dist[start:start + chunk, 1] = np.sum(np.log(eigvals) ** 2, axis=-1)
                    G *= np.multiply.outer(self.joint_scale_, self.joint_scale_)
                    eigvals = np.linalg.eigvalsh(G)
                    dist[start:start + chunk, 0] = np.sum(np.log(eigvals) ** 2, axis=-1)
                    first = 2
                for k in range(first, n_classes):
                    W = self.covmeans_invsqrt_[k]
                    eigvals = np.linalg.eigvalsh(W @ Xc @ W)
                    dist[start:start + chunk, k] = np.sum(np.log(eigvals) ** 2, axis=-1)
            elif metric_dist == "logeuclid":
                logX = _eig_function(Xc, np.log)
                diff = logX[:, None] - self.covmeans_logm_[None]
                dist[start:start + chunk] = np.sum(np.abs(diff) ** 2, axis=(-2, -1))
            else:  # euclid
                diff = Xc[:, None] - self.covmeans_[None]
                dist[start:start + chunk] = np.sum(np.abs(diff) ** 2, axis=(-2, -1))
        return np.sqrt(dist)

    def transform(self, X):
        """Distance of each matrix to each class centroid.

        Parameters
        ----------
        X : ndarray, shape (n_matrices, n_channels, n_channels)
            SPD/HPD matrices.

        Returns
        -------
        dist : ndarray, shape (n_matrices, n_classes)
            Distances (not squared) under ``metric["distance"]``.
        """
        return self._distances(X)

    def fit_transform(self, X, y, sample_weight=None):
        """Fit, then return the distances of ``X`` to the centroids.

        Parameters
        ----------
        X : ndarray, shape (n_matrices, n_channels, n_channels)
            SPD/HPD matrices.
        y : ndarray, shape (n_matrices,)
            Class labels.
        sample_weight : None | ndarray, shape (n_matrices,), default=None
            Weight of each matrix in its class mean.

        Returns
        -------
        dist : ndarray, shape (n_matrices, n_classes)
            Distances to the centroids.
        """
        return self.fit(X, y, sample_weight=sample_weight).transform(X)

    def predict(self, X):
        """Label of the nearest centroid.

        Parameters
        ----------
        X : ndarray, shape (n_matrices, n_channels, n_channels)
            SPD/HPD matrices.

        Returns
        -------
        y_pred : ndarray, shape (n_matrices,)
            Predicted labels.
        """
        return self.classes_[np.argmin(self._distances(X), axis=1)]

    def predict_proba(self, X):
        """Softmax of the negative squared distances (as pyRiemann).

        Parameters
        ----------
        X : ndarray, shape (n_matrices, n_channels, n_channels)
            SPD/HPD matrices.

        Returns
        -------
        proba : ndarray, shape (n_matrices, n_classes)
            Class probabilities; rows sum to 1.
        """
        return softmax(-self._distances(X) ** 2, axis=1)
