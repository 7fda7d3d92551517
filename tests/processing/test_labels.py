"""What each moment of a run is, and the label of each window: known answers by hand, and a
brute-force count on the sample grid."""

import numpy as np
import pytest

from bci_app.processing.labels import (
    IDLE,
    is_idle_name,
    label_windows,
    normalise_decisions,
    sample_codes,
    task_classes,
)
from bci_app.processing.runs import Run

TASKS = ["left_hand", "right_hand"]
CLASSES = ("idle", "left_hand", "right_hand")


def test_window_truth_follows_the_majority_rule_with_ties_to_the_next_event():
    # 0-5 s idle, 5-9 s left, 9-12 s rest (idle), 12-16 s right, 16-20 s idle; 10 Hz
    events = [(5.0, 4.0, "left_hand"), (9.0, 3.0, "rest"), (12.0, 4.0, "right_hand")]
    last = np.array([19, 49, 59, 60, 69, 70, 79, 99, 109, 139, 199])
    # window [s, e]: 0-19 idle; 30-49 idle (ends before the cue at 50); 40-59: 10 idle /
    # 10 left -> tie -> left (the next event); 41-60: 9 idle / 11 left -> left;
    # 50-69 left; 51-70 left; 60-79 left; 80-99: 10 left / 10 rest -> idle (next);
    # 90-109 idle; 120-139 right; 180-199 idle
    truth, trial = label_windows(events, last / 10.0, 20, 10.0, TASKS)
    assert list(truth) == ["idle", "idle", "left_hand", "left_hand", "left_hand",
                           "left_hand", "left_hand", "idle", "idle", "right_hand", "idle"]
    assert list(trial) == [-1, -1, 0, 0, 0, 0, 0, -1, -1, 2, -1]
    # 39-58: 11 idle / 9 left -> idle
    assert label_windows(events, [5.8], 20, 10.0, TASKS)[0][0] == "idle"
    # the same run on another clock (LSL time) gives the same truth
    shifted, _ = label_windows([(o + 1234.5678, d, lab) for o, d, lab in events],
                               last / 10.0 + 1234.5678, 20, 10.0, TASKS)
    assert list(shifted) == list(truth)


def test_other_tasks_cues_and_pauses_are_not_scored():
    events = [(5.0, 4.0, "left_hand"), (16.0, 3.0, "feet"), (2.0, 3.0, "cue_left_hand"),
              (12.0, 2.0, "pause")]
    truth, _ = label_windows(events, np.array([189, 49, 139, 109]) / 10.0, 20, 10.0, TASKS)
    # 170-189 feet; 30-49 cue; 120-139 pause; 90-109 idle
    assert list(truth) == [None, None, None, "idle"]


def test_task_classes_and_decisions_treat_idle_names_as_idle():
    assert task_classes(["idle", "left_hand", "Rest", "right_hand", "left_hand"]) == TASKS
    assert list(normalise_decisions(["REST", "idle", "feet", "baseline"])) == [
        "idle", "idle", "feet", "idle"]


def test_idle_vocabulary():
    assert IDLE == "idle"
    assert all(is_idle_name(n) for n in ("idle", "REST", "Baseline", "T0"))
    assert not any(is_idle_name(n) for n in ("left_hand", "fixation", "run_start", "cue_rest"))


def _toy_run(events=None, sfreq=10.0, seconds=20):
    # 0-5 s idle, 5-9 s left, 9-12 s idle, 12-16 s right, 16-20 s idle
    if events is None:
        events = [(5.0, 4.0, "left_hand"), (9.0, 3.0, "rest"), (12.0, 4.0, "right_hand")]
    return Run(np.zeros((2, int(seconds * sfreq))), sfreq, ["C3", "C4"], events)


def test_sample_codes_mark_task_time_and_idle():
    codes = sample_codes(_toy_run(), CLASSES)
    assert codes[:50].tolist() == [0] * 50
    assert codes[50:90].tolist() == [1] * 40
    assert codes[90:120].tolist() == [0] * 30
    assert codes[120:160].tolist() == [2] * 40
    assert codes[160:].tolist() == [0] * 40


def test_sample_codes_follow_the_rules_of_the_windows():
    """Other events are -1, the later of overlapping events wins (an idle one too), and the
    samples outside run_start..run_end are -1; codes are indices in ``classes``."""
    events = [(1.0, 0.0, "run_start"), (1.0, 2.0, "baseline"), (3.0, 1.0, "fixation"),
              (4.0, 4.0, "right_hand"), (7.0, 2.0, "rest"), (10.0, 2.0, "feet"),
              (15.0, 0.0, "run_end")]
    codes = sample_codes(_toy_run(events), ("idle", "feet", "right_hand"))
    expected = np.full(200, 0)
    expected[:10] = -1          # before run_start
    expected[30:40] = -1        # fixation
    expected[40:70] = 2         # right_hand until the rest that overlaps it
    expected[100:120] = 1       # feet
    expected[150:] = -1         # from run_end
    np.testing.assert_array_equal(codes, expected)


def _reference_truth(events, last, window, tasks):
    """Brute force on the sample grid: paint every sample, count every window."""
    lo, hi = last.min() - window - 5, last.max() + 5
    grid = np.arange(lo, hi)
    code, start, end = _reference_paint(events, grid, tasks)
    out = []
    for e in last:
        if e - window + 1 < start or e >= end:
            out.append(None)
            continue
        seg = code[(grid > e - window) & (grid <= e)]
        values, counts = np.unique(seg, return_counts=True)
        tied = set(values[counts == counts.max()])
        v = next(x for x in seg[::-1] if x in tied)
        out.append(None if v < 0 else "idle" if v == 0 else tasks[v - 1])
    return out


def _reference_paint(events, grid, tasks, sfreq=10.0):
    """Per grid sample: -1 not scored, 0 idle, k tasks[k - 1]; and the run's span."""
    code = np.zeros(grid.size, dtype=int)  # idle
    start, end = grid[0], grid[-1] + 1
    for onset, duration, label in sorted(events):
        a = int(np.floor(onset * sfreq + 0.5))
        b = int(np.floor((onset + duration) * sfreq + 0.5))
        if label == "run_start":
            start = a
        elif label == "run_end":
            end = a
        else:
            code[(grid >= a) & (grid < b)] = (tasks.index(label) + 1 if label in tasks
                                              else 0 if label == "rest" else -1)
    return code, start, end


def _random_events(rng):
    labels = ["left_hand", "right_hand", "rest", "fixation", "feet"]
    events, t = [(0.8, 0.0, "run_start")], 1.0
    for _ in range(25):
        d = float(rng.integers(1, 30)) / 10 + rng.choice([0.0, 0.04])
        events.append((t, d, str(rng.choice(labels))))
        t += d * rng.choice([1.0, 0.5, 1.5])  # gaps (idle) and overlaps (later wins)
    events.append((t - 1.0, 0.0, "run_end"))
    return events, t


@pytest.mark.parametrize("seed", range(5))
def test_window_truth_matches_a_sample_by_sample_count(seed):
    rng = np.random.default_rng(seed)
    events, t = _random_events(rng)
    last = np.sort(rng.choice(np.arange(5, int(t * 10)), 150, replace=False))
    for window in (7, 10, 20):
        truth, _ = label_windows(events, last / 10.0, window, 10.0, TASKS)
        assert list(truth) == _reference_truth(events, last, window, TASKS), window


@pytest.mark.parametrize("seed", range(5))
def test_sample_codes_match_the_same_painting(seed):
    """One labelling: the calibration's per-sample codes are the windows' painting."""
    events, t = _random_events(np.random.default_rng(seed))
    run = _toy_run(events, seconds=t + 2.0)
    grid = np.arange(run.n_samples)
    code, start, end = _reference_paint(events, grid, TASKS)
    code[(grid < start) | (grid >= end)] = -1
    np.testing.assert_array_equal(sample_codes(run, ["idle"] + TASKS), code)
    # and a one-sample window takes the value of its sample
    inside = grid[(grid >= start) & (grid < end)]
    truth, _ = label_windows(events, inside / 10.0, 1, 10.0, TASKS)
    names = np.array([None, "idle"] + TASKS, dtype=object)
    assert list(truth) == list(names[code[inside] + 1])
