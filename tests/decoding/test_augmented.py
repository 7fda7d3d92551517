"""Augmented covariances: equality with MOABB's AugmentedDataset + pyriemann's Covariances."""

import numpy as np
import pytest
from moabb.pipelines.features import AugmentedDataset
from pyriemann.estimation import Covariances
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from bci_app.decoding.augmented import AugmentedCovariance, augmented_covariances, delay_embed
from bci_app.decoding.covariance import ESTIMATORS, shrunk_covariances
from bci_app.errors import ConfigError, DataError

ORDER_LAG = [(1, 1), (1, 7), (2, 1), (3, 2), (4, 5), (8, 2), (10, 10), (3, 30)]


def _trials(n=4, n_channels=5, n_times=120, offset=0.0, seed=0):
    """Random trials (n, C, T) with per-channel DC offsets of size ``offset``."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_channels, n_times))
    return X + offset * rng.standard_normal((n, n_channels, 1))


def _reference(X, order, lag, estimator="oas"):
    return Covariances(estimator).transform(AugmentedDataset(order, lag).transform(X))


def assert_same(actual, expected, rtol=1e-10):
    """Equal up to ``rtol`` relative to the largest entry (entries near 0 included)."""
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


# ----------------------------------------------------------------------------------------
# delay_embed
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("order, lag", ORDER_LAG)
def test_delay_embed_equals_augmented_dataset(order, lag):
    X = _trials()
    expected = AugmentedDataset(order, lag).transform(X)
    actual = delay_embed(X, order, lag)
    assert actual.shape == expected.shape
    assert np.array_equal(actual, expected)


def test_delay_embed_shape_blocks_and_dtype():
    X = _trials(n_channels=3, n_times=50).astype(np.float32)
    out = delay_embed(X, 4, 3)
    assert out.shape == (4, 12, 50 - 12)
    assert out.dtype == np.float32
    # Block k holds the channels delayed by k * lag.
    for k in range(4):
        assert np.array_equal(out[:, 3 * k : 3 * (k + 1)], X[:, :, 3 * k : 3 * k + 38])


def test_delay_embed_order_one_is_an_untruncated_copy():
    X = _trials(n_times=10)
    out = delay_embed(X, 1, 50)  # MOABB does not truncate with order=1, whatever the lag
    assert np.array_equal(out, X)
    out[0, 0, 0] = 123.0
    assert X[0, 0, 0] != 123.0


@pytest.mark.parametrize("order, lag, n_times", [(2, 5, 10), (4, 3, 12), (3, 10, 29)])
def test_delay_embed_too_short_raises(order, lag, n_times):
    with pytest.raises(DataError, match="too short"):
        delay_embed(_trials(n_times=n_times), order, lag)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True, None])
def test_delay_embed_rejects_bad_order_and_lag(bad):
    with pytest.raises(ConfigError, match="order"):
        delay_embed(_trials(), bad, 1)
    with pytest.raises(ConfigError, match="lag"):
        delay_embed(_trials(), 2, bad)


def test_delay_embed_rejects_non_3d():
    with pytest.raises(DataError, match="n_trials, n_channels, n_times"):
        delay_embed(np.zeros((4, 100)), 2, 1)


# ----------------------------------------------------------------------------------------
# augmented_covariances
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("order, lag", ORDER_LAG)
def test_augmented_covariances_equal_reference(order, lag, estimator):
    X = _trials(offset=50.0)
    assert_same(augmented_covariances(X, order, lag, estimator), _reference(X, order, lag, estimator))


@pytest.mark.parametrize(
    "n_channels, n_times, order, lag",
    [(22, 500, 8, 2), (64, 320, 8, 1)],  # 22 ch / 250 Hz / 2 s and 64 ch / 160 Hz / 2 s
)
def test_augmented_covariances_equal_reference_at_eeg_sizes(n_channels, n_times, order, lag):
    X = _trials(n=2, n_channels=n_channels, n_times=n_times, offset=10.0) * 1e-5  # volts
    expected = _reference(X, order, lag)
    actual = augmented_covariances(X, order, lag)
    assert_same(actual, expected)
    assert np.array_equal(actual, actual.transpose(0, 2, 1))
    # 512 dimensions from 312 samples: rank-deficient sample covariance, SPD after OAS.
    assert np.linalg.eigvalsh(actual).min() > 0


def test_augmented_covariances_equal_embedding_then_covariance():
    X = _trials(n_channels=3, n_times=80)
    for estimator in ESTIMATORS:
        assert_same(
            augmented_covariances(X, 5, 3, estimator),
            shrunk_covariances(delay_embed(X, 5, 3), estimator),
        )


def test_augmented_covariances_in_chunks_of_trials(monkeypatch):
    from bci_app.decoding import augmented

    X = _trials(n=7, n_channels=3, n_times=60)
    monkeypatch.setattr(augmented, "_CHUNK_ELEMENTS", 2 * (4 * 3) ** 2)  # 2 trials per chunk
    for estimator in ESTIMATORS:
        assert_same(augmented_covariances(X, 4, 2, estimator), _reference(X, 4, 2, estimator))


def test_augmented_covariances_too_short_raises():
    with pytest.raises(DataError, match="order=4 and lag=5"):
        augmented_covariances(_trials(n_times=20), 4, 5)


@pytest.mark.parametrize("bad", ["cov", "OAS", "ledoit", None])
def test_unknown_estimator_lists_allowed(bad):
    with pytest.raises(ConfigError, match="estimator must be one of 'oas', 'lwf', 'scm'"):
        augmented_covariances(_trials(), 2, 1, bad)
    with pytest.raises(ConfigError, match="'oas', 'lwf', 'scm'"):
        AugmentedCovariance(estimator=bad).fit(_trials())


# ----------------------------------------------------------------------------------------
# AugmentedCovariance
# ----------------------------------------------------------------------------------------


def test_transformer_equals_reference_pipeline():
    X = _trials(n=6, n_channels=4, n_times=200)
    est = AugmentedCovariance(order=6, lag=3).fit(X)
    assert (est.order_, est.lag_, est.n_channels_) == (6, 3, 4)
    assert_same(est.transform(X), _reference(X, 6, 3))
    assert_same(AugmentedCovariance(order=3, lag=2, estimator="lwf").fit_transform(X),
                _reference(X, 3, 2, "lwf"))


def test_transformer_sklearn_api():
    est = AugmentedCovariance(order=3, lag="auto", estimator="lwf", max_order=6, max_lag=4)
    params = est.get_params()
    assert params == {"order": 3, "lag": "auto", "estimator": "lwf", "max_order": 6,
                      "max_lag": 4, "order_method": "cao"}
    cloned = clone(est)
    assert cloned.get_params() == params and cloned is not est
    cloned.set_params(order=5, lag=2)
    assert (cloned.order, cloned.lag) == (5, 2)
    assert est.order == 3


def test_transform_before_fit_raises_not_fitted():
    with pytest.raises(NotFittedError):
        AugmentedCovariance().transform(_trials())


@pytest.mark.parametrize("param", ["order", "lag"])
@pytest.mark.parametrize("bad", [0, -2, 2.5, "Auto", None, False])
def test_transformer_rejects_bad_order_and_lag(param, bad):
    with pytest.raises(ConfigError, match=param):
        AugmentedCovariance(**{param: bad}).fit(_trials())


def test_transformer_rejects_unknown_order_method():
    with pytest.raises(ConfigError, match="order_method"):
        AugmentedCovariance(order_method="mdop").fit(_trials())


def test_transformer_checks_channels_and_window_length():
    est = AugmentedCovariance(order=2, lag=1).fit(_trials(n_channels=5))
    with pytest.raises(DataError, match="fitted on 5"):
        est.transform(_trials(n_channels=4))
    with pytest.raises(DataError, match="too short"):
        AugmentedCovariance(order=10, lag=10).fit(_trials(n_times=100))
    with pytest.raises(DataError, match="NaN"):
        AugmentedCovariance().fit(np.full((2, 3, 50), np.nan))
