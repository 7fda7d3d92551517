"""Calibration crops: cue-locked windows inside trials, idle windows in idle time, balanced."""

import numpy as np
import pytest

from bci_app.errors import ConfigError, DataError
from bci_app.processing.calibration import (
    PseudoOnlineConfig,
    balance_idle,
    calibration_crops,
    calibration_set,
    task_events,
)
from bci_app.processing.runs import Run

CLASSES = ("idle", "left_hand", "right_hand")


def _run(events, sfreq=10.0, seconds=20):
    n = int(seconds * sfreq)
    return Run(np.tile(np.arange(n, dtype=float), (2, 1)), sfreq, ["C3", "C4"], events)


def test_task_crops_start_after_the_cue_and_stay_in_the_trial():
    run = _run([(5.0, 4.0, "left_hand"), (12.0, 4.0, "right_hand"), (1.0, 1.0, "feet")])
    assert task_events(run, CLASSES) == [(5.0, 4.0, "left_hand"), (12.0, 4.0, "right_hand")]
    X, y, spans = calibration_crops(run.data, run, CLASSES, window=20, crop_step=5,
                                    offset_s=0.5, stop_sample=200, with_idle=False)
    # left 50-90: crops from 55, every 5, ending by 90; right 120-160: from 125
    assert spans == [(55, 75), (60, 80), (65, 85), (70, 90),
                     (125, 145), (130, 150), (135, 155), (140, 160)]
    assert list(y) == ["left_hand"] * 4 + ["right_hand"] * 4
    assert X.shape == (8, 2, 20) and X[0, 0, 0] == 55  # the samples of the span
    # nothing past the stop sample
    _, _, spans = calibration_crops(run.data, run, CLASSES, 20, 5, 0.5, 80, False)
    assert spans == [(55, 75), (60, 80)]


def test_idle_crops_lie_in_idle_time_within_the_run():
    events = [(2.0, 0.0, "run_start"), (2.0, 3.0, "baseline"), (5.0, 4.0, "left_hand"),
              (9.0, 1.0, "fixation"), (18.0, 0.0, "run_end")]
    run = _run(events)
    _, y, spans = calibration_crops(run.data, run, CLASSES, 20, 10, 0.0, 200, True)
    idle = [s for s, lab in zip(spans, y) if lab == "idle"]
    # idle: 20-50 (baseline, not before run_start), 100-180 (no event, until run_end)
    assert idle == [(20, 40), (30, 50), (100, 120), (110, 130), (120, 140), (130, 150),
                    (140, 160), (150, 170), (160, 180)]


def test_balance_idle_keeps_as_many_idle_crops_as_the_largest_class_spread_in_time():
    y = np.array(["idle"] * 10 + ["left_hand"] * 3 + ["right_hand"] * 2)
    X = np.arange(y.size)[:, None, None]
    Xb, yb, spans = balance_idle(X, y, list(range(y.size)))
    assert list(yb).count("idle") == 3 and spans[:3] == [0, 4, 9]
    assert list(Xb[:, 0, 0]) == spans
    few = np.array(["idle", "left_hand"])
    assert balance_idle(few[:, None, None], few, [0, 1])[1].tolist() == ["idle", "left_hand"]


def test_calibration_set_filters_crops_and_balances():
    sfreq = 100.0
    rng = np.random.default_rng(1)
    events = [(2.0 + 6 * k, 4.0, ("left_hand", "right_hand")[k % 2]) for k in range(4)]
    run = Run(rng.standard_normal((3, int(26 * sfreq))), sfreq, ["C3", "Cz", "C4"], events)
    cfg = PseudoOnlineConfig(window_s=1.0, step_s=0.25)
    X, y, spans, filtered = calibration_set([run], [run.n_samples], cfg)
    assert X.shape[1:] == (3, 100) and len(y) == len(spans) == X.shape[0]
    counts = {c: int(np.sum(y == c)) for c in np.unique(y)}
    assert counts["left_hand"] == counts["right_hand"] == 2 * 6  # 2 trials x 6 crops
    assert counts["idle"] <= 12
    i, a, b = spans[0]
    np.testing.assert_array_equal(X[0], filtered[0][:, a:b])
    with pytest.raises(DataError, match="no complete window"):
        calibration_set([run], [run.n_samples], PseudoOnlineConfig(classes=("feet",)))


def test_config_check():
    PseudoOnlineConfig().check()
    with pytest.raises(ConfigError, match="idle"):
        PseudoOnlineConfig(idle="nope").check()
    with pytest.raises(ConfigError, match="calibration"):
        PseudoOnlineConfig(calibration_runs=0, calibration_trials=0).check()
    with pytest.raises(ConfigError, match="positive"):
        PseudoOnlineConfig(step_s=0).check()
