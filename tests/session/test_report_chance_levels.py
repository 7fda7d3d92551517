"""Chance levels the session report and the course show: the binomial level beside trial
accuracy, and a chance level that reaches the best possible score said to be not
informative (not shown as a bar to clear)."""

import re
from types import SimpleNamespace

import numpy as np
import pandas as pd

from bci_app.evaluation.scoring import score_decisions
from bci_app.session.course import course_display, course_row
from bci_app.session.report import SUMMARY_KEYS, _chance_cell, _score_rows, render_runs_table


def _hand_rest_online(n_trials=20, imagery_s=6.0, seed=0):
    """An online run of hand vs rest at 10 Hz, 1 s windows, a decision every 0.1 s drawn at
    random: shuffled decisions detect every 6 s cue."""
    events, t = [], 0.0
    for k in range(n_trials):
        events += [(t, 2.0, "idle"), (t + 2.0, imagery_s, ("right_hand", "rest")[k % 2])]
        t += 2.0 + imagery_s
    times = np.arange(1.0, t, 0.1)
    decisions = np.random.default_rng(seed).choice(["idle", "right_hand"], times.size)
    return score_decisions(events, times, decisions, 10, 10.0, ["right_hand", "rest"], 0.1)


def test_the_runs_table_shows_the_binomial_level_and_an_uninformative_chance():
    score = _hand_rest_online()
    m = score.metrics
    assert m["shuffled_detected_fraction"] == 1.0 and m["binomial_trial_accuracy"] == 0.75
    run = SimpleNamespace(index=2, run_type="online", protocol="hand vs rest",
                          status="complete", n_trials=20, bids_path="sub-01_run-02_eeg.vhdr",
                          error=None)
    html, summary = render_runs_table([run], {2: {"metrics": m, "score": score,
                                                  "n_trials": score.trials_done}})
    assert html.count("chance (binomial p&lt;0.05)") == 1
    cells = re.findall(r"<td[^>]*>(.*?)</td>", re.findall(r"<tr><td>2</td>(.*?)</tr>",
                                                          html)[0])
    # type, protocol, status, trials; window accuracy + 2 chances; trial accuracy + 3.
    assert cells[7:11] == [f"{m['trial_accuracy']:.2f}",
                           f"{m['majority_trial_accuracy']:.2f}",
                           f"{m['shuffled_trial_accuracy']:.2f}", "0.75"]
    # nMCC + 1, ITR + 1, then cues detected and its shuffled chance: not informative.
    assert cells[15:17] == [f"{m['detected_fraction']:.2f}", "not informative"]
    assert summary[2]["binomial_trial_accuracy"] == 0.75
    assert "binomial_trial_accuracy" in SUMMARY_KEYS


def test_too_few_trials_for_any_significant_accuracy():
    score = _hand_rest_online(n_trials=4)
    run = SimpleNamespace(index=1, run_type="online", protocol="p", status="complete",
                          n_trials=4, bids_path="r.vhdr", error=None)
    html, _ = render_runs_table([run], {1: {"metrics": score.metrics, "score": score,
                                            "n_trials": 4}})
    assert "too few trials" in html


def _summary(scores):
    return {"session": "01", "date": "2026-03-02T14:03:07+01:00", "scores": scores}


def test_the_session_scores_and_the_course_say_when_chance_is_not_informative():
    scores = {"trial_accuracy": 0.8, "majority_trial_accuracy": 0.5,
              "shuffled_trial_accuracy": 0.5, "binomial_trial_accuracy": 0.65,
              "detected_fraction": 1.0, "shuffled_detected_fraction": 1.0,
              "accuracy": 0.7, "majority_accuracy": 0.6, "shuffled_accuracy": 0.52}
    rows = {label: chance for label, _, chance in _score_rows(scores)}
    assert rows["trial success"] == ("0.50 (majority), 0.50 (shuffled), "
                                     "0.65 needed for p<0.05 (binomial)")
    # Six trials: only all six right is significant. That is a bar a decoder can clear,
    # not a chance score that reaches the best one: said as it is.
    six = {**scores, "trial_accuracy": 1.0, "binomial_trial_accuracy": 1.0}
    rows6 = {label: chance for label, _, chance in _score_rows(six)}
    assert rows6["trial success"].endswith("1.00 needed for p<0.05 (binomial)")
    assert "not informative" not in rows6["trial success"]
    assert _chance_cell(1.0, "trial_accuracy", 2, "binomial_trial_accuracy") == "1.00"
    assert _chance_cell(1.0, "detected_fraction", 2, "shuffled_detected_fraction") == \
        "not informative"
    assert rows["cues detected"].startswith("not informative (shuffled 1.00: chance "
                                            "reaches the best possible score)")
    row = course_row(_summary(scores))
    # The bar a score must clear: the highest informative level (binomial for trials).
    assert row["trial_accuracy_chance"] == 0.65 and row["trial_accuracy_chance_informative"]
    assert np.isnan(row["detected_fraction_chance"])
    assert not row["detected_fraction_chance_informative"]
    header, cells = course_display(pd.DataFrame([row]))
    cell = dict(zip(header, cells[0]["cells"]))
    assert cell["trial success (chance)"] == "0.80 (0.65)"
    assert cell["cues detected (chance)"] == "1.00 (not informative)"
    assert cell["window accuracy (chance)"] == "0.70 (0.60)"
    # A summary written before the binomial level: the other levels, as before.
    old = course_row(_summary({"trial_accuracy": 0.8, "majority_trial_accuracy": 0.5,
                               "shuffled_trial_accuracy": 0.55}))
    assert old["trial_accuracy_chance"] == 0.55 and old["detected_fraction_chance_informative"]
