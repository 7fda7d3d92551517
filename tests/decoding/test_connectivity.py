"""Connectivity estimators: equality with pyRiemann, SPD outputs, PLV sanity checks."""

import warnings

import numpy as np
import pytest
from pyriemann.estimation import Coherences, Covariances
from scipy.signal import butter, sosfiltfilt
from sklearn.base import clone

from bci_app.decoding.connectivity import (
    METHODS,
    Connectivity,
    coherences,
    cross_spectra,
    phase_locking_values,
)
from bci_app.decoding.covariance import nearest_spd
from bci_app.errors import ConfigError, DataError


def _coupled_noise(rng, n_windows, n_channels, n_times, lag=3, gain=0.6):
    """White noise where channel 1 partly copies channel 0 with a lag (samples)."""
    X = rng.standard_normal((n_windows, n_channels, n_times))
    X[:, 1] += gain * np.roll(X[:, 0], lag, axis=-1)
    return X


def _eeg_like(rng, n_windows, n_channels, n_times, sfreq):
    """Band-limited, spatially mixed, volt-scaled signals (like band-passed EEG)."""
    sources = rng.standard_normal((n_windows, n_channels, n_times))
    sos = butter(4, [8.0, 30.0], btype="bandpass", fs=sfreq, output="sos")
    sources = sosfiltfilt(sos, sources, axis=-1)
    mixing = np.eye(n_channels) + 0.3 * rng.standard_normal((n_channels, n_channels))
    return 1e-5 * np.einsum("ij,njt->nit", mixing, sources)


@pytest.mark.parametrize("kind, pyr_kind", [
    ("coherence", "ordinary"),
    ("instantaneous", "instantaneous"),
    ("imaginary", "imaginary"),
    ("lagged", "lagged"),
])
@pytest.mark.parametrize("sfreq, n_times, window, overlap, fmin, fmax", [
    (250.0, 500, 128, 0.75, 8.0, 35.0),
    (160.0, 320, 64, 0.5, 8.0, 30.0),
    (128.0, 256, 128, 0.75, 0.0, 64.0),  # DC and Nyquist bins included
])
def test_coherences_equal_pyriemann(kind, pyr_kind, sfreq, n_times, window, overlap, fmin, fmax):
    rng = np.random.default_rng(0)
    X = _coupled_noise(rng, 4, 5, n_times)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyRiemann warns on undefined lagged bins
        ref = Coherences(window=window, overlap=overlap, fmin=fmin, fmax=fmax, fs=sfreq,
                         coh=pyr_kind).transform(X).mean(axis=-1)
    ours = coherences(X, sfreq, fmin, fmax, kind=kind, nperseg=window, overlap=overlap)
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12)
    est = Connectivity(method=kind, fmin=fmin, fmax=fmax, sfreq=sfreq, nperseg=window,
                       overlap=overlap, regularization=1e-6)
    np.testing.assert_allclose(est.fit_transform(X), nearest_spd(ref, 1e-6), rtol=1e-9, atol=1e-12)


def test_cross_spectra_one_sided_scaling():
    """Integrating the one-sided auto-spectrum over all bins gives the power (Parseval)."""
    rng = np.random.default_rng(1)
    sfreq, n = 100.0, 64
    X = rng.standard_normal((3, 2, 1000))
    S, freqs = cross_spectra(X, sfreq, 0.0, sfreq / 2, nperseg=n, overlap=0.5)
    assert S.shape == (3, n // 2 + 1, 2, 2)
    np.testing.assert_allclose(freqs, np.arange(n // 2 + 1) * sfreq / n)
    np.testing.assert_allclose(S, np.conj(np.swapaxes(S, -1, -2)))
    power = S[:, :, 0, 0].real.sum(axis=1) / n
    np.testing.assert_allclose(power, 1.0, rtol=0.15)


def test_cov_equals_pyriemann_lwf():
    rng = np.random.default_rng(2)
    X = _eeg_like(rng, 6, 8, 300, 250.0)
    ref = Covariances("lwf").transform(X)
    np.testing.assert_allclose(Connectivity("cov").fit_transform(X), ref, rtol=1e-10)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("data", ["random", "eeg_like"])
def test_outputs_are_spd(method, data):
    rng = np.random.default_rng(3)
    sfreq = 160.0
    if data == "random":
        X = _coupled_noise(rng, 5, 12, 320)
    else:
        X = _eeg_like(rng, 5, 12, 320, sfreq)
    out = Connectivity(method=method, sfreq=sfreq).fit_transform(X)
    assert out.shape == (5, 12, 12)
    np.testing.assert_allclose(out, np.swapaxes(out, -1, -2))
    assert np.all(np.linalg.eigvalsh(out) > 0)


def test_plv_identical_and_independent():
    rng = np.random.default_rng(5)
    sfreq = 250.0
    sos = butter(4, [8.0, 12.0], btype="bandpass", fs=sfreq, output="sos")
    s = sosfiltfilt(sos, rng.standard_normal((2, 3, 2000)), axis=-1)
    X = np.stack([s[:, 0], 2.0 * s[:, 0], s[:, 1], s[:, 2]], axis=1)  # ch1 = scaled copy of ch0
    plv = phase_locking_values(X)
    np.testing.assert_allclose(plv[:, 0, 1], 1.0, rtol=1e-10)
    np.testing.assert_allclose(plv[:, np.arange(4), np.arange(4)], 1.0, rtol=1e-10)
    assert np.all(plv[:, 2, 3] < 0.3)
    assert np.all(plv[:, 0, 2] < 0.3)


def test_parameters_and_errors():
    X = np.random.default_rng(6).standard_normal((2, 3, 256))
    with pytest.raises(ConfigError, match="sfreq"):
        Connectivity("coherence").fit(X)
    with pytest.raises(ConfigError, match="sfreq"):
        Connectivity("imaginary").transform(X)
    Connectivity("cov").fit(X)  # sfreq is not needed
    Connectivity("plv").fit(X)
    with pytest.raises(ConfigError, match="method must be one of 'cov', 'coherence'"):
        Connectivity("pli", sfreq=128.0).fit(X)
    with pytest.raises(ConfigError, match="Nyquist"):
        Connectivity("coherence", sfreq=50.0, fmax=35.0).fit(X)
    with pytest.raises(DataError, match="nperseg"):
        Connectivity("coherence", sfreq=128.0, nperseg=512).fit(X)
    with pytest.raises(DataError, match="shape"):
        Connectivity("cov").fit(X[0])
    est = Connectivity("coherence", sfreq=128.0).fit(X)
    with pytest.raises(DataError, match="3 channels"):
        est.transform(X[:, :2])
    cloned = clone(Connectivity("instantaneous", sfreq=160.0, nperseg=64))
    assert cloned.get_params()["sfreq"] == 160.0
    cloned.set_params(sfreq=250.0)  # what the evaluation code does from the dataset
    assert cloned.sfreq == 250.0


@pytest.mark.parametrize("kind", ["coherence", "instantaneous", "imaginary", "lagged"])
def test_coherences_do_not_depend_on_the_unit(kind):
    rng = np.random.default_rng(7)
    X = _coupled_noise(rng, 2, 4, 500)
    np.testing.assert_allclose(coherences(1e-5 * X, 250.0, kind=kind),
                               coherences(X, 250.0, kind=kind), rtol=1e-9, atol=1e-14)


def test_sampling_rate_from_epochs():
    import mne

    rng = np.random.default_rng(8)
    X = _eeg_like(rng, 4, 3, 320, 160.0)
    epochs = mne.EpochsArray(X, mne.create_info(3, 160.0, "eeg"), verbose="error")
    est = Connectivity("coherence").fit(epochs)
    assert est.sfreq is None and est.sfreq_ == 160.0
    expected = Connectivity("coherence", sfreq=160.0).fit_transform(X)
    np.testing.assert_allclose(est.transform(epochs), expected)
    np.testing.assert_allclose(est.transform(X), expected)  # arrays at the rate seen at fit
    other = mne.EpochsArray(X, mne.create_info(3, 128.0, "eeg"), verbose="error")
    with pytest.raises(DataError, match="fitted at 160 Hz"):
        est.transform(other)
    with pytest.raises(DataError, match="sampled at 128 Hz but the parameter sfreq=160"):
        Connectivity("coherence", sfreq=160.0).fit(other)
    with pytest.raises(ConfigError, match="return_epochs=True"):
        Connectivity("coherence").fit(X)
