"""End to end: the autopilot drives a clinical session on the simulated amplifier, as
``make demo`` does (patient with an affected side -> calibration of the affected hand vs
rest -> training of the default model beside others -> feedback run decoded by the default
model -> report in HTML and PDF -> course), and its settings come from the command line.

The session here is shorter than ``make demo``'s (fewer trials, shorter imagery: the run
lengths are settings, the flow is the same); the patient's side is the one that is not the
default, so a side that is not passed on shows; and the patient has an earlier session, as
when ``make demo`` runs again on the same recordings folder."""

import csv
import json
from dataclasses import replace
from pathlib import Path

import mne_bids
import pytest

from bci_app.cli.gui import build_parser
from bci_app.decoding.loading import find_model
from bci_app.decoding.persistence import read_model_info
from bci_app.gui.autopilot import OPERATOR, Autopilot, AutopilotConfig
from bci_app.protocol import load_protocol
from bci_app.protocol.schedule import build_schedule
from bci_app.resources import DEFAULT_MODEL
from bci_app.session.course import SUMMARY_NAME


def _events(vhdr):
    events = Path(vhdr).with_name(Path(vhdr).name.replace("_eeg.vhdr", "_events.tsv"))
    with open(events, newline="") as fh:
        return [row["trial_type"] for row in csv.DictReader(fh, delimiter="\t")]


@pytest.fixture
def short_session():
    """The defaults of ``make demo`` but for the run lengths (and the patient's side)."""
    return AutopilotConfig(affected_side="left", calibration_trials=4, online_trials=2,
                           time_scale=0.1, min_imagery_s=1.5, signal_check_s=0.5,
                           subject_id="T01", timeout_s=300)


@pytest.fixture
def earlier_session(tmp_path, simulated_run):
    """An earlier session of the patient, with a calibration run of the affected hand: the
    Training view then offers (and ticks) training with it."""
    from bci_app.session.store import RecordingStore

    store = RecordingStore(tmp_path / "recordings")
    store.save_subject("T01", affected_side="left")
    session = store.new_session("T01")
    simulated_run(session, classes=("left_hand",), trials=6)
    return session


@pytest.fixture
def pilot_window(qtbot, tmp_path, short_session):
    """The main window as ``bci-app gui --autopilot`` makes it for these settings."""
    from bci_app.gui.app import create_window

    win = create_window(tmp_path / "recordings", None, **short_session.window_settings())
    qtbot.addWidget(win)
    win.show()
    win.confirm_close = lambda: True
    yield win
    win.controller.shutdown()
    win.patient.close()


def test_autopilot_clinical_session(earlier_session, pilot_window, qtbot, short_session,
                                    artifacts_dir):
    cfg = short_session
    cfg.screenshots = artifacts_dir / "autopilot"
    assert (cfg.calibration_protocol, cfg.online_protocol, cfg.compare) == \
        (AutopilotConfig.calibration_protocol, AutopilotConfig.online_protocol,
         AutopilotConfig.compare)  # the demo's flow
    pilot = Autopilot(pilot_window, cfg)
    # generous deadline (a loaded machine): it only bounds a failing run
    with qtbot.waitSignal(pilot.finished, timeout=320000) as done:
        pilot.start()
    assert done.args == [0], pilot.error
    r, summary = pilot.result, pilot.summary
    root = Path(r["recordings"])

    # The patient, with the chosen affected side.
    with open(root / "participants.tsv", newline="") as fh:
        subjects = {row["participant_id"]: row for row in csv.DictReader(fh, delimiter="\t")}
    assert subjects["sub-T01"]["affected_side"] == "left"

    # Both runs: the affected hand (left) against rest, recorded (XDF) and in BIDS.
    runs = summary["autopilot"]["runs"]
    assert [(x["type"], x["protocol"], x["classes"], x["status"]) for x in runs] == [
        ("calibration", "Affected hand vs rest (clinical calibration)",
         ["left_hand", "rest"], "complete"),
        ("online", "Affected hand vs rest (clinical online, feedback)",
         ["left_hand", "rest"], "complete")]
    for x in runs:
        assert Path(x["xdf"]).is_file() and Path(x["xdf"]).is_relative_to(root / "sourcedata")
        assert Path(x["bids"]).parent == root / "sub-T01/ses-02/eeg"
        kinds = set(_events(x["bids"]))
        assert {"left_hand", "rest", "run_start", "run_end"} <= kinds, kinds
        assert "right_hand" not in kinds
    # The trials came in the order the run's seed schedules (the seed is the config's).
    calibration = replace(load_protocol(cfg.calibration_protocol, affected_hand="left"),
                          trials_per_class=cfg.calibration_trials)
    cued = [s.label for s in build_schedule(calibration, runs[0]["schedule_seed"])
            if s.state == "imagery"]
    assert [e for e in _events(runs[0]["bids"]) if e in ("left_hand", "rest")] == cued
    assert len(cued) == 2 * cfg.calibration_trials
    raw = mne_bids.read_raw_bids(mne_bids.get_bids_path_from_fname(runs[1]["bids"]),
                                 verbose="error")
    assert {"left_hand", "rest", "run_end"} <= set(raw.annotations.description)

    # The default model was trained (beside the compared ones) on today's run, although
    # the view offered the earlier session too, and decoded the online run.
    assert pilot_window.views["Training"].with_earlier.isEnabled()
    default = find_model(DEFAULT_MODEL).name
    assert r["model_name"] == default
    assert {s["pipeline"] for s in r["training_scores"]} == {default, *cfg.compare}
    assert read_model_info(r["model"])["name"] == default
    online_info = next(x for x in pilot_window.controller.session.runs
                       if x.run_type == "online")
    assert Path(online_info.model) == Path(r["model"])
    assert summary["autopilot"]["model"] == {
        "name": default, "default_model": DEFAULT_MODEL, "file": r["model"],
        "compared": sorted(cfg.compare)}
    assert summary["trained_on"] == {"runs": [1], "classes": ["left_hand"]}

    # The report (HTML and PDF) and summary.json beside it, holding the report's numbers.
    report = Path(r["report"])
    html = report.read_text()
    assert "Online run" in html and "data:image/png;base64" in html and "nMCC" in html
    assert Path(r["pdf"]).read_bytes()[:4] == b"%PDF"
    assert Path(r["summary"]) == report.with_name(SUMMARY_NAME)
    on_disk = json.loads(Path(r["summary"]).read_text())
    assert on_disk == json.loads(json.dumps(summary))
    per_run = json.loads(report.with_name("report_summary.json").read_text())["2"]
    scores = on_disk["scores"]
    for key in ("trial_accuracy", "majority_trial_accuracy", "shuffled_trial_accuracy",
                "nmcc", "shuffled_nmcc", "itr_bits_per_min", "shuffled_itr_bits_per_min"):
        assert scores[key] == pytest.approx(per_run[key]), key
    assert per_run["n_trials"] == 2 * cfg.online_trials == on_disk["n_trials"]["online"]
    # ... the running score the therapist saw counted the same trials the same way
    assert scores["trial_accuracy"] == pytest.approx(r["live_trial_accuracy"])
    assert on_disk["autopilot"]["seed"] == cfg.seed
    assert on_disk["operator"] == OPERATOR  # the record says who ran it
    assert on_disk["autopilot"]["simulated_subject"]["affected_side"] == "left"
    assert on_disk["paths"]["report"] == str(report)
    assert on_disk["paths"]["pdf"] == r["pdf"]
    assert on_disk["paths"]["recordings"] == str(root)
    for name, path in on_disk["autopilot"]["screenshots"].items():
        assert Path(path).stat().st_size > 1000, name
    assert set(on_disk["autopilot"]["screenshots"]) == {
        "1_patient_session", "2_signal_check", "3_calibration", "3_patient_cue",
        "4_training", "5_online", "5_patient_feedback", "6_report", "7_course"}

    # What make demo prints last: each score beside its chance level, from the summary.
    last = pilot.summary_text().splitlines()[-1]
    assert last == pilot.score_line()
    assert (f"trial accuracy {scores['trial_accuracy']:.2f} (chance: majority "
            f"{scores['majority_trial_accuracy']:.2f}, shuffled "
            f"{scores['shuffled_trial_accuracy']:.2f}; ") in last
    binomial = scores["binomial_trial_accuracy"]  # null: no accuracy is significant
    assert (f"{binomial:.2f} needed for p<0.05" if binomial is not None
            else "binomial: too few trials for p<0.05") in last
    assert (f"), nMCC {scores['nmcc']:.2f} (chance: "
            f"shuffled {scores['shuffled_nmcc']:.2f}), ITR "
            f"{scores['itr_bits_per_min']:.1f} bits/min") in last
    assert r["frame_rate"]["paints_per_s"] > 0
    (artifacts_dir / "autopilot_result.json").write_text(json.dumps(r, indent=2, default=str))


def test_an_error_a_view_shows_ends_the_session(pilot_window, qtbot, short_session):
    """A view's error (a dialog for a therapist) fails the autopilot at once, rather than
    leaving it to wait for a step that will not come."""
    from bci_app.gui.views.common import show_error

    pilot = Autopilot(pilot_window, short_session)
    with qtbot.waitSignal(pilot.finished, timeout=20000) as done:
        pilot.start()
        show_error(pilot_window, "Training could not start", "no run ticked")
    assert done.args == [1]
    assert pilot.error == "Training could not start: no run ticked"


def test_autopilot_settings_from_the_command_line():
    parse = build_parser().parse_args
    assert AutopilotConfig.from_args(parse(["--autopilot"])) == AutopilotConfig()
    cfg = AutopilotConfig.from_args(parse(
        ["--autopilot", "--seed", "5", "--affected-side", "left", "--trials", "6", "2",
         "--time-scale", "0.2", "--window", "2", "--screenshots", "shots"]))
    assert (cfg.seed, cfg.affected_side, cfg.calibration_trials, cfg.online_trials,
            cfg.time_scale, cfg.window_s, cfg.screenshots) == \
        (5, "left", 6, 2, 0.2, 2.0, Path("shots"))
    assert cfg.window_settings() == {"time_scale": 0.2, "window_s": 2.0,
                                     "min_imagery_s": AutopilotConfig.min_imagery_s}
    with pytest.raises(SystemExit):
        parse(["--autopilot", "--affected-side", "both"])
    with pytest.raises(SystemExit):
        parse(["--autopilot", "--trials", "0", "2"])


def test_same_seed_same_schedules(qapp, tmp_path):
    """Runs of sessions with the same seed get the same schedule seeds; another seed,
    others."""
    from bci_app.gui.controller import SessionController

    def seeds(seed, where):
        controller = SessionController(tmp_path / where)
        controller.seed = seed
        controller.save_subject("S01")
        controller.new_session("S01")
        return controller.run_seed()

    assert seeds(3, "a") == seeds(3, "b") != seeds(4, "c")
    assert seeds(None, "d") is None
