"""Covariance functions and ShrunkCovariances: equality with pyRiemann's Covariances."""

import numpy as np
import pytest
from pyriemann.estimation import Covariances
from sklearn.base import clone

import bci_app.decoding as decoding
from bci_app.decoding import covariance
from bci_app.decoding.covariance import (
    ESTIMATORS,
    ShrunkCovariances,
    nearest_spd,
    oas_covariances,
    shrunk_covariances,
)
from bci_app.errors import ConfigError, DataError


def _trials(n=4, n_channels=5, n_times=120, offset=0.0, seed=0):
    """Random trials (n, C, T) with per-channel DC offsets of size ``offset``."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_channels, n_times))
    return X + offset * rng.standard_normal((n, n_channels, 1))


def assert_same(actual, expected, rtol=1e-10):
    """Equal up to ``rtol`` relative to the largest entry (entries near 0 included)."""
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


def test_package_exports_the_covariance_functions():
    for name in ("ShrunkCovariances", "nearest_spd", "oas_covariances"):
        assert getattr(decoding, name) is getattr(covariance, name)


# ----------------------------------------------------------------------------------------
# shrunk_covariances
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize(
    "shape, offset",
    [((5, 6, 200), 0.0), ((4, 30, 20), 0.0), ((3, 1, 50), 0.0), ((4, 8, 100), 1e3)],
)
def test_shrunk_covariances_equal_pyriemann(estimator, shape, offset):
    X = _trials(*shape, offset=offset)
    assert_same(shrunk_covariances(X, estimator), Covariances(estimator).transform(X))


def test_oas_covariances_is_oas():
    X = _trials(n_channels=12, n_times=40)
    assert_same(oas_covariances(X), Covariances("oas").transform(X))


def test_integer_and_float32_trials_are_computed_in_float64():
    X = _trials(n_channels=3, n_times=50)
    as_int = np.round(X * 100).astype(np.int32)
    assert np.array_equal(shrunk_covariances(as_int), shrunk_covariances(as_int.astype(float)))
    as_f32 = X.astype(np.float32)
    out = shrunk_covariances(as_f32)
    assert out.dtype == np.float64
    assert np.array_equal(out, shrunk_covariances(as_f32.astype(np.float64)))


@pytest.mark.parametrize("bad", ["cov", "OAS", "ledoit", None, ["oas"]])
def test_unknown_estimator_lists_allowed(bad):
    with pytest.raises(ConfigError, match="estimator must be one of 'oas', 'lwf', 'scm'"):
        shrunk_covariances(_trials(), bad)
    with pytest.raises(ConfigError, match="'oas', 'lwf', 'scm'"):
        ShrunkCovariances(bad).fit(_trials())


def test_bad_trials_are_refused_with_the_expected_shape():
    with pytest.raises(DataError, match=r"\(n_trials, n_channels, n_times\).*X\[np.newaxis\]"):
        shrunk_covariances(np.zeros((4, 100)))
    with pytest.raises(DataError, match="real numbers"):
        shrunk_covariances(np.zeros((2, 3, 10), dtype=complex))
    with pytest.raises(DataError, match="empty"):
        shrunk_covariances(np.zeros((0, 3, 10)))


# ----------------------------------------------------------------------------------------
# ShrunkCovariances
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_shrunk_covariances_estimator_equals_pyriemann(estimator):
    X = np.random.default_rng(1).standard_normal((6, 8, 200)) * 1e-5
    ours = ShrunkCovariances(estimator).fit(X).transform(X)
    ref = Covariances(estimator).fit_transform(X)
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-24)
    assert clone(ShrunkCovariances("lwf")).get_params() == {"estimator": "lwf"}


# ----------------------------------------------------------------------------------------
# nearest_spd
# ----------------------------------------------------------------------------------------


def test_nearest_spd():
    rng = np.random.default_rng(4)
    A = rng.standard_normal((3, 6, 6))
    P = nearest_spd(A, 1e-3)
    w = np.linalg.eigvalsh(P)
    assert np.all(w > 0)
    # the floor is relative to the trace of the positive part
    w_sym = np.linalg.eigvalsh(0.5 * (A + np.swapaxes(A, -1, -2)))
    floor = 1e-3 * np.clip(w_sym, 0, None).sum(axis=-1) / 6
    np.testing.assert_allclose(w.min(axis=-1), floor, rtol=1e-8)
    # already well-conditioned SPD matrices are left unchanged
    B = A @ np.swapaxes(A, -1, -2) + np.eye(6)
    np.testing.assert_allclose(nearest_spd(B), B, rtol=1e-12)
    # a zero-diagonal (imaginary-coherence-like) matrix and a zero matrix
    Z = np.abs(0.5 * (A + np.swapaxes(A, -1, -2)))
    Z[:, np.arange(6), np.arange(6)] = 0
    assert np.all(np.linalg.eigvalsh(nearest_spd(Z)) > 0)
    np.testing.assert_allclose(nearest_spd(np.zeros((1, 3, 3)), 1e-6), 1e-6 * np.eye(3)[None])


def test_nearest_spd_errors():
    with pytest.raises(DataError, match=r"\(\.\.\., n, n\)"):
        nearest_spd(np.zeros((2, 3, 4)))
    for bad in (-1e-3, np.inf, None, "1e-6"):
        with pytest.raises(ConfigError, match="eps must be a number >= 0"):
            nearest_spd(np.eye(3), bad)
