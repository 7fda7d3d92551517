"""Step 4, Training: cross-validation, r² map, model choice, cancel; and the report."""

import threading

import mne
import numpy as np
import pytest

from bci_app.acquisition.simulation import make_trial_schedule, simulate_mi_raw
from bci_app.errors import DataError
from bci_app.session import Subject, load_run_recording
from bci_app.session.bids import XdfRun, write_run
from bci_app.session.training import Cancelled, TrainingRequest, run_training


def _calibration_session(controller, n_runs=2, trials=6):
    """A session holding simulated calibration runs written to BIDS, as a session recorded
    elsewhere (``bci-app session``) holds them: the GUI finds them from their sidecars."""
    controller.save_subject(Subject("S01"))
    session = controller.new_session("S01")
    for k in range(n_runs):
        raw = simulate_mi_raw(make_trial_schedule(n_trials_per_class=trials, imagery=3.0,
                                                  seed=k), skill=1.0, seed=k, artifacts=False)
        raw.info["line_freq"] = 50.0
        protocol = {"name": "Left vs right hand (calibration)", "run_type": "calibration",
                    "classes": ["left_hand", "right_hand"], "trials_per_class": trials,
                    "markers": {}}
        write_run(XdfRun(raw=raw, markers=[], eeg={"name": "simulated"}), session.root,
                  "S01", session.label, "leftRightHand", session.next_run(),
                  sidecar={"BciAppProtocol": protocol,
                           "BciAppRecording": {"status": "complete"}})
    return session


def test_training_view_scores_r2_and_model_choice(window, qtbot, shot):
    c = window.controller
    _calibration_session(c)
    view = window.show_step("Training")
    view.set_checked(["MDM", "CSP+LDA"])
    with qtbot.waitSignal(c.trainingFinished, timeout=120000) as done:
        view.train_button.click()
    result = done.args[0]
    assert sorted(s["pipeline"] for s in result.scores) == ["CSP+LDA", "MDM"]
    for s in result.scores:  # two runs: two folds; balanced classes: chance is 0.5
        assert s["folds"] == 2 and s["offline_majority_accuracy"] == 0.5
    assert view.table.rowCount() == 2
    assert max(s["offline_accuracy"] for s in result.scores) >= 0.8
    assert view.r2_image.image is not None
    r2 = result.r2
    assert r2["values"].shape == (len(r2["ch_names"]), len(r2["freqs"]))
    shot(window, "4_training")
    view.use_button.click()
    assert c.trained is not None and c.model_path.suffix == ".bcimodel"
    assert c.model_path.parent == c.session.models_dir
    assert c.model_path.name.startswith("sub-S01_ses-01_")
    assert [r.index for r in c.session.runs_of_type("calibration")] == [1, 2]
    assert (c.session.derivatives / "r2_map.npz").is_file()
    assert "Model for online runs" in view.model_label.text()
    # The model choice is saved with the session and restored when it is reopened.
    c.open_session("S01", c.session.label)
    assert c.trained is not None


def test_training_can_be_cancelled_and_needs_data(window):
    c = window.controller
    _calibration_session(c, n_runs=1)
    runs = c.calibration_runs()
    specs = [s for s in c.available_pipelines() if s.name == "MDM"]
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        run_training(TrainingRequest(runs, specs, ("left_hand", "right_hand"), 1.0), None,
                     cancel)
    with pytest.raises(DataError, match="calibration run"):
        run_training(TrainingRequest([], specs, ("left_hand", "right_hand")))


def test_dropped_bad_channels_are_excluded_from_training(window):
    c = window.controller
    _calibration_session(c, n_runs=1)
    c.set_bad_channels(["Fz", "POz"])
    runs = c.calibration_runs()
    assert "Fz" not in runs[0].ch_names and len(runs[0].ch_names) == 20
    assert {"left_hand", "right_hand"} <= {lab for _, _, lab in runs[0].events}
    raw = load_run_recording(c.session.runs[0])
    assert isinstance(raw, mne.io.BaseRaw) and "Fz" in raw.ch_names


def _hand_rest_session(controller, n_runs=2, trials=6):
    """A session holding calibration runs of the clinical protocol "affected hand vs rest"
    (right hand), simulated with the protocol's schedule and markers, written to BIDS."""
    from tests.evaluation.hand_rest_runs import hand_rest_raw

    controller.save_subject(Subject("S02"))
    session = controller.new_session("S02")
    for k in range(n_runs):
        raw, protocol = hand_rest_raw(seed=k, trials=trials)
        sidecar = {"BciAppProtocol": {"name": protocol.name, "run_type": "calibration",
                                      "classes": list(protocol.classes),
                                      "trials_per_class": trials,
                                      "markers": dict(protocol.markers)},
                   "BciAppRecording": {"status": "complete"}}
        write_run(XdfRun(raw=raw, markers=[], eeg={"name": "simulated"}), session.root,
                  "S02", session.label, "handVsRest", session.next_run(), sidecar=sidecar)
    return session


def test_training_view_of_hand_vs_rest_shows_rest_vs_hand(window, qtbot, shot):
    """Affected hand vs rest: the r² map compares rest with the hand (with its colour bar),
    and the offline score counts the hand and the rest trials beside the chance levels of
    those trials (majority 0.5, binomial 17/24 for 24 trials)."""
    c = window.controller
    _hand_rest_session(c)
    view = window.show_step("Training")
    view.set_checked(["MDM"])
    with qtbot.waitSignal(c.trainingFinished, timeout=120000) as done:
        view.train_button.click()
    result = done.args[0]
    assert result.classes == ("right_hand",)
    assert tuple(result.r2["classes"]) == ("rest", "right_hand")
    assert view.r2_image.image is not None
    assert view.r2_title.text().startswith("Signed r², rest vs right_hand")
    lim = float(np.abs(result.r2["values"]).max())
    assert view.r2_bar.levels() == pytest.approx((-lim, lim))
    (score,) = result.scores
    assert score["offline_n_trials"] == 24 and score["offline_majority_accuracy"] == 0.5
    headers = [view.table.horizontalHeaderItem(k).text() for k in
               range(view.table.columnCount())]
    cells = [view.table.item(0, k).text() for k in range(view.table.columnCount())]
    offline = headers.index("Offline\naccuracy")
    assert headers[offline + 1:offline + 3] == ["chance\n(majority)", "chance\n(binomial)"]
    assert cells[offline + 1:offline + 3] == ["0.50", f"{17 / 24:.2f}"]
    assert float(cells[offline]) == pytest.approx(score["offline_accuracy"], abs=0.005)
    assert (c.session.derivatives / "r2_map.npz").is_file()
    shot(window, "4_training_hand_vs_rest")
