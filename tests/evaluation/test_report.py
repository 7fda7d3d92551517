"""Score tables, plots and written metrics show each score next to its chance level."""

import numpy as np
import pandas as pd
import pytest

from bci_app.errors import DataError
from bci_app.evaluation.figures import chance_caption
from bci_app.evaluation.pseudo_online import finish_pseudo_online
from bci_app.evaluation.report import (
    SCORE_COLUMNS,
    format_metrics_table,
    format_score_table,
    paradigm_chance,
    plot_scores,
    score_table,
)
from bci_app.evaluation.scoring import score_decisions

TASKS = ["left_hand", "right_hand"]


def _moabb_results(paradigm):
    return pd.DataFrame({"evaluation": "within-session", "paradigm": paradigm,
                         "pipeline": ["A", "A", "B", "B"], "subject": [1, 2, 1, 2],
                         "session": "0", "score": [0.9, 0.7, 0.6, 0.5]})


def test_chance_of_the_paradigm():
    # 2 classes: MOABB scores ROC-AUC, chance 0.5 whatever the balance; 3: accuracy, 1/3
    assert paradigm_chance(_moabb_results("left-right")) == (0.5, "ROC-AUC")
    assert paradigm_chance(_moabb_results("left-right-feet")) == (pytest.approx(1 / 3),
                                                                  "accuracy")
    with pytest.raises(DataError, match="chance level is unknown"):
        paradigm_chance(_moabb_results("left-right").drop(columns="paradigm"))


def test_score_table_shows_the_chance_level(tmp_path):
    table = score_table(_moabb_results("left-right-feet"))
    assert list(table.index) == ["A", "B"] and table.loc["A", "mean"] == pytest.approx(0.8)
    assert list(table.columns) == ["1", "2", "mean", "sd"]  # the subjects, then mean and sd
    assert table.attrs == {"chance": pytest.approx(1 / 3), "metric": "accuracy"}
    lines = format_score_table(table).splitlines()
    assert lines[0].split() == ["pipeline", "S1", "S2", "mean", "±", "sd", "chance"]
    assert lines[2].split()[-1] == "0.333" and lines[3].split()[-1] == "0.333"
    note = lines[lines.index("") - 1]  # the table's note, before the paired tests
    assert "chance: the accuracy of always deciding the most frequent class" in note
    assert plot_scores(_moabb_results("left-right"), tmp_path / "s.png").stat().st_size > 0


def _metrics_rows():
    """Two pipelines' pseudo-online metrics from hand-built runs: one right, one constant."""
    times = np.arange(1.0, 40.0, 0.5)
    events = [(0.0, 10.0, "left_hand"), (10.0, 10.0, "idle"), (20.0, 10.0, "right_hand"),
              (30.0, 10.0, "idle")]
    truth = np.where(times < 11, "left_hand", np.where(
        (times >= 21) & (times < 31), "right_hand", "idle"))
    rows = []
    for name, decisions in (("perfect", truth), ("always idle", np.full(truth.shape, "idle"))):
        m = score_decisions(events, times, decisions, 10, 10.0, TASKS, 0.5).metrics
        m.update(pipeline=name, subject="1", session="0", n_windows=int(times.size),
                 offline_accuracy=1.0, offline_nmcc=1.0, offline_majority_accuracy=0.5)
        rows.append(m)
    return rows


def test_metrics_csv_and_scores_txt_carry_the_chance_levels(tmp_path):
    rows = _metrics_rows()
    constant = rows[1]
    assert (constant["itr_bits_per_min"], constant["nmcc"]) == (0.0, 0.5)
    assert constant["accuracy"] == constant["majority_accuracy"]
    _, metrics = finish_pseudo_online([pd.DataFrame({"time": [0.0]})], rows, "hand",
                                      tmp_path)
    written = pd.read_csv(tmp_path / "metrics.csv")
    assert list(written.columns[:4]) == ["dataset", "pipeline", "subject", "session"]
    for _, key, _ in SCORE_COLUMNS:
        assert key in written.columns
    assert written.loc[1, "itr_bits_per_min"] == 0.0
    assert written.loc[1, "classes"] == "['idle', 'left_hand', 'right_hand']"
    text = format_metrics_table(metrics)
    header, _, first, second = text.splitlines()[:4]
    assert header.split()[:6] == ["pipeline", "S1", "nMCC", "shuffled", "ITR", "b/min"]
    assert first.startswith("perfect") and second.startswith("always idle")
    # always idle: nMCC 0.5, ITR 0, accuracy = the majority share; the shuffle of a constant
    # decoder is itself
    cells = second.split()[3:]  # after "always idle" and its S1 nMCC
    assert cells[:4] == ["0.500", "0.500", "0.00", "0.00"]
    assert cells[4] == cells[5] == cells[6] == f"{constant['majority_accuracy']:.3f}"
    assert "mutual" in text and "permuted" in text


def test_chance_caption_of_a_figure():
    caption = chance_caption({"accuracy": 0.61, "majority_accuracy": 0.5,
                              "shuffled_accuracy": 0.4, "nmcc": 0.7, "shuffled_nmcc": 0.5,
                              "itr_bits_per_min": 3.21, "shuffled_itr_bits_per_min": 0.2})
    assert caption == ("accuracy 0.61 (majority 0.50, shuffled 0.40); nMCC 0.70 (shuffled "
                       "0.50); ITR 3.2 bits/min (shuffled 0.2)")
    assert "shuffled n/a" in chance_caption({"accuracy": 0.5})
