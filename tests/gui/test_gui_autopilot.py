"""End to end: the autopilot drives a short session on the simulated amplifier
(calibration -> training -> feedback run -> report -> sweep), as ``make demo`` does."""

import csv
import json
from pathlib import Path

import mne_bids
import pytest

from bci_app.gui.autopilot import Autopilot, AutopilotConfig


def test_autopilot_session_end_to_end(window, qtbot, artifacts_dir):
    cfg = AutopilotConfig(calibration_trials=3, online_trials=2, screenshots=artifacts_dir,
                          pipelines=("MDM",), signal_check_s=1.0, timeout_s=600,
                          subject_id="T01")
    pilot = Autopilot(window, cfg)
    # generous deadlines (a loaded machine): they only bound a failing run
    with qtbot.waitSignal(pilot.finished, timeout=610000) as done:
        pilot.start()
    assert done.args == [0], pilot.error
    r = pilot.result
    for key in ("calibration_recording", "online_recording", "online_predictions",
                "online_log", "report", "model", "session_log"):
        assert Path(r[key]).is_file(), key
    # Each run: recorded by LabRecorder (XDF in sourcedata/), converted to BIDS.
    root = Path(r["recordings"])
    for xdf in r["raw_recordings"]:
        assert Path(xdf).is_file() and Path(xdf).is_relative_to(root / "sourcedata")
    for key in ("calibration_recording", "online_recording"):
        vhdr = Path(r[key])
        assert vhdr.name.endswith("_eeg.vhdr") and vhdr.parent == root / "sub-T01/ses-01/eeg"
        events = vhdr.with_name(vhdr.name.replace("_eeg.vhdr", "_events.tsv"))
        with open(events, newline="") as fh:
            kinds = {row["trial_type"] for row in csv.DictReader(fh, delimiter="\t")}
        assert {"left_hand", "right_hand", "run_start", "run_end"} <= kinds, kinds
    raw = mne_bids.read_raw_bids(mne_bids.get_bids_path_from_fname(r["online_recording"]),
                                 verbose="error")
    assert {"left_hand", "right_hand", "run_end"} <= set(raw.annotations.description)
    with open(root / "participants.tsv", newline="") as fh:
        subjects = {row["participant_id"]: row for row in csv.DictReader(fh, delimiter="\t")}
    assert subjects["sub-T01"]["age"] == "57" and subjects["sub-T01"]["affected_side"] == "left"
    html = Path(r["report"]).read_text()
    assert "Online run" in html and "data:image/png;base64" in html and "nMCC" in html
    scores = r["online_scores"]
    # The report scores every trial of the online run (2 per class), as the live score did.
    assert scores["n_trials"] == 4
    assert scores["trial_accuracy"] == pytest.approx(r["live_trial_accuracy"])
    # What make demo prints: each score with its chance levels.
    line = next(x for x in pilot.summary_text().splitlines() if "online run:" in x)
    assert f"accuracy {scores['accuracy']:.2f} (chance: majority " \
           f"{scores['majority_accuracy']:.2f}, shuffled {scores['shuffled_accuracy']:.2f})" \
           in line
    assert r["frame_rate"]["paints_per_s"] > 0
    for name in ("1_patient_session", "2_signal_check", "3_calibration", "3_patient_cue",
                 "4_training", "5_online", "5_patient_feedback", "6_report",
                 "7_replay_sweep"):
        assert Path(r["screenshots"][name]).stat().st_size > 1000, name
    (artifacts_dir / "autopilot_result.json").write_text(json.dumps(r, indent=2, default=str))
