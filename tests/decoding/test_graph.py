"""Graph features on graphs with known answers."""

import numpy as np
import pytest
from sklearn.base import clone

from bci_app.decoding.graph import GraphFeatures, clustering, laplacian_spectrum
from bci_app.errors import ConfigError, DataError


def _complete(n, weight=1.0):
    W = np.full((n, n), weight)
    np.fill_diagonal(W, 1.0)  # the diagonal is ignored
    return W


def test_complete_graph_laplacians():
    n = 5
    X = np.stack([_complete(n), _complete(n, 0.3)])
    normalized = GraphFeatures(features="laplacian").fit_transform(X)
    expected = np.r_[0.0, np.full(n - 1, n / (n - 1))]
    np.testing.assert_allclose(normalized, np.stack([expected, expected]), atol=1e-12)
    combinatorial = GraphFeatures(features="laplacian", normalized=False).fit_transform(X)
    np.testing.assert_allclose(combinatorial[0], np.r_[0.0, np.full(n - 1, n)], atol=1e-12)
    np.testing.assert_allclose(combinatorial[1], 0.3 * np.r_[0.0, np.full(n - 1, n)], atol=1e-12)


def test_disconnected_graph_has_two_zero_eigenvalues():
    W = np.zeros((1, 4, 4))
    W[0, 0, 1] = W[0, 1, 0] = 0.5
    W[0, 2, 3] = W[0, 3, 2] = 0.8
    eig = laplacian_spectrum(W, normalized=True)[0]
    np.testing.assert_allclose(eig, [0, 0, 2, 2], atol=1e-12)
    # an isolated node gives a zero eigenvalue, not a NaN
    W[0, 2, 3] = W[0, 3, 2] = 0.0
    eig = laplacian_spectrum(W, normalized=True)[0]
    np.testing.assert_allclose(eig, [0, 0, 0, 2], atol=1e-12)


def test_strength_of_hand_built_matrix():
    M = np.array([[1.0, 0.5, -0.2],
                  [0.5, 1.0, 0.1],
                  [-0.2, 0.1, 1.0]])
    feats = GraphFeatures(features=("strength",)).fit_transform(M[None])
    np.testing.assert_allclose(feats[0], [0.7, 0.6, 0.3])
    signed = GraphFeatures(features="strength", absolute=False).fit_transform(M[None])
    np.testing.assert_allclose(signed[0], [0.3, 0.6, -0.1])
    with pytest.raises(DataError, match="absolute=True"):
        GraphFeatures(features="laplacian", absolute=False).fit_transform(M[None])


def test_clustering():
    K4 = (1.0 - np.eye(4))[None]
    np.testing.assert_allclose(clustering(K4), 1.0)
    # path 0-1-2 plus edge 2-3: no triangle
    W = np.zeros((1, 4, 4))
    for i, j in [(0, 1), (1, 2), (2, 3)]:
        W[0, i, j] = W[0, j, i] = 1.0
    np.testing.assert_allclose(clustering(W), 0.0)
    # triangle 0-1-2 with weights 1, 1, 0.125 and pendant 2-3 (weight 1):
    # node 0: (1 * 1 * 0.125)^(1/3) * 2 / (2 * 1) = 0.5; node 2: 2 * 0.5 / (3 * 2) = 1/6
    W[0, 0, 2] = W[0, 2, 0] = 0.125
    np.testing.assert_allclose(clustering(W)[0], [0.5, 0.5, 1 / 6, 0.0])


def test_feature_order_shapes_and_clone():
    rng = np.random.default_rng(0)
    A = rng.uniform(0, 1, (7, 6, 6))
    X = 0.5 * (A + A.transpose(0, 2, 1))
    est = GraphFeatures(features=("strength", "laplacian", "clustering"))
    F = est.fit_transform(X)
    assert F.shape == (7, 18)
    assert est.n_features_out_ == 18
    np.testing.assert_allclose(F[:, :6], GraphFeatures(features="strength").fit_transform(X))
    assert list(est.get_feature_names_out()[[0, 6, 12]]) == ["strength_0", "laplacian_0",
                                                            "clustering_0"]
    assert np.all(np.diff(F[:, 6:12], axis=1) >= -1e-12)  # sorted spectrum
    cloned = clone(est)
    assert cloned.get_params() == est.get_params()
    assert not hasattr(cloned, "n_channels_")


def test_unknown_feature():
    X = np.ones((1, 3, 3))
    with pytest.raises(ConfigError, match="allowed"):
        GraphFeatures(features=("strength", "betweenness")).fit(X)
    with pytest.raises(ConfigError, match="empty"):
        GraphFeatures(features=()).fit(X)
    with pytest.raises(DataError, match="shape"):
        GraphFeatures().fit(np.ones((3, 3)))
