"""FUCONE-style stacking of functional-connectivity classifiers.

For each connectivity estimator (Ledoit-Wolf covariance, instantaneous and
imaginary coherence, ...), a pipeline ``Connectivity -> TangentSpace ->
elastic-net logistic regression``; their class probabilities are stacked by a
final elastic-net logistic regression trained on out-of-fold predictions
(Corsi et al., "Functional connectivity ensemble method to enhance BCI
performance (FUCONE)", IEEE TBME 2022).
"""

import logging

import numpy as np
import sklearn
from pyriemann.tangentspace import TangentSpace
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import StackingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.utils.fixes import parse_version
from sklearn.utils.validation import check_is_fitted

from ..errors import ConfigError, DataError
from ._checks import check_choices, check_trials, check_vector, ensure_int, ensure_number
from .channels import HOW_TO_GIVE_INFO, agreed_sfreq, unpack_epochs
from .connectivity import METHODS, SPECTRAL_METHODS, Connectivity

__all__ = ["FuconeClassifier", "elastic_net_logistic_regression"]

logger = logging.getLogger(__name__)

# scikit-learn 1.8 deprecated ``penalty``: the penalty follows from l1_ratio (and C).
_PENALTY_DEPRECATED = parse_version(sklearn.__version__).release[:2] >= (1, 8)
_MAX_ITER = 5000


def elastic_net_logistic_regression(l1_ratio=0.15, C=1.0, random_state=None):
    """Elastic-net logistic regression with the SAGA solver.

    Uses ``l1_ratio`` alone on scikit-learn >= 1.8 (where ``penalty`` is
    deprecated) and ``penalty="elasticnet"`` before.

    Parameters
    ----------
    l1_ratio : float, default=0.15
        Mix of the L1 (1.0) and L2 (0.0) penalties, in [0, 1].
    C : float, default=1.0
        Inverse of the regularisation strength, > 0.
    random_state : int | None, default=None
        Seed of the SAGA solver's sample order.

    Returns
    -------
    clf : sklearn.linear_model.LogisticRegression
        The unfitted classifier.
    """
    kwargs = dict(C=C, l1_ratio=l1_ratio, solver="saga", max_iter=_MAX_ITER,
                  random_state=random_state)
    if not _PENALTY_DEPRECATED:
        kwargs["penalty"] = "elasticnet"
    return LogisticRegression(**kwargs)


class FuconeClassifier(ClassifierMixin, BaseEstimator):
    """Stacking of tangent-space classifiers of several connectivity estimators.

    Parameters
    ----------
    estimators : str | tuple of str, default=("cov", "instantaneous", "imaginary")
        Connectivity methods of :class:`~bci_app.decoding.connectivity.Connectivity`
        to stack, among ``"cov"``, ``"coherence"``, ``"instantaneous"``,
        ``"lagged"``, ``"imaginary"``, ``"plv"``.
    fmin, fmax : float, default=8.0, 35.0
        Band (Hz) over which the coherences are averaged.
    sfreq : float | None, default=None
        Sampling frequency (Hz) of the signals; required by the coherences. Taken from
        ``mne.Epochs`` input when None, else bound from the recording by
        :func:`~bci_app.decoding.channels.bind_recording_info`.
    l1_ratio : float, default=0.15
        Elastic-net mix of every logistic regression, in [0, 1].
    C : float, default=1.0
        Inverse regularisation strength of every logistic regression, > 0.
    cv : int, default=5
        Number of stratified folds (not shuffled, so that overlapping windows
        in time order stay mostly in the same fold) giving the out-of-fold
        probabilities the final regression is trained on.
    random_state : int | None, default=42
        Seed of the SAGA solvers.

    Attributes
    ----------
    classes_ : ndarray, shape (n_classes,)
        Class labels.
    stacking_ : sklearn.ensemble.StackingClassifier
        The fitted stacking model.
    sfreq_ : float | None
        Sampling frequency used at fit (from the Epochs or ``sfreq``).
    """

    def __init__(self, estimators=("cov", "instantaneous", "imaginary"), fmin=8.0, fmax=35.0,
                 sfreq=None, l1_ratio=0.15, C=1.0, cv=5, random_state=42):
        self.estimators = estimators
        self.fmin = fmin
        self.fmax = fmax
        self.sfreq = sfreq
        self.l1_ratio = l1_ratio
        self.C = C
        self.cv = cv
        self.random_state = random_state

    def _check_params(self, sfreq):
        methods = check_choices(self.estimators, METHODS, "FuconeClassifier parameter estimators")
        if sfreq is None and any(m in SPECTRAL_METHODS for m in methods):
            raise ConfigError(
                "FuconeClassifier: set sfreq (Hz), the sampling frequency of the signals; "
                f"it is required by the coherence estimators in {list(methods)} and plain "
                f"arrays carry none: {HOW_TO_GIVE_INFO}."
            )
        ensure_number(self.l1_ratio, "FuconeClassifier parameter l1_ratio", ge=0, le=1)
        ensure_number(self.C, "FuconeClassifier parameter C", gt=0)
        ensure_int(self.cv, "FuconeClassifier parameter cv", minimum=2)
        return methods

    def _build(self, methods, sfreq):
        """The unfitted stacking model."""
        base = [
            (method, Pipeline([
                ("connectivity", Connectivity(method=method, fmin=self.fmin, fmax=self.fmax,
                                              sfreq=sfreq)),
                ("tangentspace", TangentSpace(metric="riemann")),
                ("lr", elastic_net_logistic_regression(self.l1_ratio, self.C, self.random_state)),
            ]))
            for method in methods
        ]
        return StackingClassifier(
            estimators=base,
            final_estimator=elastic_net_logistic_regression(self.l1_ratio, self.C,
                                                            self.random_state),
            cv=StratifiedKFold(n_splits=self.cv),
            stack_method="predict_proba",
        )

    def fit(self, X, y):
        """Fit the base pipelines and the stacking regression.

        Parameters
        ----------
        X : ndarray, shape (n_trials, n_channels, n_times) | mne.Epochs
            Signals (band-pass filtered for ``"plv"``).
        y : ndarray, shape (n_trials,)
            Class labels.

        Returns
        -------
        self : FuconeClassifier
            The fitted classifier.
        """
        X, found, _ = unpack_epochs(X, "FuconeClassifier")
        sfreq = agreed_sfreq("FuconeClassifier", self.sfreq, found)
        methods = self._check_params(sfreq)
        X = check_trials(X, "FuconeClassifier: X")
        y = check_vector(y, X.shape[0], "FuconeClassifier.fit: y")
        _, counts = np.unique(y, return_counts=True)
        if counts.min() < self.cv:
            raise DataError(
                f"FuconeClassifier.fit: every class needs at least cv={self.cv} trials for the "
                f"stacking folds; the smallest class has {counts.min()}."
            )
        self.stacking_ = self._build(methods, sfreq).fit(X, y)
        self.sfreq_ = sfreq
        self.classes_ = self.stacking_.classes_
        logger.debug("FuconeClassifier fitted: %s, %d trials, classes %s",
                     methods, X.shape[0], self.classes_)
        return self

    def predict(self, X):
        """Predicted labels.

        Parameters
        ----------
        X : ndarray, shape (n_trials, n_channels, n_times) | mne.Epochs
            Signals.

        Returns
        -------
        y_pred : ndarray, shape (n_trials,)
            Predicted labels.
        """
        check_is_fitted(self, "stacking_")
        return self.stacking_.predict(self._signals(X))

    def predict_proba(self, X):
        """Class probabilities of the stacking regression.

        Parameters
        ----------
        X : ndarray, shape (n_trials, n_channels, n_times) | mne.Epochs
            Signals.

        Returns
        -------
        proba : ndarray, shape (n_trials, n_classes)
            Probabilities in the order of ``classes_``; rows sum to 1.
        """
        check_is_fitted(self, "stacking_")
        return self.stacking_.predict_proba(self._signals(X))

    def _signals(self, X):
        """The trials of ``X`` as an array, Epochs checked against the rate seen at fit."""
        X, found, _ = unpack_epochs(X, "FuconeClassifier")
        fitted = getattr(self, "sfreq_", self.sfreq)  # models saved before sfreq_
        if found is not None and fitted is not None and abs(found - fitted) > 1e-6 * fitted:
            raise DataError(f"FuconeClassifier was fitted at {fitted:g} Hz but the data are "
                            f"sampled at {found:g} Hz; resample them or fit again.")
        return np.asarray(X)
