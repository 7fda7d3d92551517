"""The session report as a clinical record: local time without milliseconds, operator,
duration, patient details as given, the runs the decoder was trained on, a table of trials
(with trials without decision and windows without decision), chance beside every score.

A simulated session as ``bci-app session`` leaves it (tests/session/test_course.py): a
calibration run and an online run decoded by a trained model, whose recorded decisions are
then given windows without decision (bad signal) in two trials.
"""

import re
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from html import unescape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bci_app.session import RecordingStore
from bci_app.session.course import SUMMARY_NAME, duration_text, local_time, read_summary
from bci_app.session.report import build_report, online_run_metrics, trial_rows
from tests.session.test_course import (
    WINDOW_S,
    record_simulated_session,
    train_simulated_model,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STARTED = "2026-02-03T10:15:00+01:00"


def test_local_time_has_the_zone_and_no_milliseconds():
    text = local_time("2026-03-02T14:03:07.512+01:00")
    assert re.fullmatch(r"2026-03-02 14:03:07 ([A-Z]+ \()?UTC\+01:00\)?", text), text
    assert local_time("2026-03-02T14:03:07.512+01:00", seconds=False).startswith(
        "2026-03-02 14:03 ")
    assert local_time("") == "n/a" and local_time("yesterday") == "n/a"
    assert duration_text(3 * 3600 + 5 * 60 + 9) == "3 h 05 min"
    assert duration_text(754.4) == "12 min 34 s" and duration_text(None) == "n/a"


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """A session of a patient with sex and handedness given, an operator and a training
    record; in its online run, trial 2 has 3 windows without decision and trial 4 none
    decided at all."""
    store = RecordingStore(tmp_path_factory.mktemp("report") / "recordings")
    store.create_subject("P02", age=47, sex="M", hand="L", affected_side="right",
                         notes="left MCA stroke <2025>")
    session = record_simulated_session(store, "P02", STARTED, 1.0, train_simulated_model(),
                                       seed=3, operator="  Dr.  B. Jones ")
    session.update(training={"runs": [1], "classes": ["left_hand", "right_hand"],
                             "scores": [], "models": {}})
    online = next(r for r in session.runs if r.run_type == "online")
    path = online.predictions_path
    frame = pd.read_csv(path, sep="\t")
    events = online_run_metrics(online)["score"].trials
    probabilities = [c for c in frame.columns if c.startswith("p_")]
    second, fourth = events[1], events[3]
    # trial 2: three windows wholly inside its imagery period without decision
    inside = np.flatnonzero((frame["onset"] > second.onset + WINDOW_S + 0.1)
                            & (frame["onset"] < second.onset + second.duration - 0.1))[:3]
    # trial 4: every window that overlaps its imagery period without decision
    overlapping = np.flatnonzero((frame["onset"] > fourth.onset)
                                 & (frame["onset"] < fourth.onset + fourth.duration
                                    + WINDOW_S))
    frame.loc[np.concatenate([inside, overlapping]), probabilities] = np.nan
    frame.to_csv(path, sep="\t", index=False, na_rep="n/a", float_format="%.6f")
    return session


@pytest.fixture(scope="module")
def report(session):
    """The session's report: (path, scores per online run)."""
    return build_report(session)


def test_the_report_is_a_clinical_record(session, report):
    path, per_run = report
    html = path.read_text(encoding="utf-8")
    rows = {k: unescape(v) for k, v in re.findall(
        r'<tr><th class="l">([^<]+)</th><td class="l">([^<]*)</td></tr>', html)}
    assert rows["Patient"] == "sub-P02" and rows["Age"] == "47 years"
    assert rows["Sex"] == "male" and rows["Handedness"] == "left"
    assert rows["Affected side"] == "right side affected"
    assert rows["Notes"] == "left MCA stroke <2025>"
    assert "stroke &lt;2025&gt;" in html  # escaped, never markup
    assert rows["Operator"] == "Dr. B. Jones"
    assert rows["Date"] == local_time(STARTED)
    assert not re.search(r"\d\d:\d\d:\d\d\.\d", html)  # no fraction of a second anywhere
    summary = read_summary(session.derivatives / SUMMARY_NAME)
    assert rows["Duration"].startswith(duration_text(summary["duration_s"]) + " (")
    assert summary["duration_s"] > 8 * 60  # the online run started 8 min after
    assert rows["Decoder trained on"] == ("runs 1; classes left_hand, right_hand (from this "
                                          "session's training)")
    assert "left vs right hand (online)" in rows["Protocol(s)"]
    assert rows["Report created"].startswith(local_time(summary["written"])[:13])
    # Chance beside every score of the session
    scores = re.search(r"Session scores.*?</table>", html, re.DOTALL).group(0)
    for label in ("trial success", "window accuracy", "nMCC", "ITR (bits/min)",
                  "detection latency (s)"):
        cell = re.search(rf"<td class=\"l\">{re.escape(label)}</td><td>[^<]+</td>"
                         r"<td class=\"l\">([^<]+)</td>", scores)
        assert cell and "(shuffled)" in cell.group(1), label
    assert set(per_run) == {2}


def test_the_trial_table_names_each_cue_and_its_decision(session, report):
    online = next(r for r in session.runs if r.run_type == "online")
    result = online_run_metrics(online)
    rows = trial_rows(result["score"])
    score = result["score"]
    # One row per cued trial, in the order of the recording's cues
    assert [r["cued"] for r in rows] == [t.label for t in score.trials]
    assert [r["number"] for r in rows] == list(range(1, len(rows) + 1))
    assert len(rows) == result["n_trials"] == 12
    assert rows[1]["artifact_windows"] == 3
    assert rows[3]["artifact_windows"] == rows[3]["windows"] > 0
    assert rows[3]["decided"] == "no decision" and rows[3]["correct"] == "no"
    assert rows[3]["latency"] == "not detected"
    # the others have none (the rest of the run's windows without decision are idle time)
    assert sum(r["artifact_windows"] for r in rows) == 3 + rows[3]["windows"]
    assert score.artifacts >= 3 + rows[3]["windows"]
    for r, t in zip(rows, score.trials):
        assert r["correct"] == ("yes" if r["decided"] == t.truth else "no")
    # skill 1.0: most other trials are decided right; a cue's latency lies in its period
    decided = [r for k, r in enumerate(rows) if k != 3]
    assert sum(r["correct"] == "yes" for r in decided) >= 8
    for r, t in zip(rows, score.trials):
        assert r["latency"] == "not detected" or 0 < float(r["latency"]) <= t.duration
    assert sum(r["latency"] != "not detected" for r in decided) >= 8
    # ... and the report shows the table
    html = report[0].read_text(encoding="utf-8")
    table = re.search(r"<h2>Online run 2</h2>.*?</table>", html, re.DOTALL).group(0)
    assert table.count("<tr>") == 13 and "no decision" in table


def test_the_runs_trained_on_come_from_the_log_without_a_training_record(tmp_path):
    store = RecordingStore(tmp_path / "recordings")
    store.create_subject("P03")
    session = store.new_session("P03")
    session.log("training_saved", runs=[2, 3], classes=["left_hand", "rest"])
    html = build_report(session)[0].read_text(encoding="utf-8")
    assert "runs 2, 3; classes left_hand, rest (from the session log)" in html
    # age, sex, handedness, affected side, operator
    assert html.count('<td class="l">not given</td>') == 5
    assert "No online run scored in this session." in html


def test_operator_is_stored_with_the_session(tmp_path):
    store = RecordingStore(tmp_path / "recordings")
    store.create_subject("P04")
    session = store.new_session("P04")
    assert session.operator == ""
    assert session.set_operator("  A.   Nurse ") == "A. Nurse"
    session.set_operator("A. Nurse")  # unchanged: logged once
    again = store.open_session("P04", session.label)
    assert again.operator == "A. Nurse"
    assert [e["operator"] for e in again.entries() if e["event"] == "operator"] == [
        "A. Nurse"]


def test_the_template_ships_with_the_package_and_the_report_needs_no_qt():
    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    tool = config["tool"]["setuptools"]
    assert "bci_app.session.templates" in tool["packages"]
    shipped = tool["package-data"]["bci_app.session.templates"]
    templates = list((PROJECT_ROOT / "bci_app" / "session" / "templates").iterdir())
    assert templates and all(any(fnmatch(p.name, g) for g in shipped) for p in templates)
    assert any(r.startswith("jinja2") for r in config["project"]["dependencies"])
    code = ("import sys, bci_app.session.report, bci_app.session.course; "
            "print(sorted(m for m in sys.modules if m.startswith('PySide6')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.strip() == "[]"
