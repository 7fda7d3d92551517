"""Channel quality on synthetic signals with known answers: flat, noisy, mains, no signal."""

import numpy as np
import pytest

from bci_app.acquisition.simulation import MIEEGGenerator
from bci_app.processing import quality as q_mod
from bci_app.processing.buffers import RingBuffer
from bci_app.processing.quality import buffer_quality, channel_quality

SFREQ, N = 250.0, 500
T = np.arange(N) / SFREQ


def _eeg(n_channels=1, seed=0, line_freq=None, seconds=2.0):
    """Simulated EEG (pink noise and rhythms, ~8-15 µV), volts, without artefacts."""
    gen = MIEEGGenerator(sfreq=SFREQ, line_freq=line_freq, artifacts=False, seed=seed)
    gen.generate(int(10 * SFREQ))  # past the filters' start-up
    return gen.generate(int(seconds * SFREQ))[:n_channels]


def _sine(amplitude_uv, freq=50.0):
    return amplitude_uv * 1e-6 * np.sin(2 * np.pi * freq * T)


def test_channel_quality_flags_flat_noisy_and_line_noise():
    rng = np.random.default_rng(0)
    good = 10e-6 * rng.standard_normal(N)
    data = np.stack([good, 1e-8 * rng.standard_normal(N), 300e-6 * rng.standard_normal(N),
                     good + 40e-6 * np.sin(2 * np.pi * 50 * T)])
    q = channel_quality(data, SFREQ)
    assert q["status"] == ["good", "flat", "noisy", "line noise"]
    np.testing.assert_allclose(q["std_uv"][:3], [10, 0.01, 300], rtol=0.1)


def test_line_noise_amplitude_is_measured_in_microvolts_rms():
    eeg = _eeg()[0]
    data = np.stack([eeg, eeg + _sine(20.0), eeg + _sine(20.0, freq=60.0)])
    q = channel_quality(data, SFREQ)
    assert q["line_uv"][0] < 1.0
    np.testing.assert_allclose(q["line_uv"][1:], 20.0 / np.sqrt(2), rtol=0.05)
    assert q["status"] == ["good", "line noise", "line noise"]


def test_a_mains_line_seen_in_the_spectrum_is_flagged():
    # The simulator's 3 µV of 50 Hz on ~10 µV of EEG: a peak a decade and more above the
    # spectrum around it on the signal check's log-scale spectrum, so the channel says so
    # (it once said "good" under an amplitude floor of 5 µV RMS).
    q = channel_quality(MIEEGGenerator(sfreq=SFREQ, artifacts=False, seed=3).generate(N),
                        SFREQ)
    assert set(q["status"]) == {"line noise"}
    assert (q["line_peak"] >= q_mod.LINE_PEAK_RATIO).all()
    np.testing.assert_allclose(q["line_uv"], 3.0 / np.sqrt(2), rtol=0.25)


def test_the_same_eeg_without_a_mains_line_is_good():
    q = channel_quality(MIEEGGenerator(sfreq=SFREQ, line_freq=None, artifacts=False,
                                       seed=3).generate(N), SFREQ)
    assert set(q["status"]) == {"good"}
    assert (q["line_peak"] < q_mod.LINE_PEAK_RATIO).all()


def test_the_line_ratio_threshold_on_a_known_peak():
    # A sine on white noise: Welch (1-s Hann) puts the sine's power A²/2 into a peak of
    # A²/2 / (1.5 Hz) (the Hann window's noise bandwidth, 1.5 bins) over the noise, and the
    # white noise sigma² at 2 sigma² / sfreq per Hz: peak / floor = A² sfreq / (6 sigma²)
    # + 1. With sigma = 10 µV at 250 Hz the threshold (10) is crossed at
    # A = sqrt(54 / 250) * 10 µV = 4.6 µV.
    rng = np.random.default_rng(4)
    noise = 10e-6 * rng.standard_normal((2, 20 * N))
    t = np.arange(20 * N) / SFREQ
    data = noise + np.array([[3.0e-6], [7.0e-6]]) * np.sin(2 * np.pi * 50.0 * t)
    q = channel_quality(data, SFREQ, line_freqs=(50.0,))
    expected = np.array([3.0, 7.0]) ** 2 * SFREQ / (6 * 10.0 ** 2) + 1.0  # 4.75, 21.4
    np.testing.assert_allclose(q["line_peak"], expected, rtol=0.15)
    assert q["status"] == ["good", "line noise"]


def test_only_the_mains_frequency_of_the_settings_is_looked_at():
    eeg = _eeg()[0]
    data = np.stack([eeg + _sine(3.0, 60.0)])
    assert channel_quality(data, SFREQ, line_freqs=(60.0,))["status"] == ["line noise"]
    assert channel_quality(data, SFREQ, line_freqs=(50.0,))["status"] == ["good"]


def test_mains_dominating_a_channel_is_line_noise_not_noisy():
    # A floating electrode picks up the mains: 200 µV of 50 Hz on ~10 µV of EEG. The
    # excess is the mains, so the indicator says so (the std is still shown, ~140 µV).
    data = np.stack([_eeg()[0] + _sine(200.0), 300e-6 * np.random.default_rng(1)
                     .standard_normal(N) + _sine(200.0)])
    q = channel_quality(data, SFREQ)
    assert q["std_uv"][0] > q_mod.NOISY_UV
    assert q["status"] == ["line noise", "noisy"]  # broadband 300 µV stays noisy


@pytest.mark.parametrize("artefact", ["blink", "drift", "alpha"])
def test_mains_is_flagged_whatever_else_is_in_the_eeg_band(artefact):
    # 10 µV RMS of 50 Hz stands two to three decades above the spectrum around it: it is
    # flagged whether or not slow artefacts or a strong rhythm inflate the 1-40 Hz power.
    eeg = _eeg()[0]
    extra = {"blink": 150e-6 * np.exp(-0.5 * ((T - 1.0) / 0.08) ** 2),
             "drift": 80e-6 * np.sin(2 * np.pi * 0.7 * T),
             "alpha": 30e-6 * np.sin(2 * np.pi * 10.0 * T)}[artefact]
    q = channel_quality(np.stack([eeg + extra, eeg + extra + _sine(10 * np.sqrt(2))]), SFREQ)
    assert q["status"] == ["good", "line noise"]


def test_a_channel_of_nans_has_no_signal():
    eeg = _eeg(2)
    data = np.stack([eeg[0], np.full(N, np.nan), eeg[1]])
    data[2, 100:110] = np.nan  # a few dropped samples do not hide the channel
    q = channel_quality(data, SFREQ)
    assert q["status"] == ["good", "no signal", "good"]
    assert np.isfinite(q["std_uv"][2])


def test_too_short_a_stretch_has_no_signal():
    assert channel_quality(np.zeros((3, 1)), SFREQ)["status"] == ["no signal"] * 3


def test_spectrum_integrates_to_the_signal_power():
    freqs, psd = q_mod.spectrum(np.stack([_sine(20.0, 12.0), _sine(20.0, 50.0)]), SFREQ)
    df = freqs[1] - freqs[0]
    assert df == pytest.approx(1.0)
    np.testing.assert_allclose(psd.sum(axis=1) * df, (20e-6) ** 2 / 2, rtol=0.02)
    assert freqs[psd[0].argmax()] == 12.0 and freqs[psd[1].argmax()] == 50.0


def test_spectrum_is_the_one_the_signal_check_always_drew():
    from scipy.signal import welch

    data = _eeg(3)
    freqs, psd = q_mod.spectrum(data, SFREQ)
    ref_f, ref_p = welch(data, fs=SFREQ, nperseg=int(SFREQ))
    np.testing.assert_array_equal(freqs, ref_f)
    np.testing.assert_array_equal(psd, ref_p)


def test_average_spectrum_of_the_kept_channels():
    data = np.stack([_sine(10.0, 12.0), _sine(40.0, 20.0), _sine(10.0, 12.0)])
    q = channel_quality(data, SFREQ)
    freqs, mean = q_mod.average_spectrum(q, [0, 2])
    np.testing.assert_array_equal(freqs, q["freqs"])
    np.testing.assert_allclose(mean, q["psd"][0])
    assert q_mod.average_spectrum(q, []) is None


def _fed_buffer(seconds):
    buf = RingBuffer(2, int(30 * SFREQ))
    buf.write(_eeg(2, seconds=seconds))
    return buf


def test_buffer_quality_waits_for_a_second_of_data():
    buf = _fed_buffer(0.5)
    assert buffer_quality(buf, SFREQ, now=buf.last_write) is None
    buf.write(_eeg(2, seed=1, seconds=1.0))
    assert buffer_quality(buf, SFREQ, now=buf.last_write)["status"] == ["good", "good"]


def test_quality_says_no_signal_when_the_stream_stops():
    # The last 2 s of the buffer were good EEG; nothing arrived for 3 s since.
    buf = _fed_buffer(4.0)
    assert buffer_quality(buf, SFREQ, now=buf.last_write + 0.2)["status"] == ["good"] * 2
    q = buffer_quality(buf, SFREQ, now=buf.last_write + 3.0)
    assert q["status"] == ["no signal"] * 2
    # Even with too little data for the indicators, a stopped stream is no signal.
    short = _fed_buffer(0.5)
    assert buffer_quality(short, SFREQ, now=short.last_write + 3.0)["status"] == \
        ["no signal"] * 2


def test_every_status_is_a_known_one():
    data = np.stack([_eeg()[0], np.zeros(N), np.full(N, np.nan)])
    assert set(channel_quality(data, SFREQ)["status"]) <= set(q_mod.STATUSES)


def test_the_logic_moved_out_of_the_gui_imports_without_qt():
    import subprocess
    import sys

    code = ("import sys\n"
            "import bci_app.processing.quality, bci_app.processing.buffers\n"
            "import bci_app.evaluation.r2, bci_app.evaluation.calibration_scores\n"
            "import bci_app.online.train_model\n"
            "qt = [m for m in ('PySide6', 'pyqtgraph') if m in sys.modules]\n"
            "assert not qt, qt\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr


# -- signal that is not EEG: windows and recordings ----------------------------------------
def test_window_faults_judge_the_channels_the_model_reads_with_the_quality_thresholds():
    from bci_app.processing.quality import FLAT_STRETCH_S, IMPLAUSIBLE_UV, window_faults

    eeg = _eeg(n_channels=4, seconds=8.0)
    windows = np.stack([eeg[:, k * 250:k * 250 + N] for k in range(6)])  # 2-s windows
    raw, filtered = windows.copy(), windows.copy()
    raw[1, 2, 100] = np.nan  # one NaN sample
    raw[2, 1, -int(FLAT_STRETCH_S * SFREQ):] = 3e-6  # a quarter second flat, at the end
    raw[3, 0, 250:] = 0.0  # flat from the middle on
    filtered[4, 3] *= 1.01 * IMPLAUSIBLE_UV / (filtered[4, 3].std() * 1e6)
    raw[5, 3, :] = np.inf  # a channel the model does not read below
    names = ["C3", "Cz", "C4", "Pz"]
    ok, reasons = window_faults(raw, filtered, SFREQ, names)
    assert ok.tolist() == [True, False, False, False, False, False]
    assert reasons.tolist() == [
        "", "non-finite samples (NaN/inf) on C4", "flat signal (below 0.5 µV) on Cz",
        "flat signal (below 0.5 µV) on C3", "implausible amplitude (above 500 µV) on Pz",
        "non-finite samples (NaN/inf) on Pz"]
    ok, reasons = window_faults(raw, filtered, SFREQ, names, picks=[0, 1])
    assert ok.tolist() == [True, True, False, False, True, True]


def test_signal_faults_give_each_stretch_by_channel_and_time():
    from bci_app.processing.quality import FLAT, NON_FINITE, SignalFault, describe_faults
    from bci_app.processing.quality import signal_faults

    data = _eeg(n_channels=3, seconds=10.0)
    data[0, 250:300] = np.nan
    data[0, 320:330] = -np.inf  # 0.08 s later: the same stretch
    data[1, 1000:1500] = 12e-6  # flat (a constant offset) for 2 s
    data[2] = 0.0
    faults = signal_faults(data, SFREQ, ["C3", "Cz", "C4"])
    assert faults == [SignalFault("C3", NON_FINITE, 1.0, 1.32),
                      SignalFault("Cz", FLAT, 4.0, 6.0), SignalFault("C4", FLAT, 0.0, 10.0)]
    assert describe_faults(faults, 10.0) == (
        "non-finite samples (NaN/inf) on C3 at 1.000-1.320 s; flat signal (below 0.5 µV) on "
        "C4 throughout; flat signal (below 0.5 µV) on Cz at 4.000-6.000 s")
    assert signal_faults(_eeg(n_channels=2, seconds=10.0), SFREQ, ["C3", "C4"]) == []
