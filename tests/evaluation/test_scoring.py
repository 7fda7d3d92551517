"""The one scoring of decisions against events: known answers computed by hand.

The labels of windows themselves are tested in tests/processing/test_labels.py.
"""

import numpy as np
import pytest

from bci_app.evaluation.metrics import binomial_chance_level
from bci_app.evaluation.scoring import (
    NOT_INFORMATIVE,
    LiveScorer,
    informative_chance,
    offline_columns,
    offline_scores,
    offline_trials,
    protocol_events,
    run_metrics,
    score_decisions,
)

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
    # the majority class (right_hand, 5 of 13): its accuracy, MCC 0, no information
    assert m["majority_accuracy"] == pytest.approx(5 / 13)
    assert (m["majority_nmcc"], m["majority_itr_bits_per_min"]) == (0.5, 0.0)
    # bits per decision: I(truth; decision) of the confusion matrix, by hand
    cm = np.array([[3, 1, 0], [0, 2, 2], [1, 1, 3]]) / 13
    rows, cols = cm.sum(1), cm.sum(0)
    bits = sum(cm[i, j] * np.log2(cm[i, j] / (rows[i] * cols[j]))
               for i in range(3) for j in range(3) if cm[i, j])
    assert m["itr_bits"] == pytest.approx(bits)
    # the seven non-zero cells: c_ij / 13 * log2(c_ij * 13 / (r_i * k_j)), r = k = (4, 4, 5)
    assert bits == pytest.approx((3 * np.log2(39 / 16) + np.log2(13 / 16) + 2 * np.log2(26 / 16)
                                  + 2 * np.log2(26 / 20) + 2 * np.log2(13 / 20)
                                  + 3 * np.log2(39 / 25)) / 13)
    assert m["itr_bits_per_min"] == pytest.approx(bits * 60)  # one decision per 1 s window
    assert m["itr_bits_per_min_overlapping"] == pytest.approx(bits * 120)  # every 0.5 s
    # Latency: the left cue (3-5 s) never gets two left decisions in a row within it; the
    # right cue (7-9 s) is confirmed by the second right decision, at 7.9 s.
    assert (m["n_cues"], m["detected_fraction"], m["latency_median_s"]) == \
        (2, 0.5, pytest.approx(0.9))
    # Left trial: 2 left / 2 right -> a tie, no decision (a miss); right trial: 3 of 5.
    assert [(t.label, t.decision, t.windows) for t in score.trials] == [
        ("left_hand", None, 4), ("right_hand", "right_hand", 5)]
    assert (score.trials_done, score.trials_correct) == (2, 1)
    assert score.trial_accuracy == m["trial_accuracy"] == 0.5
    assert m["majority_trial_accuracy"] == 0.5


def test_shuffled_chance_of_a_hand_built_run():
    """The run's 18 decisions permuted: 7 idle, 5 left, 6 right land on the scored windows
    (truth 4 idle, 4 left, 5 right); the expected accuracy is (4*7 + 4*5 + 5*6) / 18 / 13."""
    events, rows = _hand_run()
    times, _, decisions = zip(*rows)
    m = score_decisions(events, times, decisions, 10, 10.0, TASKS, 0.5).metrics
    assert (4 * 7 + 4 * 5 + 5 * 6) / 18 / 13 == pytest.approx(1 / 3)
    assert m["shuffled_accuracy"] == pytest.approx(1 / 3, abs=0.03)  # mean of 100
    assert m["shuffled_itr_bits_per_min"] == pytest.approx(m["shuffled_itr_bits"] * 60)
    again = score_decisions(events, times, decisions, 10, 10.0, TASKS, 0.5).metrics
    assert {k: v for k, v in again.items() if k.startswith("shuffled")} == \
        {k: v for k, v in m.items() if k.startswith("shuffled")}  # a fixed seed


def _one_cue_run(label, decision):
    """A 20 s run at 10 Hz cueing ``label`` throughout, decided ``decision`` every 0.5 s."""
    times = np.arange(1.0, 20.0, 0.5)
    return score_decisions([(0.0, 20.0, label)], times, [decision] * times.size, 10, 10.0,
                           TASKS, 0.5)


def test_pooled_runs_are_shuffled_within_themselves():
    """Two runs, each decided right by a constant decoder: permuting within each run changes
    nothing (a permutation across runs would halve the accuracy)."""
    runs = [_one_cue_run("left_hand", "left_hand"), _one_cue_run("right_hand", "right_hand")]
    m = run_metrics(runs, TASKS, 0.5, 1.0)
    assert (m["accuracy"], m["itr_bits"], m["trial_accuracy"]) == (1.0, 1.0, 1.0)
    assert (m["shuffled_accuracy"], m["shuffled_itr_bits"], m["shuffled_trial_accuracy"]) == \
        (1.0, 1.0, 1.0)
    assert m["shuffled_itr_bits_per_min"] == 60.0
    # Each cue is confirmed by the second decision after its onset: 1.5 s.
    assert (m["latency_median_s"], m["detected_fraction"]) == (1.5, 1.0)
    assert (m["shuffled_latency_median_s"], m["shuffled_detected_fraction"]) == (1.5, 1.0)
    # One run alone: a constant decoder of a single class transmits nothing.
    alone = runs[0].metrics
    assert (alone["itr_bits"], alone["shuffled_itr_bits"]) == (0.0, 0.0)
    wrong = _one_cue_run("left_hand", "right_hand").metrics
    assert (wrong["detected_fraction"], wrong["shuffled_detected_fraction"]) == (0.0, 0.0)
    assert np.isnan(wrong["latency_median_s"]) and np.isnan(wrong["shuffled_latency_median_s"])


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
    done, chance = [], []
    for k in range(0, len(times), 3):
        live.add(times[k:k + 3], decisions[k:k + 3])
        now = times[min(k + 2, len(times) - 1)] + 0.05
        score = live.score([m for m in markers if m[0] <= now])
        done.append(score.trials_done)
        chance.append(score.metrics and score.metrics["shuffled_accuracy"])
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
    # The shuffled chance level is computed with the first scored window, then once 2 s of
    # decisions have come since: batches end at 2.4, 3.9, 5.4, 7.4, 8.9 and 10.4 s, so it
    # is computed at 2.4, 5.4, 7.4 and 10.4 s and carried over at 3.9 and 8.9 s.
    assert None not in chance
    assert chance[1] == chance[0] != chance[2] != chance[3] == chance[4] != chance[5]


def test_no_decision_no_score():
    score = LiveScorer(TASKS, 10.0, 10, 0.5).score([])
    assert score.windows == 0 and np.isnan(score.window_accuracy) and score.metrics is None
    score = score_decisions([(0.0, 0.0, "run_start")], [], [], 10, 10.0, TASKS, 0.5)
    assert score.metrics is None and score.trials == []


def _hand_rest_run(n_trials=20, imagery_s=6.0, step_s=0.1, seed=0):
    """Affected hand vs rest at 10 Hz, 1 s windows: ``n_trials`` cues alternating
    right_hand / rest, each ``imagery_s`` long after 2 s of idle; a random decoder of the two
    (idle, right_hand) every ``step_s``."""
    events, t = [], 0.0
    for k in range(n_trials):
        events += [(t, 2.0, "idle"), (t + 2.0, imagery_s, ("right_hand", "rest")[k % 2])]
        t += 2.0 + imagery_s
    times = np.arange(1.0, t, step_s)
    decisions = np.random.default_rng(seed).choice(["idle", "right_hand"], times.size)
    return score_decisions(events, times, decisions, 10, 10.0, ["right_hand", "rest"], step_s)


def test_trial_accuracy_has_its_binomial_chance_level():
    """20 trials of hand vs rest (two cued classes: the hand, and rest expecting idle): the
    trial accuracy must reach 15/20 for p < 0.05, whatever the decisions."""
    m = _hand_rest_run(20).metrics
    assert m["n_trials"] == 20
    assert m["binomial_trial_accuracy"] == binomial_chance_level(20, 2) == 0.75
    assert m["majority_trial_accuracy"] == 0.5
    # Two hands cued: two classes too; a model's own idle class is no cue.
    runs = [_one_cue_run("left_hand", "left_hand"), _one_cue_run("right_hand", "right_hand")]
    assert run_metrics(runs, ["idle"] + TASKS, 0.5, 1.0)["binomial_trial_accuracy"] == np.inf
    three = run_metrics(runs, ["left_hand", "right_hand", "feet"], 0.5, 1.0)
    assert three["n_trials"] == 2 and three["binomial_trial_accuracy"] == np.inf


def test_shuffled_detection_with_long_imagery_is_not_informative():
    """With 6 s imagery periods and a decision every 0.1 s, a random order of two decisions
    holds two in a row naming the cue in every cue: the shuffled chance of "cues detected"
    is the best possible score, and is said to be not informative; the trial accuracy's
    binomial level still is."""
    m = _hand_rest_run(20).metrics
    assert m["n_cues"] == 10
    assert m["shuffled_detected_fraction"] == 1.0
    assert not informative_chance(m["shuffled_detected_fraction"])
    assert informative_chance(m["binomial_trial_accuracy"])
    assert informative_chance(m["shuffled_accuracy"])
    assert informative_chance(float("nan"))  # not computed: shown as n/a
    assert NOT_INFORMATIVE == "not informative"
    # Short imagery and sparse decisions: shuffled decisions miss some cues, informative.
    short = _hand_rest_run(20, imagery_s=1.0, step_s=0.5).metrics
    assert short["shuffled_detected_fraction"] < 1.0
    assert informative_chance(short["shuffled_detected_fraction"])


def test_offline_trials_of_hand_vs_rest_are_hand_and_cued_rest():
    events = [(0.0, 5.0, "baseline"), (5.0, 1.0, "fixation"), (6.5, 3.0, "rest"),
              (9.5, 2.0, "idle"), (12.0, 3.0, "right_hand"), (15.0, 2.0, "idle"),
              (17.0, 3.0, "left_hand")]
    # Hand vs rest: the hand and the cued rest (expecting idle); baseline and inter-trial
    # idle are no trials, nor a class that is not cued.
    assert offline_trials(events, ["right_hand"], ["right_hand", "rest"]) == [
        (6.5, 3.0, "idle"), (12.0, 3.0, "right_hand")]
    # Two hands: the hand trials only, as before (a "rest" event is no trial).
    assert offline_trials(events, TASKS, TASKS) == [(12.0, 3.0, "right_hand"),
                                                   (17.0, 3.0, "left_hand")]
    assert offline_trials(events, TASKS) == offline_trials(events, TASKS, TASKS)
    # Decided among the model's idle and hand classes; two hands: the hands only.
    model = ["idle", "left_hand", "right_hand"]
    assert offline_columns(model, ["right_hand"], ["right_hand", "rest"]) == (
        [0, 2], ["idle", "right_hand"])
    assert offline_columns(model, TASKS, TASKS) == ([1, 2], TASKS)


def test_offline_scores_with_chance_levels_on_the_same_trials():
    truth = ["idle"] * 10 + ["right_hand"] * 10
    pred = ["idle"] * 8 + ["right_hand"] * 2 + ["right_hand"] * 9 + ["idle"]
    m = offline_scores(truth, pred, 2)
    assert m["offline_accuracy"] == 17 / 20
    assert m["offline_majority_accuracy"] == 0.5
    # Permuted decisions: 9 idle, 11 right_hand over 10/10 truths -> (9 + 11) / 20 = 0.5.
    assert m["offline_shuffled_accuracy"] == pytest.approx(0.5, abs=0.03)
    assert (m["offline_n_trials"], m["offline_n_classes"]) == (20, 2)
    assert m["offline_binomial_accuracy"] == 0.75
    # A decoder scored on one class only (hand trials, hand decisions) is perfect beside a
    # chance of 1: the offline score of hand vs rest must hold the rest trials.
    one = offline_scores(["right_hand"] * 5, ["right_hand"] * 5, 2)
    assert one["offline_accuracy"] == one["offline_majority_accuracy"] == 1.0
    empty = offline_scores([], [], 2)
    assert empty["offline_n_trials"] == 0 and np.isnan(empty["offline_accuracy"])
