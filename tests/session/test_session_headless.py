"""A whole headless session on the simulator, then its recordings as a MOABB dataset.

Calibration run recorded -> model trained from the BIDS recording and saved with the
session -> online run decoded with it (by ``bci-app session --operator NAME --report``),
predictions published and recorded, the report written -> both runs
read back through the recordings dataset and evaluated (pseudo-online and MOABB
within-session), as `bci-app pseudo-online/evaluate --dataset recordings/` do.
"""

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import pytest

from bci_app.errors import ConfigError
from bci_app.processing.calibration import PseudoOnlineConfig

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TIMING = """
[timing]
baseline_s = 2.5
fixation_s = 0.2
cue_s = 0.2
imagery_s = 1.5
iti_min_s = 0.4
iti_max_s = 0.5
"""
CALIBRATION = """name = "Short left/right calibration"
run_type = "calibration"
classes = ["left_hand", "right_hand"]
trials_per_class = 3
seed = 11
""" + TIMING
ONLINE = """name = "Short left/right online"
run_type = "online"
classes = ["left_hand", "right_hand"]
trials_per_class = 2
seed = 12
""" + TIMING
CFG = dict(classes=("left_hand", "right_hand"), window_s=1.0, step_s=0.1, crop_step_s=0.25,
           crop_offset_s=0.25)


def _tsv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """The session: its calibration run recorded by :func:`record_run`, a model trained on
    it, then its online run by ``bci-app session --operator NAME --report`` (in this
    process), which also writes the session's report."""
    import functools
    import io
    import re

    from bci_app.cli import session as cli_session
    from bci_app.session import RecordingStore, record_run, train_session_model

    base = tmp_path_factory.mktemp("session")
    (base / "short_lr.toml").write_text(CALIBRATION)
    (base / "short_lr_online.toml").write_text(ONLINE)
    root = base / "recordings"
    RecordingStore(root).create_subject("01", age=54, sex="F", affected_side="left",
                                        notes="simulated patient")
    calib = record_run(base / "short_lr.toml", root, "01", "01", skill=1.0, amp_seed=1,
                       artifacts=False)
    model, report = train_session_model(root, "01", "01", "mdm",
                                        cfg=PseudoOnlineConfig(**CFG))
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:  # what the command prints (pytest's capture
        # of stdout, suspended and resumed by live logging, would lose a redirection)
        mp.setattr(cli_session, "print", functools.partial(print, file=out), raising=False)
        code = cli_session.run(_args(
            "--protocol", str(base / "short_lr_online.toml"), "--subject", "01", "--session",
            "01", "--simulate", "--model", str(model), "--skill", "1.0", "--amp-seed", "2",
            "--smoothing", "2", "--operator", "  Dr.  C. Lee ", "--report", "--root",
            str(root)))
    out = out.getvalue()
    # What the command prints of its run: number, task, status, files, windows decoded.
    done = re.search(r"run (\d+) \((\w+)\) of sub-01 ses-01: (\w+), (\d+) markers\n"
                     r"  BIDS: (.+)\n  XDF:  (.+)\n  online: (\d+) windows", out)
    assert code == 0 and done, out
    online = {"run": int(done[1]), "task": done[2], "status": done[3],
              "bids_path": Path(done[5]), "xdf_path": Path(done[6]),
              "windows": int(done[7])}
    return {"root": root, "calib": calib, "online": online, "model": model,
            "report": report, "cli_out": out}


def test_calibration_run_is_bids_with_marker_events(session):
    calib, root = session["calib"], session["root"]
    assert calib.status == "complete" and calib.run == 1 and calib.task == "shortLr"
    assert calib.bids_path == root / "sub-01/ses-01/eeg/sub-01_ses-01_task-shortLr_run-01_eeg.vhdr"
    assert calib.xdf_path == root / ("sourcedata/sub-01/ses-01/eeg/"
                                     "sub-01_ses-01_task-shortLr_run-01_eeg.xdf")
    sidecar = json.loads(calib.bids_path.with_suffix(".json").read_text())
    first, sfreq = sidecar["BciAppRecording"]["first_lsl_timestamp"], sidecar["SamplingFrequency"]
    events = _tsv(calib.bids_path.with_name("sub-01_ses-01_task-shortLr_run-01_events.tsv"))
    assert [e["trial_type"] for e in events] == [m for _, m in calib.markers]
    onsets = np.array([float(e["onset"]) for e in events])
    sent = np.array([t for t, _ in calib.markers]) - first
    assert np.abs(onsets - sent).max() < 1.0 / sfreq
    imagery = [e for e in events if e["trial_type"] in ("left_hand", "right_hand")]
    assert len(imagery) == 6
    assert all(abs(float(e["duration"]) - 1.5) < 1.0 / sfreq for e in imagery)
    assert events[-1]["trial_type"] == "run_end"
    protocol = sidecar["BciAppProtocol"]
    assert protocol["file"].endswith("short_lr.toml") and protocol["seed"] == 11
    assert protocol["text"].startswith('name = "Short left/right calibration"')
    assert sidecar["BciAppModel"] is None
    assert sidecar["BciAppAmplifier"]["simulated"] is True
    assert sidecar["BciAppRecording"]["status"] == "complete"
    (row,) = _tsv(root / "participants.tsv")
    assert (row["participant_id"], row["age"], row["sex"], row["affected_side"]) == \
        ("sub-01", "54", "F", "left")
    scans = _tsv(root / "sub-01/ses-01/sub-01_ses-01_scans.tsv")
    assert sorted(s["filename"] for s in scans) == sorted([
        "eeg/sub-01_ses-01_task-shortLr_run-01_eeg.vhdr",
        "eeg/sub-01_ses-01_task-shortLrOnline_run-02_eeg.vhdr"])


def test_model_saved_with_the_session(session):
    from bci_app.decoding.persistence import load_model

    root, model = session["root"], session["model"]
    assert model.parent == root / "derivatives/bci-app/sub-01/ses-01/models"
    trained = load_model(model)
    assert trained.classes == ["idle", "left_hand", "right_hand"]
    assert trained.trained_on["runs"] == ["sub-01_ses-01_task-shortLr_run-01_eeg.vhdr"]
    assert session["report"]["windows_per_class"]["left_hand"] == 6


def test_online_run_records_predictions(session):
    import pyxdf

    online, root = session["online"], session["root"]
    assert online["status"] == "complete" and online["run"] == 2
    assert online["task"] == "shortLrOnline"
    assert online["bids_path"] == root / ("sub-01/ses-01/eeg/"
                                          "sub-01_ses-01_task-shortLrOnline_run-02_eeg.vhdr")
    assert online["windows"] > 50
    streams, _ = pyxdf.load_xdf(str(online["xdf_path"]), verbose=False)
    types = {s["info"]["type"][0]: s for s in streams}
    assert set(types) == {"EEG", "Markers", "Predictions"}
    pred = types["Predictions"]
    assert len(pred["time_stamps"]) > 50
    sidecar = json.loads(online["bids_path"].with_suffix(".json").read_text())
    assert sidecar["BciAppRecording"]["status"] == "complete"
    assert sidecar["BciAppModel"]["file"] == \
        "derivatives/bci-app/sub-01/ses-01/models/sub-01_ses-01_mdm.bcimodel"
    assert sidecar["BciAppModel"]["classes"] == ["idle", "left_hand", "right_hand"]
    assert len(sidecar["BciAppModel"]["sha256"]) == 64
    assert sidecar["BciAppRecording"]["predictions"] == len(pred["time_stamps"])
    table = _tsv(root / "derivatives/bci-app/sub-01/ses-01/eeg/"
                 "sub-01_ses-01_task-shortLrOnline_run-02_predictions.tsv")
    assert len(table) == len(pred["time_stamps"])
    assert {r["decision"] for r in table} <= {"idle", "left_hand", "right_hand"}
    assert list(table[0])[:3] == ["onset", "lsl_time", "p_idle"]
    log = [json.loads(line)["event"] for line in (
        root / "sourcedata/sub-01/ses-01/sub-01_ses-01_log.jsonl").read_text().splitlines()]
    assert log == ["session_created", "run_started", "run_stopped", "run_converted",
                   "run_saved", "model_saved", "training_saved", "operator", "run_started",
                   "run_stopped", "run_converted", "run_saved"]


def test_recordings_folder_as_moabb_dataset(session, tmp_path):
    from bci_app.decoding.loading import read_model_file
    from bci_app.evaluation.datasets import resolve_dataset
    from bci_app.evaluation.offline import evaluate_models
    from bci_app.evaluation.pseudo_online import run_pseudo_online
    from bci_app.evaluation.recordings import dataset_sessions

    dataset = resolve_dataset(str(session["root"]), None, "left-right")
    assert dataset.subject_list == [1] and dataset.interval == [0.0, 1.5]
    ((name, runs),) = list(dataset_sessions(dataset, 1))
    assert name == "01" and [r.name for r in runs] == ["01", "02"]
    assert sum(label == "left_hand" for _, _, label in runs[0].events) == 3
    spec = read_model_file(PROJECT_ROOT / "models" / "mdm.yml")
    cfg = PseudoOnlineConfig(calibration_runs=1, **CFG)
    _, metrics = run_pseudo_online([spec], dataset, cfg, progress=False)
    assert len(metrics) == 1 and metrics["n_windows"].iloc[0] > 50
    assert np.isfinite(metrics["nmcc"].iloc[0])
    results = evaluate_models([spec], dataset, "left-right", "within-session",
                              progress=False)
    assert len(results) == 1 and results["samples"].iloc[0] == 10
    assert 0.0 <= results["score"].iloc[0] <= 1.0


def _args(*argv):
    from bci_app.cli.session import add_parser

    parser = argparse.ArgumentParser(prog="bci-app")
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["session", *argv])


def test_cli_errors_and_recover(tmp_path):
    from bci_app.cli.session import run

    root = str(tmp_path / "rec")
    with pytest.raises(ConfigError, match="no_such_protocol.toml"):
        run(_args("--protocol", str(tmp_path / "no_such_protocol.toml"), "--subject", "01",
                  "--simulate", "--root", root))
    with pytest.raises(ConfigError, match="--model"):
        run(_args("--protocol", "left_right_hand_online", "--subject", "01", "--simulate",
                  "--root", root))
    with pytest.raises(ConfigError, match="subject 'a_b'"):
        run(_args("--protocol", "left_right_hand", "--subject", "a_b", "--simulate",
                  "--root", root))
    with pytest.raises(ConfigError, match="--protocol and --subject"):
        run(_args("--root", root))
    assert run(_args("--recover", "--root", root)) == 0


def test_cli_session_stores_the_operator_and_writes_the_report(session):
    """``bci-app session --operator NAME --report`` (the session's online run): the operator
    is stored with the session and the report written after the run, HTML and PDF (Qt's
    writer, offscreen)."""
    from bci_app.session import RecordingStore

    opened = RecordingStore(session["root"]).open_session("01", "01")
    assert opened.operator == "Dr. C. Lee"
    html, pdf = opened.report_path, opened.report_path.with_suffix(".pdf")
    assert f"  report: {html}, {pdf}\n" in session["cli_out"]
    assert "Dr. C. Lee" in html.read_text(encoding="utf-8")
    assert pdf.read_bytes().startswith(b"%PDF")
