"""Affected hand vs rest: the training's r² map compares rest with the hand, and its offline
score counts the hand and the rest trials, beside the chance levels of those same trials.

The runs are the shipped clinical protocol's, simulated with its own schedule and markers
(tests/evaluation/hand_rest_runs.py); the simulated EEG desynchronises the mu/beta rhythm
over C3 (left hemisphere) while the right hand is imagined.
"""

import pytest

from bci_app.decoding.loading import find_model
from bci_app.evaluation.metrics import binomial_chance_level
from bci_app.processing.runs import run_from_raw
from bci_app.session.training import TrainingRequest, run_training

from tests.evaluation.hand_rest_runs import SFREQ, hand_rest_raw

TRIALS = 6  # per class and run


@pytest.fixture(scope="module")
def trained(models_dir):
    runs = [run_from_raw(hand_rest_raw(seed=k, trials=TRIALS)[0], name=f"run-{k + 1}")
            for k in range(2)]
    request = TrainingRequest(runs, [find_model("MDM", models_dir)], ("right_hand",),
                              window_s=1.0, step_s=0.25, cued=("right_hand", "rest"))
    return runs, run_training(request)


def test_the_r2_map_of_hand_vs_rest_compares_rest_with_the_hand(trained):
    _, result = trained
    r2 = result.r2
    assert r2 is not None, "no r² map for hand vs rest"
    assert tuple(r2["classes"]) == ("rest", "right_hand")
    assert r2["n_trials"] == {"rest": 2 * TRIALS, "right_hand": 2 * TRIALS}
    # Less mu/beta power at C3 while the right hand is imagined: negative r² (ERD), strong.
    c3 = r2["ch_names"].index("C3")
    mu_beta = (r2["freqs"] >= 8) & (r2["freqs"] <= 30)
    assert r2["values"][c3, mu_beta].min() < -0.3


def test_the_offline_score_of_hand_vs_rest_counts_hand_and_rest_trials(trained):
    runs, result = trained
    (score,) = result.scores
    # Two folds (leave one run out): each tests one run's 6 hand and 6 rest trials.
    assert score["folds"] == 2
    assert score["offline_n_trials"] == 2 * 2 * TRIALS
    assert score["offline_majority_accuracy"] == 0.5  # balanced: not 1.0
    # 24 trials of 2 classes: 17 right (0.71) for p < 0.05
    assert score["offline_binomial_accuracy"] == binomial_chance_level(24, 2) == 17 / 24
    assert 0.3 < score["offline_shuffled_accuracy"] < 0.7
    # The decoder tells the simulated hand imagery from rest: above the binomial level.
    assert score["offline_binomial_accuracy"] <= score["offline_accuracy"] <= 1.0


def test_two_hands_keep_their_pair_and_their_hand_trials(models_dir):
    """Left vs right hand: the r² map compares the two hands and the offline score counts
    the hand trials only, though the runs hold rest periods (the simulator names its
    inter-trial rests "rest"; the protocol does not cue them)."""
    from bci_app.acquisition.simulation import make_trial_schedule, simulate_mi_raw

    runs = []
    for k in range(2):
        raw = simulate_mi_raw(make_trial_schedule(n_trials_per_class=TRIALS, imagery=3.0,
                                                  seed=k), sfreq=SFREQ, skill=1.0, seed=k,
                              artifacts=False)
        runs.append(run_from_raw(raw, name=f"run-{k + 1}"))
    assert any(e[2] == "rest" for e in runs[0].events)
    hands = ("left_hand", "right_hand")
    result = run_training(TrainingRequest(runs, [find_model("MDM", models_dir)], hands,
                                          window_s=1.0, step_s=0.25, cued=hands))
    assert tuple(result.r2["classes"]) == hands
    (score,) = result.scores
    assert score["offline_n_trials"] == 2 * 2 * TRIALS  # 6 left + 6 right per test run
    assert score["offline_majority_accuracy"] == 0.5
    assert score["offline_binomial_accuracy"] == 17 / 24
