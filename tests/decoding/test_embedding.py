"""Data-driven embedding parameters, on signals whose answer is known."""

import numpy as np
import pytest
from pyriemann.tangentspace import TangentSpace
from scipy.signal import lfilter
from sklearn.base import clone
from sklearn.feature_selection import mutual_info_regression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline

from bci_app.decoding import _mutual_information, embedding
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


#: Sampling step of the Lorenz test series (time units).
LORENZ_DT = 0.02
#: Known answer: the auto mutual information I(x_t; x_{t+T}) of the Lorenz x coordinate
#: (sigma=10, rho=28, beta=8/3) has its first minimum at T = 0.160 time units, i.e.
#: 8 samples at dt=0.02. Reference, independent of the estimator under test: 48
#: trajectories of 1000 time units (fixed-step RK4, dt=0.005, random initial conditions,
#: 50 time units of transient); the first minimum, refined by a parabola through the
#: three lowest lags, is at 0.1600 time units with the Kraskov (KSG, k=4) estimator
#: (sklearn's mutual_info_regression on 20000 pairs, mean of 16 trajectories; 0.160-0.165
#: on each), and at 0.1611 / 0.1597 / 0.1595 with 64 / 128 / 256 equal-width bins on the
#: 9.6 million pooled pairs. (Coarse partitions move it later: 0.184 with 16 bins.)
#: test_lorenz_reference_minimum_is_8_samples re-checks it on the test trajectories.
LORENZ_LAG = 8


def lorenz_x(initial, n_samples=5500, dt=LORENZ_DT, substeps=4, transient=500):
    """x coordinate of the Lorenz system (sigma=10, rho=28, beta=8/3), one row per start.

    Classical fixed-step RK4 (step ``dt / substeps``) written with numpy arithmetic
    only, so the samples do not change with the scipy version (``solve_ivp``'s adaptive
    steps do, and a chaotic trajectory amplifies any change); the first ``transient``
    samples are dropped.
    """
    h = dt / substeps

    def rhs(s):
        x, y, z = s[..., 0], s[..., 1], s[..., 2]
        return np.stack([10.0 * (y - x), x * (28.0 - z) - y, x * y - 8.0 / 3.0 * z], axis=-1)

    s = np.array(initial, dtype=np.float64)
    out = np.empty(s.shape[:-1] + (transient + n_samples,))
    for i in range(transient + n_samples):
        for _ in range(substeps):
            k1 = rhs(s)
            k2 = rhs(s + 0.5 * h * k1)
            k3 = rhs(s + 0.5 * h * k2)
            k4 = rhs(s + h * k3)
            s = s + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        out[..., i] = s[..., 0]
    return out[..., transient:]


@pytest.fixture(scope="module")
def lorenz_trajectories():
    """Nine independent 5500-sample series (110 time units, dt=0.02): the first one starts
    from (1, 1, 1), the others from random points of the box around the attractor."""
    starts = np.random.default_rng(0).uniform([-15, -20, 5], [15, 20, 40], (8, 3))
    return lorenz_x(np.vstack([[1.0, 1.0, 1.0], starts]))


@pytest.fixture(scope="module")
def lorenz_x1(lorenz_trajectories):
    return lorenz_trajectories[0]


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
    # AMI(0) is the binned entropy (Rice: 15 bins for 395 pairs); noise is memoryless.
    assert np.all(ami[:, 0] <= np.log(15) + 1e-12)
    assert np.all(ami[:, 1:] < 0.15 * ami[:, :1])
    assert np.all(ami >= -1e-12)


def test_ami_default_bins_follow_rices_rule(monkeypatch):
    x = np.random.default_rng(2).standard_normal((4, 500))
    ami = average_mutual_information(x, 10)
    # ceil(2 * 490 ** (1/3)) = 16 bins for 500-sample windows and lags up to 10.
    assert np.array_equal(ami, average_mutual_information(x, 10, n_bins=16))
    assert not np.allclose(ami, average_mutual_information(x, 10, n_bins=10))
    quantile = average_mutual_information(x, 10, binning="quantile")
    # Processing the signals in chunks (bounded memory) changes nothing.
    monkeypatch.setattr(_mutual_information, "_AMI_CHUNK", 600)
    assert np.array_equal(average_mutual_information(x, 10), ami)
    assert np.array_equal(average_mutual_information(x, 10, binning="quantile"), quantile)


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


def test_first_minimum_ignores_a_rise_within_the_noise():
    # A shallow first dip (lag 2, then +0.001) before the deep minimum (lag 4), with a
    # per-trial spread of 0.02 per lag (standard error of a difference ~0.009 on 10 trials).
    curve = np.array([2.0, 0.5, 0.300, 0.301, 0.20, 0.35, 0.5])
    noise = np.random.default_rng(0).normal(0.0, 0.02, (10, curve.size))
    trials = curve + noise - noise.mean(axis=0)
    assert embedding._first_minimum(curve, trials, noise_z=2.0) == 4
    assert embedding._first_minimum(curve, trials, noise_z=0.0) == 2  # plain first minimum
    assert embedding._first_minimum(curve, trials[:4], noise_z=2.0) == 2  # too few trials
    # A rise that never clears the noise: no minimum (estimate_lag then falls back).
    flat = np.array([2.0, 0.5, 0.30, 0.301, 0.299, 0.3005])
    assert embedding._first_minimum(flat, flat + noise[:, :6], noise_z=2.0) is None


def test_ami_parameter_errors():
    with pytest.raises(ConfigError, match="binning"):
        average_mutual_information(np.arange(50.0), 3, binning="kde")
    with pytest.raises(ConfigError, match="n_bins"):
        average_mutual_information(np.arange(50.0), 3, n_bins=1)
    with pytest.raises(DataError, match="too short"):
        average_mutual_information(np.arange(5.0), 4)
    with pytest.raises(ConfigError, match="max_lag"):
        estimate_lag(np.zeros((2, 2, 50)), max_lag=0)
    with pytest.raises(ConfigError, match="noise_z"):
        estimate_lag(np.zeros((2, 2, 50)), noise_z=-1.0)


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


def test_lorenz_reference_minimum_is_8_samples(lorenz_trajectories):
    """The known answer, re-checked on the test series with an independent estimator."""
    rng = np.random.default_rng(0)
    lags = np.arange(LORENZ_LAG - 2, LORENZ_LAG + 3)
    ksg = []
    for tau in lags:  # Kraskov k-NN estimate on 20000 pairs pooled over the trajectories
        pairs = rng.choice(lorenz_trajectories[:, :-tau].size, 20000, replace=False)
        x_t = lorenz_trajectories[:, :-tau].ravel()[pairs]
        x_tau = lorenz_trajectories[:, tau:].ravel()[pairs]
        ksg.append(mutual_info_regression(x_t[:, None], x_tau, n_neighbors=4,
                                          random_state=0)[0])
    assert lags[np.argmin(ksg)] == LORENZ_LAG


def test_estimate_lag_lorenz_is_the_known_answer(lorenz_trajectories):
    """Each of nine independent 5500-sample series gives the known answer within 1 sample.

    With Sturges' 14 bins and the plain first local minimum (the former estimator) these
    nine series gave 10, 12, 9, 10, 10, 10, 9, 10 and 10, and 300 such series spread over
    8-14 (only 56 % within 7-9): the 14-bin curve is flat around 0.18-0.2 time units.
    """
    lags = [estimate_lag(x[None, None], max_lag=20) for x in lorenz_trajectories]
    assert all(abs(lag - LORENZ_LAG) <= 1 for lag in lags), lags
    assert max(lags) - min(lags) <= 1, lags
    # The nine series as nine trials: the noise-aware rule (per-trial spread) agrees.
    assert abs(estimate_lag(lorenz_trajectories[:, None], max_lag=20) - LORENZ_LAG) <= 1


def test_estimate_order_lorenz(lorenz_x1):
    lag = estimate_lag(lorenz_x1[None, None], max_lag=20)
    assert abs(lag - LORENZ_LAG) <= 1
    stats = cao_e1(lorenz_x1, lag, max_order=6)
    assert np.all(stats.E1[:2] < 0.5)  # one or two delays never unfold the attractor
    # Minimal embedding dimension 3 (E1(3) is about 1.0 at lag 8 on this series); at
    # other lags Cao's E1 at d=3 can stay just below the 0.9 threshold and ask for 4.
    assert estimate_order(lorenz_x1[None, None], lag, max_order=6) in (3, 4)


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
