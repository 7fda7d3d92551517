"""A patient's course: three simulated sessions, each with its report and summary, then the
course table (one row per session, with its date and scores) and its plot.

Each session is recorded as ``bci-app session`` would leave it in BIDS: a simulated
calibration run, and an online run decoded by a model really trained on a calibration run
(its decisions from a sweep of the run, recorded as the run's predictions). The simulated
subject's skill grows from session to session, as a patient's might.
"""

import datetime as dt
import functools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bci_app.session import RecordingStore
from bci_app.session.course import (
    SUMMARY_NAME,
    course_png,
    course_table,
    local_time,
    read_summary,
)
from bci_app.session.report import build_report

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CLASSES = ("left_hand", "right_hand")
WINDOW_S, STEP_S = 2.0, 0.25
#: (session start, skill of the simulated subject): three sessions a week apart.
COURSE = (("2026-01-05T09:30:00+01:00", 0.3), ("2026-01-12T09:30:00+01:00", 0.7),
          ("2026-01-19T09:30:00+01:00", 1.0))


def _simulated(skill, seed, trials):
    from bci_app.acquisition.simulation import make_trial_schedule, simulate_mi_raw

    raw = simulate_mi_raw(make_trial_schedule(classes=CLASSES, n_trials_per_class=trials,
                                              imagery=4.0, seed=seed),
                          skill=skill, seed=seed, artifacts=False)
    raw.info["line_freq"] = 50.0
    return raw


@functools.cache
def train_simulated_model():
    """ACM+MDM (idle a class) trained on a simulated calibration run: (model, config).

    Trained once per test process (the course, its GUI view and the report tests decode
    with the same model; nothing adapts it)."""
    from bci_app.decoding.loading import read_model_file
    from bci_app.online.training import train_decoder
    from bci_app.processing.calibration import PseudoOnlineConfig
    from bci_app.processing.runs import run_from_raw

    cfg = PseudoOnlineConfig(classes=CLASSES, window_s=WINDOW_S, step_s=STEP_S)
    spec = read_model_file(PROJECT_ROOT / "models" / "acm_mdm.yml")
    model, _ = train_decoder(spec.pipeline, [run_from_raw(_simulated(1.0, 100, 8))], cfg)
    return model, cfg


def _write(session, raw, run_type, started, predictions=None, model_meta=None, trials=6):
    from bci_app.session.bids import XdfRun, write_run

    number = session.next_run()
    sidecar = {"BciAppProtocol": {"name": f"left vs right hand ({run_type})",
                                  "run_type": run_type, "classes": list(CLASSES),
                                  "trials_per_class": trials, "markers": {}},
               "BciAppRecording": {"status": "complete", "started": started}}
    if model_meta:
        sidecar["BciAppModel"] = model_meta
    write_run(XdfRun(raw=raw, markers=[], predictions=predictions, eeg={"name": "simulated"}),
              session.root, session.subject, session.label, run_type, number, sidecar=sidecar)
    return number


#: (skill, seed, id of the model) -> the simulated runs and decisions of a session.
_SIMULATED_SESSIONS = {}


def _simulated_session(skill, seed, trained):
    """(calibration raw, online raw, its decisions by ``trained``) of a simulated session;
    computed once per test process for the same subject, seed and model (the course and its
    GUI view record the same sessions), copies given out."""
    from bci_app.online.engine import WindowedDecoder

    key = (skill, seed, id(trained[0]))
    if key not in _SIMULATED_SESSIONS:
        model, cfg = trained
        raw = _simulated(skill, seed + 1, 6)
        decoder = WindowedDecoder(model, raw.info["sfreq"], raw.ch_names, WINDOW_S, STEP_S,
                                  l_freq=cfg.l_freq, h_freq=cfg.h_freq, smoothing=2)
        pred = decoder.sweep(raw.get_data())
        frame = pd.DataFrame({"onset": pred.times, "decision": pred.decisions})
        for k, c in enumerate(pred.classes):
            frame[f"p_{c}"] = pred.smoothed[:, k]
        _SIMULATED_SESSIONS[key] = (_simulated(skill, seed, 6), raw, frame, trained)
    calibration, online, frame, _ = _SIMULATED_SESSIONS[key]
    return calibration.copy(), online.copy(), frame.copy()


def record_simulated_session(store, subject, started, skill, trained, seed=0,
                             operator="J. Doe"):
    """A new session of ``subject``: a calibration run and an online run (6 trials per
    class each) of a simulated subject of this ``skill``, the online run decoded by
    ``trained`` (:func:`train_simulated_model`). Returns the session."""
    session = store.new_session(subject)
    session.set_operator(operator)
    start = dt.datetime.fromisoformat(started)
    calibration, raw, frame = _simulated_session(skill, seed, trained)
    _write(session, calibration, "calibration", started)
    _write(session, raw, "online", (start + dt.timedelta(minutes=8)).isoformat(), frame,
           {"name": "ACM+MDM", "window_s": WINDOW_S, "step_s": STEP_S})
    return session


@pytest.fixture(scope="module")
def trained():
    return train_simulated_model()


@pytest.fixture(scope="module")
def course(tmp_path_factory, trained):
    """Three sessions of one patient, each with its report: (store, sessions, reports)."""
    store = RecordingStore(tmp_path_factory.mktemp("course") / "recordings")
    store.create_subject("P01", age=61, sex="F", hand="R", affected_side="left")
    sessions, reports = [], []
    for k, (started, skill) in enumerate(COURSE):
        session = record_simulated_session(store, "P01", started, skill, trained, seed=10 * k)
        reports.append(build_report(session))
        sessions.append(session)
    return store, sessions, reports


def test_each_session_stores_its_summary_with_chance_levels(course):
    _, sessions, reports = course
    for session, (started, _), (path, per_run) in zip(sessions, COURSE, reports):
        summary = read_summary(session.derivatives / SUMMARY_NAME)
        assert summary["subject"] == "P01" and summary["session"] == session.label
        assert summary["date"] == started  # the first run's start, local time, seconds
        assert summary["operator"] == "J. Doe"
        assert summary["n_runs"] == {"calibration": 1, "online": 1}
        assert summary["n_trials"]["calibration"] == 12
        online = summary["online_runs"]
        assert online == [2] and set(per_run) == {2}
        # One online run: the session's scores are the run's (those of the report's table)
        for key in ("accuracy", "trial_accuracy", "nmcc", "itr_bits_per_min",
                    "majority_accuracy", "shuffled_accuracy", "shuffled_nmcc",
                    "shuffled_itr_bits_per_min", "majority_trial_accuracy"):
            assert summary["scores"][key] == pytest.approx(per_run[2][key], abs=1e-12), key
        assert summary["n_trials"]["online"] == per_run[2]["n_trials"]
        erd = summary["erd"]
        assert erd["classes"] == list(CLASSES) and erd["runs"] == [1]
        assert set(erd["channels"]) == {"C3", "C4"}
        assert all(0 < v["chance"] < 1 and 8 <= v["freq"] <= 30
                   for v in erd["channels"].values())
        assert summary["paths"]["report"] == str(path)
        # 8 min of online run after the calibration's start: the duration covers both
        assert summary["duration_s"] > 8 * 60


def test_course_table_has_one_row_per_session_with_its_date_and_scores(course):
    store, _, reports = course
    table = course_table(store, "P01")
    assert len(table) == 3
    assert list(table["session"]) == ["01", "02", "03"]
    assert list(table["date"]) == [started for started, _ in COURSE]
    for (_, row), (_, per_run) in zip(table.iterrows(), reports):
        for key in ("trial_accuracy", "accuracy", "nmcc", "itr_bits_per_min",
                    "shuffled_nmcc", "majority_trial_accuracy"):
            assert row[key] == pytest.approx(per_run[2][key], abs=1e-12)
    # The subject's skill grows: the last session decodes better than the first, and
    # beyond its chance level; the ERD at C3/C4 grows with it.
    assert table["nmcc"].iloc[2] > table["nmcc"].iloc[0]
    assert table["accuracy"].iloc[2] > table["shuffled_accuracy"].iloc[2]
    strongest = table[["r2_C3", "r2_C4"]].abs().max(axis=1)
    assert strongest.iloc[2] > strongest.iloc[0]
    assert strongest.iloc[2] > table[["r2_C3_chance", "r2_C4_chance"]].iloc[2].max()
    assert table.attrs["without_summary"] == []


def test_a_session_without_report_and_a_broken_summary_are_named(course):
    store, _, _ = course
    fresh = store.new_session("P01")
    assert fresh.label == "04"
    table = course_table(store, "P01")
    assert len(table) == 3 and table.attrs["without_summary"] == ["04"]
    broken = fresh.derivatives / SUMMARY_NAME
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_text("{ not json")
    table = course_table(store, "P01")
    assert len(table) == 3 and "04" in table.attrs["unreadable"]
    assert "create the session's report again" in table.attrs["unreadable"]["04"]
    broken.unlink()


def test_course_plot_and_the_report_show_the_course(course):
    import base64

    store, sessions, reports = course
    png = base64.b64decode(course_png(course_table(store, "P01")))
    assert png.startswith(b"\x89PNG")
    html = Path(reports[-1][0]).read_text(encoding="utf-8")
    assert "Course of the patient" in html
    # every session of the course is a row of the last report's course table
    for session, (started, _) in zip(sessions, COURSE):
        assert f"<td class=\"l\">ses-{session.label}</td>" in html
        assert local_time(started, seconds=False) in html
    # the earlier reports were made before the later sessions existed
    first = Path(reports[0][0]).read_text(encoding="utf-8")
    assert "ses-03</td>" not in first


def test_summary_is_plain_json(course):
    _, sessions, _ = course
    text = (sessions[0].derivatives / SUMMARY_NAME).read_text()
    assert "NaN" not in text and "Infinity" not in text
    data = json.loads(text)
    assert all(v is None or np.isfinite(v) for v in data["scores"].values())
