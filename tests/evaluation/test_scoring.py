"""The one scoring of decisions against events: known answers computed by hand."""

import numpy as np
import pytest

from bci_app.evaluation.scoring import (
    LiveScorer,
    label_windows,
    normalise_decisions,
    protocol_events,
    score_decisions,
    task_classes,
)

TASKS = ["left_hand", "right_hand"]


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


def _hand_run():
    """A protocol run at 10 Hz, 1 s windows; see the test below for the answers."""
    events = [(0.0, 0.0, "run_start"), (0.0, 2.0, "baseline"), (2.0, 1.0, "fixation"),
              (3.0, 2.0, "left_hand"), (5.0, 1.0, "idle"), (6.0, 1.0, "fixation"),
              (7.0, 2.0, "right_hand"), (9.0, 1.0, "idle"), (10.0, 2.0, "run_end")]
    rows = [  # time of the window's last sample, expected truth, decision
        (0.5, None, "left_hand"),      # starts before run_start
        (1.9, "idle", "idle"),
        (2.4, None, "idle"),           # 5 idle / 5 fixation: tie -> fixation
        (2.9, None, "right_hand"),     # fixation
        (3.4, "left_hand", "right_hand"),  # 5 fixation / 5 left: tie -> left
        (3.9, "left_hand", "left_hand"),
        (4.4, "left_hand", "right_hand"),
        (4.9, "left_hand", "left_hand"),
        (5.4, "idle", "left_hand"),    # 5 left / 5 idle: tie -> idle
        (5.9, "idle", "rest"),         # "rest" decides idle
        (6.4, None, "idle"),           # 5 idle / 5 fixation -> fixation
        (7.4, "right_hand", "right_hand"),
        (7.9, "right_hand", "right_hand"),
        (8.4, "right_hand", "idle"),
        (8.9, "right_hand", "right_hand"),
        (9.3, "right_hand", "left_hand"),  # 6 right / 4 idle
        (9.9, "idle", "idle"),
        (10.4, None, "idle"),          # ends after run_end
    ]
    return events, rows


def test_score_of_a_hand_built_run():
    events, rows = _hand_run()
    times, expected, decisions = zip(*rows)
    score = score_decisions(events, times, decisions, 10, 10.0, TASKS, 0.5)
    assert list(score.truth) == list(expected)
    m = score.metrics
    assert m["classes"] == ["idle", "left_hand", "right_hand"]
    assert m["confusion"] == [[3, 1, 0], [0, 2, 2], [1, 1, 3]]
    assert (score.windows, score.correct) == (13, 8)
    assert m["accuracy"] == pytest.approx(8 / 13)
    # Gorodkin: c = 8, s = 13, t = p = (4, 4, 5): (8*13 - 57) / (169 - 57) = 47 / 112
    assert m["mcc"] == pytest.approx(47 / 112)
    assert m["nmcc"] == pytest.approx((1 + 47 / 112) / 2)
    assert m["chance_accuracy"] == pytest.approx(5 / 13)
    p, n = 8 / 13, 3
    bits = np.log2(n) + p * np.log2(p) + (1 - p) * np.log2((1 - p) / (n - 1))
    assert m["itr_bits_per_min"] == pytest.approx(bits * 120)  # a decision every 0.5 s
    assert m["itr_bits_per_min_nonoverlap"] == pytest.approx(bits * 60)  # 1 s windows
    # Left trial: 2 left / 2 right -> a tie, no decision (a miss); right trial: 3 of 5.
    assert [(t.label, t.decision, t.windows) for t in score.trials] == [
        ("left_hand", None, 4), ("right_hand", "right_hand", 5)]
    assert (score.trials_done, score.trials_correct) == (2, 1)
    assert score.trial_accuracy == 0.5


def test_a_cued_rest_class_is_idle_and_its_trials_expect_idle():
    events = [(2.0, 2.0, "left_hand"), (4.0, 2.0, "idle"), (6.0, 2.0, "rest"),
              (8.0, 2.0, "idle")]
    times = np.array([3.9, 7.4, 7.9])
    score = score_decisions(events, times, ["left_hand", "rest", "idle"], 10, 10.0,
                            ["left_hand", "rest"], 0.5)
    assert list(score.truth) == ["left_hand", "idle", "idle"]
    assert score.metrics["classes"] == ["idle", "left_hand"]
    assert score.correct == 3
    assert [(t.label, t.truth, t.decision) for t in score.trials] == [
        ("left_hand", "left_hand", "left_hand"), ("rest", "idle", "idle")]


def test_task_classes_and_decisions_treat_idle_names_as_idle():
    assert task_classes(["idle", "left_hand", "Rest", "right_hand", "left_hand"]) == TASKS
    assert list(normalise_decisions(["REST", "idle", "feet", "baseline"])) == [
        "idle", "idle", "feet", "idle"]


def _reference_truth(events, last, window, tasks):
    """Brute force on the sample grid: paint every sample, count every window."""
    lo, hi = last.min() - window - 5, last.max() + 5
    grid = np.arange(lo, hi)
    code = np.zeros(grid.size, dtype=int)  # idle
    start, end = lo, hi
    for onset, duration, label in sorted(events):
        a, b = int(np.floor(onset * 10 + 0.5)), int(np.floor((onset + duration) * 10 + 0.5))
        if label == "run_start":
            start = a
        elif label == "run_end":
            end = a
        else:
            code[(grid >= a) & (grid < b)] = (tasks.index(label) + 1 if label in tasks
                                              else 0 if label == "rest" else -1)
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


@pytest.mark.parametrize("seed", range(5))
def test_window_truth_matches_a_sample_by_sample_count(seed):
    rng = np.random.default_rng(seed)
    labels = ["left_hand", "right_hand", "rest", "fixation", "feet"]
    events, t = [(0.8, 0.0, "run_start")], 1.0
    for _ in range(25):
        d = float(rng.integers(1, 30)) / 10 + rng.choice([0.0, 0.04])
        events.append((t, d, str(rng.choice(labels))))
        t += d * rng.choice([1.0, 0.5, 1.5])  # gaps (idle) and overlaps (later wins)
    events.append((t - 1.0, 0.0, "run_end"))
    last = np.sort(rng.choice(np.arange(5, int(t * 10)), 150, replace=False))
    for window in (7, 10, 20):
        truth, _ = label_windows(events, last / 10.0, window, 10.0, TASKS)
        assert list(truth) == _reference_truth(events, last, window, TASKS), window


def test_live_scorer_fed_batch_by_batch_ends_with_the_whole_run_score():
    events, rows = _hand_run()
    markers = [(o + 100.0, lab) for o, _, lab in events if lab != "left_hand"
               and lab != "right_hand"] + [(103.0, "L"), (107.0, "R")]
    class_of_marker = {"L": "left_hand", "R": "right_hand"}
    times = np.array([r[0] for r in rows]) + 100.0
    decisions = [r[2] for r in rows]
    live = LiveScorer(TASKS, 10.0, 10, 0.5, class_of_marker)
    done = []
    for k in range(0, len(times), 3):
        live.add(times[k:k + 3], decisions[k:k + 3])
        now = times[min(k + 2, len(times) - 1)] + 0.05
        done.append(live.score([m for m in markers if m[0] <= now]).trials_done)
    final = live.score(markers, final=True)
    whole = score_decisions(protocol_events(markers, class_of_marker), times, decisions, 10,
                            10.0, TASKS, 0.5)
    assert (final.windows, final.correct, final.trials_done, final.trials_correct) == \
        (whole.windows, whole.correct, whole.trials_done, whole.trials_correct) == (13, 8, 2, 1)
    assert final.metrics == whole.metrics
    # A trial counts once the latest window starts at or after its end: the left trial
    # (3-5 s) from the batch ending with the window 6.5-7.4 s (the window 4.5-5.4 s still
    # overlaps it), the right trial (7-9 s) from the window 9.5-10.4 s.
    assert done == [0, 0, 0, 1, 1, 2]


def test_no_decision_no_score():
    score = LiveScorer(TASKS, 10.0, 10, 0.5).score([])
    assert score.windows == 0 and np.isnan(score.window_accuracy) and score.metrics is None
    score = score_decisions([(0.0, 0.0, "run_start")], [], [], 10, 10.0, TASKS, 0.5)
    assert score.metrics is None and score.trials == []
