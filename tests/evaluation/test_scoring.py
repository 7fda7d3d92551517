"""The one scoring of decisions against events: known answers computed by hand.

The labels of windows themselves are tested in tests/processing/test_labels.py.
"""

import numpy as np
import pytest

from bci_app.evaluation.scoring import LiveScorer, protocol_events, score_decisions

TASKS = ["left_hand", "right_hand"]


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
