"""The table of runs of the session report: every score next to its chance levels."""

import re
from types import SimpleNamespace

import numpy as np

from bci_app.evaluation.scoring import score_decisions
from bci_app.session.report import SUMMARY_KEYS, render_runs_table


def _run(index, run_type="online"):
    return SimpleNamespace(index=index, run_type=run_type, protocol="p", status="complete",
                           n_trials=2, bids_path=f"sub-01_run-0{index}_eeg.vhdr", error=None)


def test_runs_table_puts_chance_beside_each_score():
    times = np.arange(1.0, 40.0, 0.5)
    events = [(0.0, 10.0, "left_hand"), (10.0, 10.0, "idle"), (20.0, 10.0, "right_hand"),
              (30.0, 10.0, "idle")]
    score = score_decisions(events, times, np.full(times.shape, "idle"), 10, 10.0,
                            ["left_hand", "right_hand"], 0.5)
    m = score.metrics
    results = {2: {"metrics": m, "score": score, "trial_accuracy": score.trial_accuracy,
                   "n_trials": score.trials_done}}
    html, summary = render_runs_table([_run(1, "calibration"), _run(2)], results)
    assert html.count("chance (majority)") == 2 and html.count("chance (shuffled)") == 6
    row = re.findall(r"<tr><td>2</td>(.*?)</tr>", html)[0]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
    # type, protocol, status, trials; then window accuracy, majority, shuffled (the decoder
    # always decides idle: all three equal); trial accuracy (both task trials missed),
    # majority (1 of 2 trials is left), shuffled and binomial (2 trials: no accuracy is
    # significant); nMCC 0.5 and its shuffle; ITR 0
    share = f"{m['majority_accuracy']:.2f}"
    assert html.count("chance (binomial p&lt;0.05)") == 1
    assert cells[:4] == ["online", "p", "complete", "2"]
    assert cells[4:7] == [share, share, share]
    assert cells[7:11] == ["0.00", "0.50", "0.00", "too few trials"]
    assert cells[11:15] == ["0.50", "0.50", "0.00", "0.00"]
    assert cells[15:19] == ["0.00", "0.00", "n/a", "n/a"]  # no cue detected: no latency
    assert cells[-1] == "sub-01_run-02_eeg.vhdr"
    assert set(summary) == {2} and set(SUMMARY_KEYS) <= set(summary[2])
    assert summary[2]["itr_bits_per_min"] == 0.0 and summary[2]["windows"] == score.windows
