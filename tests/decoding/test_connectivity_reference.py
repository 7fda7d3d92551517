"""PLV and coherence checked against MNE-Connectivity, on EEG-shaped windows (8 channels,
2 s at 160 Hz) with planted phase coupling.

MNE-Connectivity is a test-only dependency (the ``test`` extra); without it these tests
are skipped.
"""

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import butter, hilbert, sosfiltfilt
from scipy.special import j0

from bci_app.decoding.connectivity import coherences, phase_locking_values

mne_connectivity = pytest.importorskip(
    "mne_connectivity", reason="mne-connectivity (the reference implementation) is not "
    "installed: pip install -e '.[test]'")
mne = pytest.importorskip("mne")

SFREQ, N_TIMES, N_CHANNELS = 160.0, 320, 8
CARRIER, MODULATION = 10.0, 0.5  # Hz: an alpha rhythm whose phase drifts once per window
#: Depth (rad) of each channel's phase modulation: the phase difference of channels i and j
#: is a_i - a_j times a sine, so over whole periods their PLV is |J0(a_i - a_j)|, from 1
#: (equal depths) down to J0(2.4) ~ 0.003 (channels 0 and 7: unlocked).
DEPTHS = np.array([0.0, 0.2, 0.4, 0.8, 1.2, 1.6, 2.0, 2.4])


def _planted(rng, n_windows, snr=None):
    """Windows of 8 alpha oscillators with planted phase coupling, each with a random
    phase offset per window; ``snr``: add independent alpha-band (8-12 Hz) noise at this
    signal-to-noise power ratio."""
    t = np.arange(N_TIMES) / SFREQ
    offsets = rng.uniform(0, 2 * np.pi, (n_windows, N_CHANNELS, 1))
    X = np.cos(2 * np.pi * CARRIER * t + offsets
               + DEPTHS[:, None] * np.sin(2 * np.pi * MODULATION * t))
    if snr is not None:
        sos = butter(4, [8.0, 12.0], btype="bandpass", fs=SFREQ, output="sos")
        noise = sosfiltfilt(sos, rng.standard_normal((n_windows, N_CHANNELS, 3 * N_TIMES)),
                            axis=-1)[..., N_TIMES:2 * N_TIMES]
        noise *= np.sqrt(0.5 / snr) / noise.std(axis=-1, keepdims=True)
        X = X + noise
    return 20e-6 * X  # volts, as the amplifier sends them


def _dense(con, n_channels=N_CHANNELS, diagonal=1.0):
    """MNE-Connectivity's lower-triangle result of one frequency as full symmetric
    matrices, shape (n_windows, n_channels, n_channels)."""
    lower = con.get_data(output="dense")[..., 0]
    if lower.ndim == 2:
        lower = lower[None]
    return lower + np.swapaxes(lower, -1, -2) + diagonal * np.eye(n_channels)


def test_plv_of_planted_coupling_is_the_known_answer_and_mne_connectivitys():
    X = _planted(np.random.default_rng(0), n_windows=4)
    truth = np.abs(j0(DEPTHS[:, None] - DEPTHS[None, :]))
    ours = phase_locking_values(X)
    # The window holds whole periods of the carrier and of the modulation and the signal's
    # spectrum (10 Hz +- k * 0.5 Hz, Bessel sidebands J_k(2.4) < 1e-16 beyond k = 19) lies
    # strictly between 0 Hz and Nyquist: the FFT analytic signal and the mean over the
    # samples are then exact, up to rounding.
    np.testing.assert_allclose(ours, np.broadcast_to(truth, ours.shape), atol=1e-9)
    # MNE-Connectivity estimates the phases with its own Morlet wavelet (3 cycles at 10 Hz,
    # time spread 3 / (2 pi 10 Hz) ~ 48 ms), which smooths the phase drift a little and is
    # cut at the window's edges: it measures within 0.02 of the same PLVs (0.013 seen)
    # across a range of 0 to 1, so a wrong pair, sign or normalisation would show.
    con = mne_connectivity.spectral_connectivity_time(
        X, freqs=[CARRIER], method="plv", sfreq=SFREQ, mode="cwt_morlet", n_cycles=3,
        verbose=False)
    reference = _dense(con)
    np.testing.assert_allclose(reference, np.broadcast_to(truth, ours.shape), atol=0.02)
    np.testing.assert_allclose(ours, reference, atol=0.02)


def test_plv_with_noise_agrees_with_mne_connectivity():
    X = _planted(np.random.default_rng(1), n_windows=6, snr=10.0)
    ours = phase_locking_values(X)
    info = mne.create_info(N_CHANNELS, SFREQ, "eeg")
    # The same phases given to MNE-Connectivity as time-frequency coefficients: its PLV
    # formula (mean over time of the unit cross-spectrum, modulus) gives ours to rounding.
    tfr = mne.time_frequency.EpochsTFRArray(
        info, hilbert(X, axis=-1)[:, :, None, :], times=np.arange(N_TIMES) / SFREQ,
        freqs=[CARRIER])
    same_phases = _dense(mne_connectivity.spectral_connectivity_time(
        tfr, method="plv", verbose=False))
    np.testing.assert_allclose(ours, same_phases, atol=1e-12)
    # Its own Morlet phases: the noise fills 8-12 Hz, which the 3-cycle wavelet (frequency
    # spread 10 / 3 ~ 3.3 Hz) weights unevenly, so the estimates differ by more than on the
    # clean signal: within 0.03 (0.018 seen).
    morlet = _dense(mne_connectivity.spectral_connectivity_time(
        X, freqs=[CARRIER], method="plv", sfreq=SFREQ, mode="cwt_morlet", n_cycles=3,
        verbose=False))
    np.testing.assert_allclose(ours, morlet, atol=0.03)
    # The planted order survives the noise: PLV(0, 1) > PLV(0, 4) > PLV(0, 7) in every
    # window (|J0| = 0.99, 0.67, 0.003 without noise; 0.92-0.96, 0.54-0.74, 0.03-0.15 here).
    for plv in (ours, morlet):
        assert np.all(plv[:, 0, 1] > plv[:, 0, 4]) and np.all(plv[:, 0, 4] > plv[:, 0, 7])


@pytest.mark.parametrize("kind, method, part", [
    ("coherence", "coh", np.abs),
    ("imaginary", "imcoh", np.real),
    ("instantaneous", "cohy", np.real),
])
def test_coherences_equal_mne_connectivity_over_the_same_segments(kind, method, part):
    """Our Welch coherence of a window equals MNE-Connectivity's coherence across epochs
    when the epochs are that window's Welch segments (both use a symmetric Hann window and
    the same frequency bins); ours is the squared value, averaged over the band."""
    rng = np.random.default_rng(2)
    X = _planted(rng, n_windows=3, snr=1.0)
    X = sosfiltfilt(butter(4, [8.0, 30.0], btype="bandpass", fs=SFREQ, output="sos"),
                    X + 1e-5 * rng.standard_normal(X.shape), axis=-1)  # band-passed EEG
    nperseg, overlap, fmin, fmax = 128, 0.75, 8.0, 30.0
    ours = coherences(X, SFREQ, fmin, fmax, kind=kind, nperseg=nperseg, overlap=overlap)
    step = int((1 - overlap) * nperseg)
    for window, matrix in zip(X, ours, strict=True):
        segments = np.moveaxis(sliding_window_view(window, nperseg, axis=-1)[:, ::step], 1, 0)
        con = mne_connectivity.spectral_connectivity_epochs(
            segments, method=method, mode="fourier", sfreq=SFREQ, fmin=fmin, fmax=fmax,
            verbose=False)
        per_bin = part(con.get_data(output="dense")) ** 2       # (C, C, n_freqs), lower
        lower = per_bin.mean(axis=-1)
        reference = lower + lower.T + (0.0 if kind == "imaginary" else 1.0) * np.eye(8)
        # MNE removes each segment's mean before its FFT; the band-passed segments have
        # small means, whose leakage through the Hann window to >= 8 Hz changes the
        # values by ~1e-6 (1.7e-6 seen): 1e-5, on values from 0.05 to 0.37.
        np.testing.assert_allclose(matrix, reference, atol=1e-5)
