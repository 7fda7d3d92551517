"""Scores on calibration runs: leave-one-run-out folds, mean over folds, the best pipeline."""

import numpy as np
import pytest

from bci_app.errors import DataError
from bci_app.evaluation.calibration_scores import (
    SCORE_KEYS,
    Fold,
    best_score,
    calibration_folds,
    mean_scores,
)
from bci_app.processing.runs import Run

CLASSES = ("left_hand", "right_hand")


def _run(name, labels):
    events = [(2.0 + 5 * k, 3.0, lab) for k, lab in enumerate(labels)]
    return Run(np.zeros((2, 1000)), 100.0, ["C3", "C4"], events, name=name)


def test_leave_one_run_out_tests_each_run_last():
    runs = [_run(n, ["left_hand", "right_hand"]) for n in ("r1", "r2", "r3")]
    folds = calibration_folds(runs, CLASSES)
    assert [[r.name for r in f.runs] for f in folds] == [
        ["r2", "r3", "r1"], ["r1", "r3", "r2"], ["r1", "r2", "r3"]]
    assert [f.split for f in folds] == [{"calibration_runs": 2}] * 3
    assert [f.name for f in folds] == ["test run 1", "test run 2", "test run 3"]
    assert all(isinstance(f, Fold) for f in folds)
    fold_runs, split, name = folds[0]  # still unpacks as the (runs, split, name) it was
    assert fold_runs[-1] is runs[0] and split == {"calibration_runs": 2} and name.endswith("1")


def test_two_runs_make_two_folds():
    folds = calibration_folds([_run("a", ["left_hand"]), _run("b", ["right_hand"])], CLASSES)
    assert [[r.name for r in f.runs] for f in folds] == [["b", "a"], ["a", "b"]]
    assert folds[0].split == {"calibration_runs": 1}


def test_one_run_is_split_in_halves_of_its_task_trials():
    run = _run("only", ["left_hand", "rest", "right_hand", "left_hand", "rest", "right_hand",
                        "feet", "left_hand"])
    (fold,) = calibration_folds([run], CLASSES)
    assert fold.runs == [run]
    assert fold.split == {"calibration_runs": 0, "calibration_trials": 2}  # 5 task trials
    assert fold.name == "first half / second half of the trials"


def test_folds_need_runs_and_four_trials():
    with pytest.raises(DataError, match="No calibration run"):
        calibration_folds([], CLASSES)
    with pytest.raises(DataError, match="holds 3 trial"):
        calibration_folds([_run("r", ["left_hand", "right_hand", "left_hand", "rest"])],
                          CLASSES)


def test_mean_scores_average_the_finite_values_of_the_folds():
    per_fold = [dict.fromkeys(SCORE_KEYS, 0.5), dict.fromkeys(SCORE_KEYS, 1.0)]
    per_fold[1]["latency_median_s"] = float("nan")
    per_fold[0]["itr_bits_per_min"] = per_fold[1]["itr_bits_per_min"] = float("nan")
    score = mean_scores("MDM", per_fold)
    assert score["pipeline"] == "MDM" and score["folds"] == 2
    assert score["nmcc"] == 0.75 and score["accuracy"] == 0.75
    assert score["latency_median_s"] == 0.5
    assert np.isnan(score["itr_bits_per_min"])


def test_best_score_by_nmcc_with_nan_as_worst():
    scores = [{"nmcc": 0.2}, {"nmcc": float("nan")}, {"nmcc": 0.6}, {"nmcc": 0.4}]
    assert best_score(scores) == 2
    assert best_score(scores, "nmcc") == 2
    # All NaN (no test window scored): the first row, not an error in the view's slot.
    assert best_score([{"nmcc": float("nan")}, {"nmcc": float("nan")}]) == 0
    assert best_score([]) is None


def test_the_offline_binomial_level_is_that_of_all_the_folds_trials():
    """Two folds of 20 offline trials each (hand and rest): the mean accuracy is over 40
    trials, which must reach 26 right (0.65) for p < 0.05; one fold alone needs 0.75."""
    per_fold = [dict.fromkeys(SCORE_KEYS, 0.7) for _ in range(2)]
    for m in per_fold:
        m.update(offline_n_trials=20, offline_n_classes=2)
    score = mean_scores("FgMDM", per_fold)
    assert score["offline_n_trials"] == 40
    assert score["offline_binomial_accuracy"] == 0.65
    assert mean_scores("FgMDM", per_fold[:1])["offline_binomial_accuracy"] == 0.75
    assert "offline_shuffled_accuracy" in SCORE_KEYS
    # Folds without offline trials: no level.
    assert np.isnan(mean_scores("FgMDM", [dict.fromkeys(SCORE_KEYS, 0.5)])[
        "offline_binomial_accuracy"])
