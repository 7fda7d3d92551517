"""Window scores over what the decoder can decide: a decoder of task classes only (no idle
class, no confidence threshold that can decide idle) is not scored on the rest windows it can
never get right. Known answers counted by hand."""

import numpy as np
import pytest

from bci_app.evaluation.scoring import (
    LiveScorer,
    decidable_labels,
    protocol_events,
    score_decisions,
)

TASKS = ["left_hand", "right_hand"]
#: A protocol run at 10 Hz (1 s windows of 10 samples): rest, a left cue, rest, a right cue.
EVENTS = [(0.0, 0.0, "run_start"), (0.0, 2.0, "baseline"), (2.0, 1.0, "fixation"),
          (3.0, 2.0, "left_hand"), (5.0, 1.0, "idle"), (6.0, 1.0, "fixation"),
          (7.0, 2.0, "right_hand"), (9.0, 1.0, "idle"), (10.0, 2.0, "run_end")]
#: (time of the window's last sample, truth, decision of a decoder that is never idle).
ROWS = [
    (1.9, "idle", "left_hand"),
    (3.9, "left_hand", "right_hand"),
    (4.4, "left_hand", "left_hand"),
    (4.9, "left_hand", "left_hand"),
    (4.95, "left_hand", "left_hand"),
    (5.4, "idle", "left_hand"),
    (5.9, "idle", "right_hand"),
    (7.9, "right_hand", "right_hand"),
    (8.4, "right_hand", "left_hand"),
    (8.9, "right_hand", "right_hand"),
    (8.95, "right_hand", "right_hand"),
    (9.3, "right_hand", "right_hand"),
    (9.9, "idle", "right_hand"),
]


def _score(decidable):
    times, _, decisions = zip(*ROWS)
    return score_decisions(EVENTS, times, decisions, 10, 10.0, TASKS, 0.5, decidable=decidable)


def test_what_a_decoder_can_decide():
    assert decidable_labels(["idle", "left_hand", "right_hand"]) == \
        {"idle", "left_hand", "right_hand"}
    assert decidable_labels(TASKS) == {"left_hand", "right_hand"}  # never idle
    # Idle by a threshold: only one above 1/2 (the largest of two probabilities) decides it.
    assert decidable_labels(TASKS, threshold=0.5) == {"left_hand", "right_hand"}
    assert decidable_labels(TASKS, threshold=0.6) == {"idle", "left_hand", "right_hand"}
    assert decidable_labels(["rest", "left_hand"]) == {"idle", "left_hand"}


def test_rest_windows_a_decoder_never_decides_are_left_out_of_its_window_scores():
    every = _score(None)
    assert [t for _, t, _ in ROWS] == list(every.truth)
    # Every truth counted: the 4 rest windows are errors whatever the decoder does.
    assert (every.windows, every.correct) == (13, 7)
    assert every.metrics["accuracy"] == pytest.approx(7 / 13)
    assert every.metrics["classes"] == ["idle", "left_hand", "right_hand"]
    # Over what it can decide: the 9 task windows, 7 right.
    score = _score(decidable_labels(TASKS))
    assert (score.windows, score.correct, score.undecidable) == (9, 7, 4)
    assert score.window_accuracy == score.metrics["accuracy"] == pytest.approx(7 / 9)
    m = score.metrics
    assert m["classes"] == TASKS and m["confusion"] == [[3, 1], [1, 4]]
    assert m["majority_accuracy"] == pytest.approx(5 / 9)  # always right_hand
    assert m["n_undecidable"] == 4 and m["n_artifact"] == 0
    # Two classes, 2x2 confusion [[3, 1], [1, 4]]: MCC = (3*4 - 1*1) / sqrt(4*5*4*5) = 11/20
    assert m["mcc"] == pytest.approx(11 / 20)
    # The rest windows keep their truth (the timeline still shows them).
    assert list(score.truth) == list(every.truth)
    # Trials: left 3 of 4 windows left, right 4 of 5 right.
    assert [(t.label, t.decision) for t in score.trials] == [
        ("left_hand", "left_hand"), ("right_hand", "right_hand")]
    assert score.trial_accuracy == 1.0


def test_a_decoder_that_decides_idle_is_scored_as_before():
    times, _, decisions = zip(*ROWS)
    every = _score(None)
    same = _score(decidable_labels(["idle"] + TASKS))
    assert (same.windows, same.correct, same.undecidable) == (13, 7, 0)
    assert {k: v for k, v in same.metrics.items() if k != "n_undecidable"} == \
        {k: v for k, v in every.metrics.items() if k != "n_undecidable"}


def test_a_cued_rest_trial_a_decoder_cannot_decide_is_left_out():
    events = [(2.0, 2.0, "left_hand"), (4.0, 2.0, "rest"), (6.0, 2.0, "left_hand")]
    times = np.array([3.9, 5.9, 7.9])
    decisions = ["left_hand", "left_hand", "left_hand"]
    every = score_decisions(events, times, decisions, 10, 10.0, ["left_hand", "rest"], 0.5)
    assert (every.trials_done, every.trials_correct) == (3, 2)
    score = score_decisions(events, times, decisions, 10, 10.0, ["left_hand", "rest"], 0.5,
                            decidable={"left_hand"})
    assert [t.label for t in score.trials] == ["left_hand", "left_hand"]
    assert (score.trials_done, score.trials_correct, score.windows, score.undecidable) == \
        (2, 2, 2, 1)


def test_the_running_score_applies_the_same_rule():
    markers = [(o + 100.0, lab) for o, _, lab in EVENTS]
    times = np.array([r[0] for r in ROWS]) + 100.0
    decisions = [r[2] for r in ROWS]
    live = LiveScorer(TASKS, 10.0, 10, 0.5, decidable=decidable_labels(TASKS))
    live.add(times, decisions)
    final = live.score(markers, final=True)
    whole = score_decisions(protocol_events(markers), times, decisions, 10, 10.0, TASKS,
                            0.5, decidable=decidable_labels(TASKS))
    assert (final.windows, final.correct, final.undecidable) == (9, 7, 4)
    assert final.metrics == whole.metrics
