"""Graph features of connectivity matrices.

Each connectivity matrix (coherence, PLV, ...) is read as the weighted
adjacency matrix of a graph whose nodes are the channels, and reduced to a
feature vector: node strength (the HappyFeat feature), the spectrum of the
graph Laplacian (Laplacian eigenmaps), and the weighted clustering
coefficient. All windows are processed together.
"""

import logging

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import NotFittedError

from ..errors import DataError
from ._checks import check_choices, check_matrices, check_n_channels

__all__ = ["FEATURES", "GraphFeatures", "clustering", "laplacian_spectrum", "node_strength"]

logger = logging.getLogger(__name__)

#: Features :class:`GraphFeatures` can compute, each giving one value per channel.
FEATURES = ("strength", "laplacian", "clustering")


def _adjacency(M, absolute=True):
    """Weighted adjacency matrices: optionally |M|, with a zero diagonal.

    Parameters
    ----------
    M : ndarray, shape (n_matrices, n_channels, n_channels)
        Connectivity matrices.
    absolute : bool
        Take the absolute value of the weights.

    Returns
    -------
    W : ndarray, shape (n_matrices, n_channels, n_channels)
        Symmetric adjacency matrices (the symmetric part of ``M``).
    """
    W = np.abs(M) if absolute else np.array(M, dtype=float)
    W = 0.5 * (W + np.swapaxes(W, -1, -2))
    idx = np.arange(W.shape[-1])
    W[:, idx, idx] = 0.0
    return W


def _check_nonnegative(W, what):
    if np.any(W < 0):
        raise DataError(
            f"GraphFeatures: {what} needs non-negative edge weights; the connectivity "
            "matrices have negative off-diagonal values: set absolute=True."
        )


def node_strength(W):
    """Node strength: the sum of the edge weights of each node.

    Parameters
    ----------
    W : ndarray, shape (n_matrices, n_channels, n_channels)
        Adjacency matrices with a zero diagonal.

    Returns
    -------
    strength : ndarray, shape (n_matrices, n_channels)
        Sum of each row (unit of the weights).
    """
    return W.sum(axis=-1)


def laplacian_spectrum(W, normalized=True):
    r"""Eigenvalues of the graph Laplacian, sorted in ascending order.

    :math:`L = D - W`, or :math:`D^{-1/2} (D - W) D^{-1/2}` when normalised
    (isolated nodes, of zero degree, give a zero row and column), with
    :math:`D` the diagonal matrix of node strengths.

    Parameters
    ----------
    W : ndarray, shape (n_matrices, n_channels, n_channels)
        Non-negative symmetric adjacency matrices with a zero diagonal.
    normalized : bool, default=True
        Use the symmetric normalised Laplacian (eigenvalues in [0, 2]).

    Returns
    -------
    eigenvalues : ndarray, shape (n_matrices, n_channels)
        Ascending eigenvalues; as many zeros as connected components.
    """
    degree = W.sum(axis=-1)
    L = -W
    idx = np.arange(W.shape[-1])
    L[:, idx, idx] = degree
    if normalized:
        inv_sqrt = np.zeros_like(degree)
        np.divide(1.0, np.sqrt(degree), out=inv_sqrt, where=degree > 0)
        L = inv_sqrt[:, :, None] * L * inv_sqrt[:, None, :]
    return np.linalg.eigvalsh(L)


def clustering(W):
    r"""Weighted clustering coefficient of each node (Onnela et al., 2005).

    :math:`c_i = \frac{1}{k_i (k_i - 1)} \sum_{j,k} (\hat w_{ij} \hat w_{jk} \hat w_{ki})^{1/3}`
    with :math:`\hat w = w / \max(w)` (per matrix) and :math:`k_i` the number of
    edges (non-zero weights) of node :math:`i`; 0 when :math:`k_i < 2`. This is
    the weighted clustering of NetworkX.

    Parameters
    ----------
    W : ndarray, shape (n_matrices, n_channels, n_channels)
        Non-negative symmetric adjacency matrices with a zero diagonal.

    Returns
    -------
    coefficients : ndarray, shape (n_matrices, n_channels)
        Values in [0, 1].
    """
    w_max = W.max(axis=(-2, -1), keepdims=True)
    W_hat = np.divide(W, w_max, out=np.zeros_like(W), where=w_max > 0)
    R = np.cbrt(W_hat)
    triangles = np.einsum("nij,njk,nki->ni", R, R, R)
    k = np.count_nonzero(W, axis=-1)
    pairs = k * (k - 1.0)
    return np.divide(triangles, pairs, out=np.zeros_like(triangles), where=pairs > 0)


class GraphFeatures(TransformerMixin, BaseEstimator):
    """Graph features of connectivity matrices, one value per channel and feature.

    Parameters
    ----------
    features : str | tuple of str, default=("strength", "laplacian")
        Features to concatenate, in this order, among :data:`FEATURES`:
        ``"strength"`` (sum of the weights of each node), ``"laplacian"``
        (sorted eigenvalues of the graph Laplacian), ``"clustering"`` (weighted
        clustering coefficient of each node).
    absolute : bool, default=True
        Use the absolute value of the connectivity as edge weights (needed
        for signed measures such as the imaginary part of coherency).
    normalized : bool, default=True
        Use the normalised Laplacian (eigenvalues in [0, 2], insensitive to
        the overall scale of the weights).

    Attributes
    ----------
    n_channels_ : int
        Number of channels (graph nodes) seen at fit.
    n_features_out_ : int
        Length of each feature vector, ``len(features) * n_channels_``.

    Notes
    -----
    The diagonal of the matrices (self-connections) is ignored.
    """

    def __init__(self, features=("strength", "laplacian"), absolute=True, normalized=True):
        self.features = features
        self.absolute = absolute
        self.normalized = normalized

    def _features(self):
        return check_choices(self.features, FEATURES, "GraphFeatures parameter features")

    @staticmethod
    def _check_X(X):
        return check_matrices(X, "GraphFeatures: X")

    def fit(self, X, y=None):
        """Validate the parameters and record the number of channels.

        Parameters
        ----------
        X : ndarray, shape (n_matrices, n_channels, n_channels)
            Connectivity matrices.
        y : None
            Ignored.

        Returns
        -------
        self : GraphFeatures
            This transformer.
        """
        features = self._features()
        X = self._check_X(X)
        self.n_channels_ = X.shape[1]
        self.n_features_out_ = len(features) * self.n_channels_
        logger.debug("GraphFeatures fitted: %s on %d channels", features, self.n_channels_)
        return self

    def transform(self, X):
        """Compute the feature vectors.

        Parameters
        ----------
        X : ndarray, shape (n_matrices, n_channels, n_channels)
            Connectivity matrices.

        Returns
        -------
        features : ndarray, shape (n_matrices, len(features) * n_channels)
            Concatenated features, in the order of ``features``.
        """
        features = self._features()
        X = self._check_X(X)
        check_n_channels(X.shape[1], getattr(self, "n_channels_", None), "GraphFeatures")
        W = _adjacency(X, absolute=self.absolute)
        blocks = []
        for name in features:
            if name == "strength":
                blocks.append(node_strength(W))
            elif name == "laplacian":
                _check_nonnegative(W, "the Laplacian")
                blocks.append(laplacian_spectrum(W, normalized=self.normalized))
            else:
                _check_nonnegative(W, "the clustering coefficient")
                blocks.append(clustering(W))
        return np.concatenate(blocks, axis=1)

    def get_feature_names_out(self, input_features=None):
        """Names of the output features.

        Parameters
        ----------
        input_features : None
            Ignored (the inputs are matrices).

        Returns
        -------
        names : ndarray of str, shape (n_features_out_,)
            ``"strength_<channel>"``, ``"laplacian_<rank>"``, ``"clustering_<channel>"``.
        """
        n_channels = getattr(self, "n_channels_", None)
        if n_channels is None:
            raise NotFittedError("GraphFeatures: call fit before get_feature_names_out.")
        return np.array([f"{name}_{i}" for name in self._features() for i in range(n_channels)],
                        dtype=object)

    def __sklearn_is_fitted__(self):
        """Stateless: usable without fit."""
        return True
