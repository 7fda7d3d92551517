"""Covariance matrices of windows: a drop-in, vectorised equivalent of pyRiemann's estimator."""

from sklearn.base import BaseEstimator, TransformerMixin

from .augmented import _check_estimator, shrunk_covariances


class ShrunkCovariances(BaseEstimator, TransformerMixin):
    """Covariance matrices of windows, identical to ``pyriemann.estimation.Covariances``.

    pyRiemann calls scikit-learn once per window; this computes every window at once (the
    centring, the sample covariance and the OAS / Ledoit-Wolf shrinkage coefficient, with
    scikit-learn's formulas), which matters in a sweep over thousands of windows.

    Parameters
    ----------
    estimator : {"oas", "lwf", "scm"}
        Oracle Approximating Shrinkage, Ledoit-Wolf, or the sample covariance matrix.
    """

    def __init__(self, estimator="oas"):
        self.estimator = estimator

    def fit(self, X, y=None):
        """Check the parameters; nothing is learned.

        Parameters
        ----------
        X : ndarray, shape (n_windows, n_channels, n_times)
        y : ignored
        """
        _check_estimator(self.estimator)
        return self

    def transform(self, X):
        """Covariance matrices.

        Parameters
        ----------
        X : ndarray, shape (n_windows, n_channels, n_times)

        Returns
        -------
        covs : ndarray, shape (n_windows, n_channels, n_channels)
        """
        return shrunk_covariances(X, self.estimator)
