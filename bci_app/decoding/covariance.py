"""Covariance functions, vectorised over trials, and the thin estimator around them.

As in pyRiemann, where the functions live in ``geometry/covariance.py`` (formerly
``utils/covariance.py``) and the estimators in ``estimation.py`` only check their
parameters and call them, this module holds the computations:

shrunk_covariances, oas_covariances
    Sample / Ledoit-Wolf / OAS covariances of every trial at once, identical to pyRiemann's
    ``Covariances("scm" | "lwf" | "oas")`` (which calls scikit-learn once per trial).
nearest_spd
    Projection of square matrices on the symmetric positive-definite cone, with a relative
    eigenvalue floor.
ShrunkCovariances
    The scikit-learn transformer over :func:`shrunk_covariances`.

The shrinkage itself (:func:`_shrinkage_terms`) is shared with
:func:`bci_app.decoding.augmented.augmented_covariances`, which computes the same
covariances of delay-embedded trials without building the embedding.
"""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ..errors import DataError
from ._checks import check_trials, check_value, ensure_number

__all__ = [
    "ESTIMATORS",
    "ShrunkCovariances",
    "nearest_spd",
    "oas_covariances",
    "shrunk_covariances",
]

#: Covariance estimators offered, named as in ``pyriemann.estimation.Covariances``.
ESTIMATORS = ("oas", "lwf", "scm")


def _shrinkage_terms(trace, sum_sq, n_features, n_times, estimator, sq_norms=None):
    """Shrinkage as scikit-learn's ``oas`` / ``ledoit_wolf``: ``scale * S + diag_add * I``.

    Parameters
    ----------
    trace : ndarray, shape (n_matrices,)
        Traces of the sample covariances ``S`` (centred, normalised by ``n_times``).
    sum_sq : ndarray, shape (n_matrices,)
        Sums of the squared entries of each ``S`` (squared Frobenius norms).
    n_features : int
        Size ``p`` of each covariance matrix.
    n_times : int
        Number of samples each covariance was estimated from.
    estimator : {"oas", "lwf", "scm"}
        Shrinkage rule.
    sq_norms : ndarray, shape (n_matrices, n_times) | None
        For "lwf" only: squared Euclidean norm of the centred sample vector at each time.

    Returns
    -------
    scale : ndarray, shape (n_matrices,)
        ``1 - shrinkage``.
    diag_add : ndarray, shape (n_matrices,)
        ``shrinkage * trace / p``, added to the diagonal.
    """
    p = n_features
    if estimator == "scm" or p == 1:
        # scikit-learn returns the sample variance for a single feature, whatever the rule.
        return np.ones_like(trace), np.zeros_like(trace)
    mu = trace / p
    if estimator == "oas":
        alpha = sum_sq / p**2
        num = alpha + mu**2
        den = (n_times + 1) * (alpha - mu**2 / p)
        ratio = np.divide(num, den, out=np.ones_like(num), where=den != 0)
        shrinkage = np.minimum(ratio, 1.0)
    else:  # "lwf"
        beta_ = np.einsum("nt,nt->n", sq_norms, sq_norms)
        beta = (beta_ / n_times - sum_sq) / (p * n_times)
        delta = (sum_sq - 2.0 * mu * trace + p * mu**2) / p
        beta = np.minimum(beta, delta)
        ratio = np.divide(beta, delta, out=np.zeros_like(beta), where=delta != 0)
        shrinkage = np.where(beta == 0, 0.0, ratio)
    return 1.0 - shrinkage, shrinkage * mu


def _shrink(S, n_times, estimator, sq_norms=None):
    """Shrink sample covariances ``S`` (n_matrices, p, p) in place (:func:`_shrinkage_terms`)."""
    diag = np.einsum("nii->ni", S)  # writable view on the diagonals
    trace = diag.sum(axis=-1)
    sum_sq = np.einsum("nij,nij->n", S, S)
    scale, diag_add = _shrinkage_terms(trace, sum_sq, S.shape[-1], n_times, estimator, sq_norms)
    S *= scale[:, None, None]
    diag += diag_add[:, None]
    return S


def shrunk_covariances(X, estimator="oas"):
    """Batched covariance matrices, identical to pyriemann's ``Covariances(estimator)``.

    Each trial is centred on its own mean and its sample covariance is normalised by
    ``n_times`` (maximum likelihood, as scikit-learn). ``"oas"`` and ``"lwf"`` then shrink
    it towards ``mu * I`` (``mu`` = mean eigenvalue) with the Oracle Approximating
    Shrinkage or Ledoit-Wolf coefficient, using scikit-learn's formulas (OAS shrinkage
    clipped at 1, Ledoit-Wolf's ``beta`` capped at ``delta``). Vectorised over trials.

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_channels, n_times)
        Trials (any real dtype; computed in float64).
    estimator : {"oas", "lwf", "scm"}
        Covariance estimator: Oracle Approximating Shrinkage, Ledoit-Wolf, or the plain
        sample covariance matrix.

    Returns
    -------
    covs : ndarray, shape (n_trials, n_channels, n_channels)
        Covariance matrices, in the squared unit of ``X``.

    Raises
    ------
    ConfigError
        If ``estimator`` is not one of :data:`ESTIMATORS`.
    DataError
        If ``X`` is not 3-D.
    """
    check_value(estimator, ESTIMATORS, "estimator")
    X = check_trials(X)
    n_times = X.shape[-1]
    Xc = X - X.mean(axis=-1, keepdims=True)
    S = Xc @ Xc.transpose(0, 2, 1)
    S /= n_times
    sq_norms = np.einsum("nct,nct->nt", Xc, Xc) if estimator == "lwf" else None
    return _shrink(S, n_times, estimator, sq_norms)


def oas_covariances(X):
    """Batched OAS covariances, identical to pyriemann's ``Covariances("oas")``.

    Shortcut for ``shrunk_covariances(X, "oas")``.

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_channels, n_times)
        Trials.

    Returns
    -------
    covs : ndarray, shape (n_trials, n_channels, n_channels)
        OAS-shrunk covariance matrices.
    """
    return shrunk_covariances(X, "oas")


def nearest_spd(M, eps=1e-6):
    r"""Nearest symmetric positive-definite matrices, with a relative eigenvalue floor.

    Higham's projection on the positive semi-definite cone (symmetrise, then
    clip the eigenvalues) with a floor that keeps the result well conditioned:
    eigenvalues below ``eps * trace(M_+) / n`` are raised to it, where
    :math:`M_+` is the positive part of the symmetric matrix (its trace equals
    the trace of the matrix when it is already positive semi-definite, and
    stays positive for a zero-diagonal matrix such as an imaginary coherence).
    Matrices whose eigenvalues are all above the floor are returned symmetrised
    but otherwise unchanged.

    Parameters
    ----------
    M : ndarray, shape (..., n, n)
        Real square matrices (symmetric or not).
    eps : float, default=1e-6
        Relative eigenvalue floor, ``>= 0``. A zero matrix becomes
        ``eps * I`` (or stays zero if ``eps == 0``).

    Returns
    -------
    P : ndarray, shape (..., n, n)
        Symmetric matrices with every eigenvalue ``>= floor`` (and > 0 when
        ``eps > 0``).

    Raises
    ------
    ConfigError
        If ``eps`` is not a finite number ``>= 0``.
    DataError
        If ``M`` is not a stack of square matrices.
    """
    M = np.asarray(M, dtype=float)
    if M.ndim < 2 or M.shape[-1] != M.shape[-2]:
        raise DataError(f"nearest_spd expects matrices of shape (..., n, n); got {M.shape}.")
    ensure_number(eps, "nearest_spd parameter eps", ge=0)
    n = M.shape[-1]
    A = 0.5 * (M + np.swapaxes(M, -1, -2))
    w, V = np.linalg.eigh(A)
    floor = eps * np.sum(np.clip(w, 0.0, None), axis=-1) / n
    # an all-zero (or negative semi-definite) matrix: fall back to an absolute floor
    floor = np.where(floor > 0, floor, eps)
    low = w < floor[..., None]
    if not np.any(low):
        return A
    w = np.maximum(w, floor[..., None])
    P = (V * w[..., None, :]) @ np.swapaxes(V, -1, -2)
    P = 0.5 * (P + np.swapaxes(P, -1, -2))
    # keep the matrices that needed no correction bit-identical to their symmetric part
    keep = ~np.any(low, axis=-1)
    P[keep] = A[keep]
    return P


class ShrunkCovariances(BaseEstimator, TransformerMixin):
    """Covariance matrices of trials, identical to ``pyriemann.estimation.Covariances``.

    pyRiemann calls scikit-learn once per trial; this computes every trial at once (the
    centring, the sample covariance and the OAS / Ledoit-Wolf shrinkage coefficient, with
    scikit-learn's formulas, see :func:`shrunk_covariances`), which matters in a sweep over
    thousands of windows.

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
        X : ndarray, shape (n_trials, n_channels, n_times)
        y : ignored
        """
        check_value(self.estimator, ESTIMATORS, "estimator")
        return self

    def transform(self, X):
        """Covariance matrices.

        Parameters
        ----------
        X : ndarray, shape (n_trials, n_channels, n_times)

        Returns
        -------
        covs : ndarray, shape (n_trials, n_channels, n_channels)
        """
        return shrunk_covariances(X, self.estimator)
