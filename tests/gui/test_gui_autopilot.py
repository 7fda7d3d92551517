"""End to end: the autopilot drives a short session on the simulated amplifier
(calibration -> training -> feedback run -> report -> sweep), as ``make demo`` does."""

import json
from pathlib import Path

import mne

from bci_app.gui.autopilot import Autopilot, AutopilotConfig


def test_autopilot_session_end_to_end(window, qtbot, artifacts_dir):
    cfg = AutopilotConfig(calibration_trials=3, online_trials=2, screenshots=artifacts_dir,
                          pipelines=("MDM",), signal_check_s=1.0, timeout_s=150)
    pilot = Autopilot(window, cfg)
    with qtbot.waitSignal(pilot.finished, timeout=160000) as done:
        pilot.start()
    assert done.args == [0], pilot.error
    r = pilot.result
    for key in ("calibration_recording", "online_recording", "online_log", "report", "model"):
        assert Path(r[key]).is_file(), key
    raw = mne.io.read_raw_fif(r["online_recording"], verbose="error")
    assert {"left_hand", "right_hand", "run_end"} <= set(raw.annotations.description)
    html = Path(r["report"]).read_text()
    assert "Online run" in html and "data:image/png;base64" in html and "nMCC" in html
    scores = r["online_scores"]
    assert 0 <= scores["accuracy"] <= 1 and 0 <= scores["nmcc"] <= 1
    assert r["frame_rate"]["paints_per_s"] > 0
    for name in ("1_patient_session", "2_signal_check", "3_calibration", "3_patient_cue",
                 "4_training", "5_online", "5_patient_feedback", "6_report",
                 "7_replay_sweep"):
        assert Path(r["screenshots"][name]).stat().st_size > 1000, name
    (artifacts_dir / "autopilot_result.json").write_text(json.dumps(r, indent=2, default=str))
