"""r² maps of two classes: a known difference, the reference correlation, the mu band."""

import numpy as np
import pytest
from scipy.signal import welch
from scipy.stats import pearsonr

from bci_app.acquisition.simulation import make_trial_schedule, simulate_mi_raw
from bci_app.errors import DataError
from bci_app.evaluation.r2 import r2_map
from bci_app.processing.runs import Run, run_from_raw

SFREQ = 200.0


def _two_class_run(n_trials=10, seed=0, amp=10e-6, louder="right", name="run"):
    """Trials of 3 s alternating left/right; a 12 Hz rhythm on C3 in the ``louder`` class."""
    rng = np.random.default_rng(seed)
    trial, gap = 3.0, 1.0
    n = int((n_trials * (trial + gap) + gap) * SFREQ)
    data = 5e-6 * rng.standard_normal((3, n))
    events = []
    t = np.arange(n) / SFREQ
    for k in range(n_trials):
        onset = gap + k * (trial + gap)
        label = "left" if k % 2 == 0 else "right"
        events.append((onset, trial, label))
        if label == louder:
            sel = (t >= onset) & (t < onset + trial)
            data[0, sel] += amp * np.sin(2 * np.pi * 12.0 * t[sel] + rng.uniform(0, 6.28))
    return Run(data, SFREQ, ["C3", "Cz", "C4"], events, name=name)


def test_a_rhythm_in_one_class_gives_r2_near_one_there_only():
    r2 = r2_map([_two_class_run()], ("left", "right"))
    values, freqs = r2["values"], r2["freqs"]
    assert values.shape == (3, len(freqs)) and r2["ch_names"] == ["C3", "Cz", "C4"]
    assert r2["classes"] == ("left", "right") and r2["n_trials"] == {"left": 5, "right": 5}
    assert freqs[0] >= 1.0 and freqs[-1] <= 40.0 and np.allclose(np.diff(freqs), 2.0)
    f12 = int(np.argmin(np.abs(freqs - 12.0)))
    assert values[0, f12] > 0.9  # positive: more power in the second class
    assert np.abs(values[1:]).max() < 0.7 and np.abs(values[0, freqs > 20]).max() < 0.7
    # The sign follows the class: the rhythm in the first class gives a negative r².
    flipped = r2_map([_two_class_run(louder="left")], ("left", "right"))["values"]
    assert flipped[0, f12] < -0.9


def test_r2_is_the_signed_squared_correlation_of_log_power_with_the_class():
    run = _two_class_run(amp=3e-6, seed=4)
    r2 = r2_map([run], ("left", "right"))
    feats, ys = [], []
    for onset, duration, label in run.events:
        seg = run.data[:, round((onset + 0.5) * SFREQ):round((onset + duration) * SFREQ)]
        freqs, psd = welch(seg, fs=SFREQ, nperseg=int(SFREQ // 2))
        feats.append(np.log(psd[:, (freqs >= 1) & (freqs <= 40)] + 1e-30))
        ys.append(label == "right")
    feats = np.stack(feats)
    for ch, f in ((0, 5), (1, 2), (2, 10)):
        r = pearsonr(feats[:, ch, f], ys).statistic
        assert r2["values"][ch, f] == pytest.approx(np.sign(r) * r ** 2, abs=1e-9)


def test_runs_are_pooled_and_unusable_trials_left_out():
    a, b = _two_class_run(seed=1, name="a"), _two_class_run(seed=2, name="b")
    b.events.append((b.n_samples / SFREQ - 1.0, 3.0, "left"))  # runs past the end
    b.events.append((2.0, 0.8, "left"))  # too short after the 0.5-s offset
    b.events.append((3.0, 2.0, "rest"))  # another class
    r2 = r2_map([a, b], ("left", "right"))
    assert r2["n_trials"] == {"left": 10, "right": 10}


def test_r2_needs_two_classes_enough_trials_and_one_montage():
    run = _two_class_run(n_trials=3)
    with pytest.raises(DataError, match="two classes"):
        r2_map([run], ("left",))
    with pytest.raises(DataError, match="not enough imagery trials"):
        r2_map([run], ("left", "right"))
    with pytest.raises(DataError, match="not enough imagery trials"):
        r2_map([_two_class_run()], ("left", "feet"))
    other = _two_class_run(name="other")
    other.ch_names = ["C3", "Cz", "Pz"]
    with pytest.raises(DataError, match="channels"):
        r2_map([_two_class_run(), other], ("left", "right"))
    with pytest.raises(DataError, match="no run"):
        r2_map([], ("left", "right"))


def test_r2_map_finds_the_sensorimotor_mu_band():
    raw = simulate_mi_raw(make_trial_schedule(n_trials_per_class=10, seed=1), skill=1.0,
                          seed=1, artifacts=False)
    r2 = r2_map([run_from_raw(raw)], ("left_hand", "right_hand"))
    values, freqs, chans = abs(r2["values"]), r2["freqs"], r2["ch_names"]
    ch, f = divmod(int(values.argmax()), values.shape[1])
    assert chans[ch] in ("C3", "C4", "C1", "C2", "C5", "C6", "CP3", "CP4", "FC3", "FC4")
    assert 7 <= freqs[f] <= 30
