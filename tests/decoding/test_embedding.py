"""Data-driven embedding parameters, on signals whose answer is known."""

import numpy as np
import pytest
from pyriemann.tangentspace import TangentSpace
from scipy.integrate import solve_ivp
from scipy.signal import lfilter
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline

from bci_app.decoding.augmented import AugmentedCovariance
from bci_app.decoding.embedding import (
    average_mutual_information,
    cao_e1,
    estimate_lag,
    estimate_order,
    false_nearest_neighbours,
)
from bci_app.errors import ConfigError, DataError


def henon_x(n, x0=0.1, y0=0.1, transient=200):
    """x coordinate of the Hénon map (a=1.4, b=0.3); minimal embedding dimension 2."""
    out = np.empty(n + transient)
    x, y = x0, y0
    for i in range(n + transient):
        x, y = 1.0 - 1.4 * x * x + y, 0.3 * x
        out[i] = x
    return out[transient:]


@pytest.fixture(scope="module")
def lorenz_x():
    """x coordinate of the Lorenz system sampled every 0.02 time units (dimension 3)."""
    def rhs(t, s):
        x, y, z = s
        return [10.0 * (y - x), x * (28.0 - z) - y, x * y - 8.0 / 3.0 * z]

    t = np.arange(0.0, 120.0, 0.02)
    sol = solve_ivp(rhs, (0.0, 120.0), [1.0, 1.0, 1.0], t_eval=t, rtol=1e-8, atol=1e-8)
    return sol.y[0, 500:]


def noisy_sines(period, n_trials=8, n_channels=2, n_times=600, noise=0.1, seed=0):
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * np.pi, (n_trials, n_channels, 1))
    t = np.arange(n_times)
    return np.sin(2 * np.pi * t / period + phase) + noise * rng.standard_normal(
        (n_trials, n_channels, n_times))


def mu_rhythm(amplitude, n_times, rng, sfreq=250.0, freq=10.0):
    """Narrow-band 10 Hz activity (resonant AR(2) filter of white noise), one per row."""
    r = 0.96
    a = [1.0, -2.0 * r * np.cos(2 * np.pi * freq / sfreq), r * r]
    noise = rng.standard_normal(amplitude.shape + (n_times + 200,))
    return amplitude[..., None] * lfilter([1.0], a, noise, axis=-1)[..., 200:] * (1 - r)


def two_class_eeg(n_per_class=30, n_channels=4, n_times=250, seed=0):
    """Classes differing in 10 Hz power: left (channel 0 weak) vs right (channel 1 weak)."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n_per_class)
    amplitude = np.ones((len(y), n_channels))
    amplitude[y == 0, 0] = 0.3
    amplitude[y == 1, 1] = 0.3
    X = mu_rhythm(amplitude, n_times, rng) + 0.05 * rng.standard_normal((len(y), n_channels, n_times))
    mixing = np.eye(n_channels) + 0.2 * rng.standard_normal((n_channels, n_channels))
    return np.einsum("ij,njt->nit", mixing, X), y


# ----------------------------------------------------------------------------------------
# Average mutual information and lag
# ----------------------------------------------------------------------------------------


def test_ami_shapes_and_basic_properties():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 400))
    ami = average_mutual_information(x, 5)
    assert ami.shape == (3, 6)
    assert average_mutual_information(x[0], 5).shape == (6,)
    assert np.allclose(average_mutual_information(x[0], 5), ami[0])
    # AMI(0) is the binned entropy (Sturges: 10 bins for 395 pairs); noise is memoryless.
    assert np.all(ami[:, 0] <= np.log(10) + 1e-12)
    assert np.all(ami[:, 1:] < 0.15 * ami[:, :1])
    assert np.all(ami >= -1e-12)


def test_ami_sine_first_minimum_near_quarter_period():
    ami = average_mutual_information(noisy_sines(40)[:, 0], 20).mean(axis=0)
    first_min = next(t for t in range(1, 20) if ami[t] < ami[t - 1] and ami[t] <= ami[t + 1])
    assert abs(first_min - 10) <= 1
    assert ami[20] > ami[10]  # half a period later the signal is fully predictable again


@pytest.mark.parametrize("period", [20, 32, 40])
def test_estimate_lag_sine_is_quarter_period(period):
    assert abs(estimate_lag(noisy_sines(period), max_lag=20) - period / 4) <= 1


def test_estimate_lag_fallback_and_bounds():
    rng = np.random.default_rng(1)
    walk = np.cumsum(rng.standard_normal((10, 1, 400)), axis=-1)  # AMI decays slowly
    assert estimate_lag(walk, max_lag=3) == 3
    lag = estimate_lag(rng.standard_normal((5, 3, 300)), max_lag=6)
    assert 1 <= lag <= 6


def test_ami_parameter_errors():
    with pytest.raises(ConfigError, match="binning"):
        average_mutual_information(np.arange(50.0), 3, binning="kde")
    with pytest.raises(ConfigError, match="n_bins"):
        average_mutual_information(np.arange(50.0), 3, n_bins=1)
    with pytest.raises(DataError, match="too short"):
        average_mutual_information(np.arange(5.0), 4)
    with pytest.raises(ConfigError, match="max_lag"):
        estimate_lag(np.zeros((2, 2, 50)), max_lag=0)


# ----------------------------------------------------------------------------------------
# Cao, false nearest neighbours, order
# ----------------------------------------------------------------------------------------


def test_cao_henon_saturates_at_two():
    stats = cao_e1(henon_x(3000), lag=1, max_order=5)
    assert list(stats.dims) == [1, 2, 3, 4, 5]
    assert stats.E.shape == stats.E_star.shape == (6,)
    assert stats.E1[0] < 0.5
    assert np.all(stats.E1[1:] > 0.9)
    assert np.max(np.abs(stats.E2 - 1.0)) > 0.3  # deterministic: E2 is not ~1 everywhere


def test_cao_white_noise_e2_is_one():
    stats = cao_e1(np.random.default_rng(0).standard_normal(3000), lag=1, max_order=6)
    assert np.all(np.abs(stats.E2 - 1.0) < 0.15)


def test_fnn_henon_vanishes_at_two():
    fractions = false_nearest_neighbours(henon_x(3000), lag=1, max_order=4)
    assert fractions[0] > 0.5
    assert np.all(fractions[1:] < 0.05)


@pytest.mark.parametrize("method", ["cao", "fnn"])
def test_estimate_order_henon_is_two(method):
    X = np.stack([henon_x(800, x0=0.1 + 0.02 * i, y0=0.0) for i in range(5)])[:, None, :]
    assert estimate_order(X, lag=1, max_order=6, method=method) == 2


def test_estimate_order_lorenz(lorenz_x):
    lag = estimate_lag(lorenz_x[None, None], max_lag=20)
    assert 7 <= lag <= 11  # about 0.16-0.2 time units
    stats = cao_e1(lorenz_x, lag, max_order=6)
    assert np.all(stats.E1[:2] < 0.5)  # one or two delays never unfold the attractor
    # Minimal embedding dimension 3; with the 0.9 threshold Cao's E1 (0.86-0.89 at d=3
    # on this series length) may ask for one more dimension.
    assert estimate_order(lorenz_x[None, None], lag, max_order=6) in (3, 4)


def test_estimates_are_deterministic():
    X, _ = two_class_eeg(n_per_class=10, n_channels=3)
    lag = estimate_lag(X)
    assert lag == estimate_lag(X)
    a = cao_e1(X[:, 0], lag, 5)
    b = cao_e1(X[:, 0], lag, 5)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert estimate_order(X, lag, 5) == estimate_order(X, lag, 5)
    assert np.array_equal(false_nearest_neighbours(X[:, 1], lag, 4),
                          false_nearest_neighbours(X[:, 1], lag, 4))


def test_order_parameter_errors():
    X = np.random.default_rng(0).standard_normal((4, 2, 100))
    with pytest.raises(ConfigError, match="'cao', 'fnn'"):
        estimate_order(X, 1, method="mdop")
    with pytest.raises(DataError, match="n_trials, n_channels, n_times"):
        estimate_order(X[0], 1)
    with pytest.raises(DataError, match="too short"):
        estimate_order(X, lag=10, max_order=10)
    with pytest.raises(ConfigError, match="lag"):
        cao_e1(X[0, 0], 0, 3)
    with pytest.raises(ConfigError, match="rtol"):
        false_nearest_neighbours(X[0, 0], 1, 3, rtol=-1)


# ----------------------------------------------------------------------------------------
# AugmentedCovariance with estimated parameters
# ----------------------------------------------------------------------------------------


def test_augmented_covariance_auto_fits_within_bounds():
    X, _ = two_class_eeg(n_per_class=15)
    est = AugmentedCovariance(order="auto", lag="auto", max_order=8, max_lag=10)
    est.fit(X)
    assert 1 <= est.lag_ <= 10 and 1 <= est.order_ <= 8
    assert isinstance(est.order_, int) and isinstance(est.lag_, int)
    covs = est.transform(X[:3])
    assert covs.shape == (3, 4 * est.order_, 4 * est.order_)
    assert np.linalg.eigvalsh(covs).min() > 0
    unfitted = clone(est)
    assert unfitted.get_params() == est.get_params()
    assert not hasattr(unfitted, "order_")
    fnn = AugmentedCovariance(order="auto", lag=est.lag_, max_order=8, order_method="fnn")
    assert 1 <= fnn.fit(X).order_ <= 8


def test_auto_pipeline_beats_chance():
    X, y = two_class_eeg(n_per_class=30)
    pipe = make_pipeline(
        AugmentedCovariance(order="auto", lag="auto", max_order=6, max_lag=8),
        TangentSpace(metric="riemann"),
        LogisticRegression(max_iter=1000),
    )
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    scores = cross_val_score(pipe, X, y, cv=cv)
    assert scores.mean() > 0.8  # chance is 0.5
