"""Graph features checked against NetworkX, on the connectivity matrices of EEG-shaped
windows (8 channels, 2 s at 160 Hz) with planted coupling.

NetworkX is a test-only dependency (the ``test`` extra); without it these tests are
skipped.
"""

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

from bci_app.decoding.connectivity import coherences, phase_locking_values
from bci_app.decoding.graph import GraphFeatures

nx = pytest.importorskip(
    "networkx", reason="networkx (the reference implementation) is not installed: "
    "pip install -e '.[test]'")

SFREQ, N_TIMES, N_CHANNELS = 160.0, 320, 8
FEATURES = ("strength", "laplacian", "clustering")


def _windows(rng, band, n_windows=5):
    """Band-passed EEG-like windows, volts: channels 0-3 share one source, channels 4-5
    another, channels 6-7 are independent (each channel has its own noise too)."""
    n = 3 * N_TIMES
    sources = rng.standard_normal((n_windows, 2, n))
    mixing = np.zeros((N_CHANNELS, 2))
    mixing[0:4, 0] = [2.0, 1.8, 1.5, 1.2]
    mixing[4:6, 1] = [1.5, 1.0]
    X = np.einsum("cs,nst->nct", mixing, sources) + rng.standard_normal((n_windows,
                                                                         N_CHANNELS, n))
    sos = butter(4, band, btype="bandpass", fs=SFREQ, output="sos")
    return 1e-5 * sosfiltfilt(sos, X, axis=-1)[..., N_TIMES:2 * N_TIMES]


def _graph(matrix):
    """The NetworkX graph of a symmetric connectivity matrix: one node per channel, one
    edge per pair weighted by |matrix[i, j]|, no self-loop."""
    G = nx.Graph()
    G.add_nodes_from(range(len(matrix)))
    G.add_weighted_edges_from((i, j, abs(matrix[i, j])) for i in range(len(matrix))
                              for j in range(i + 1, len(matrix)) if matrix[i, j] != 0)
    return G


def _networkx_features(matrix, normalized=True):
    G = _graph(matrix)
    nodes = range(len(matrix))
    strength = [G.degree(i, weight="weight") for i in nodes]
    spectrum = (nx.normalized_laplacian_spectrum if normalized else nx.laplacian_spectrum)(
        G, weight="weight")
    clustering = nx.clustering(G, weight="weight")
    return np.r_[strength, np.sort(np.real(spectrum)), [clustering[i] for i in nodes]]


def _matrices(seed):
    X = _windows(np.random.default_rng(seed), [8.0, 30.0])
    return {
        "plv": phase_locking_values(_windows(np.random.default_rng(seed), [8.0, 12.0])),
        "coherence": coherences(X, SFREQ, 8.0, 30.0, kind="coherence", nperseg=128),
        "imaginary": coherences(X, SFREQ, 8.0, 30.0, kind="imaginary", nperseg=128),
        # signed weights: correlations, whose absolute value is the edge weight
        "correlation": np.stack([np.corrcoef(w) for w in X]),
    }


@pytest.mark.parametrize("normalized", [True, False], ids=["normalized", "combinatorial"])
@pytest.mark.parametrize("kind", ["plv", "coherence", "imaginary", "correlation"])
def test_graph_features_equal_networkx(kind, normalized):
    M = _matrices(0)[kind]
    ours = GraphFeatures(features=FEATURES, normalized=normalized).fit_transform(M)
    reference = np.stack([_networkx_features(m, normalized) for m in M])
    # Same sums, the same symmetric eigenproblem (LAPACK both) and the same clustering
    # formula in double precision: equal to rounding (1e-12 on values of order 0.01-10).
    np.testing.assert_allclose(ours, reference, rtol=1e-10, atol=1e-12)
    # The planted coupling is in the features: in every window the coupled channels 0-3
    # are stronger nodes, on average, than the independent channels 6-7 (except for the
    # imaginary coherence, blind by design to the zero-lag coupling planted here).
    strength = ours[:, :N_CHANNELS]
    if kind != "imaginary":
        assert np.all(strength[:, :4].mean(axis=1) > strength[:, 6:].mean(axis=1))


def test_graph_features_equal_networkx_on_a_graph_in_two_parts_with_an_isolated_node():
    """Sparse weights: two components and a node without edges (an electrode that does not
    couple), where the normalised Laplacian has a zero row and the clustering zeros."""
    M = _matrices(1)["coherence"][0].copy()
    M[:4, 4:] = M[4:, :4] = 0.0   # channels 0-3 apart from 4-7
    M[7, :7] = M[:7, 7] = 0.0     # channel 7 isolated
    M[np.abs(M) < np.median(np.abs(M))] = 0.0  # drop the weaker half of the edges
    for normalized in (True, False):
        ours = GraphFeatures(features=FEATURES, normalized=normalized).fit_transform(M[None])
        reference = _networkx_features(M, normalized)
        np.testing.assert_allclose(ours[0], reference, rtol=1e-10, atol=1e-12)
        spectrum = ours[0, N_CHANNELS:2 * N_CHANNELS]
        assert nx.number_connected_components(_graph(M)) >= 3
        assert np.sum(spectrum < 1e-10) == nx.number_connected_components(_graph(M))
