"""A session the therapist cannot hurt by mistake, driven through the window: the subject's
affected side is the hand cued, aborted runs are left out of training (the therapist picks
the runs), nothing ends or moves a run without asking, a replay is never a patient's run, a
decoder of other classes is refused, and so is a start without signal."""

from pathlib import Path

import pytest
from PySide6 import QtWidgets

from bci_app.errors import BCIAppError, ConfigError
from bci_app.gui.controller import SIMULATED
from bci_app.session import Subject, load_run_recording


def _dialogs(win):
    """The messages shown to the operator (visible message boxes), closed once read."""
    shown = []
    for box in win.findChildren(QtWidgets.QMessageBox):
        if box.isVisible():
            shown.append(box.text())
            box.close()
    return shown


def _start_calibration(win, qtbot, protocol="left_right_hand", trials=1):
    view = win.show_step("Calibration")
    view.panel.select_protocol(protocol)
    view.panel.trials.setValue(trials)
    with qtbot.waitSignal(win.controller.runStarted, timeout=60000) as started:
        view.panel.start_button.click()
    return view, started.args[0]


def test_the_subjects_affected_side_is_the_hand_cued(connected, qtbot):
    win, c = connected, connected.controller
    form = win.show_step("Patient & session")
    form.side.setCurrentText("right")  # changed after the session was opened
    form.save_subject_button.click()
    view = win.show_step("Calibration")
    view.panel.select_protocol("hand_vs_rest")  # its file says affected_hand = "left"
    assert "right hand" in view.panel.cues.text()
    view, run = _start_calibration(win, qtbot, "hand_vs_rest")
    assert run.classes == ["right_hand", "rest"]
    assert c.runner.protocol.classes == ("right_hand", "rest")
    with qtbot.waitSignal(c.runFinished, timeout=60000):
        c.abort_run()
    assert c.session.runs[-1].sidecar["BciAppProtocol"]["classes"] == ["right_hand", "rest"]
    # A protocol loaded for the other hand (the file's default) is refused by the run.
    from bci_app.protocol import load_protocol

    with pytest.raises(ConfigError, match="affected side of subject T01 is right"):
        c.start_run(load_protocol("hand_vs_rest"))
    assert not c.is_running and len(c.session.runs) == 1


def test_training_leaves_aborted_runs_out_and_says_what_it_used(window, qtbot, simulated_run,
                                                                shot):
    c = window.controller
    c.save_subject(Subject("S01"))
    session = c.new_session("S01")
    # Run 1: the wrong protocol, stopped after a few trials; run 2: complete.
    simulated_run(session, ("left_hand", "right_hand", "feet"), trials=6, status="aborted",
                  seconds=8.0, seed=1)
    simulated_run(session, trials=6, seed=2)
    view = window.show_step("Training")
    table = view.runs_table
    rows = {table.item(r, 0).text(): [table.item(r, k).text()
                                      for k in range(table.columnCount())]
            for r in range(table.rowCount())}
    assert sorted(rows) == ["1", "2"]
    aborted = session.runs[0]
    cued = sum(1 for d in load_run_recording(aborted).annotations.description
               if d in aborted.classes)
    assert 0 < cued < 18
    assert rows["1"][2:5] == ["left hand, right hand, feet", "aborted", f"{cued} of 18"]
    assert rows["2"][2:5] == ["left hand, right hand", "complete", "12 of 12"]
    assert rows["2"][5] == "n/a"  # no recording details in its sidecar
    assert view.selected_runs() == [2]  # the aborted run is left out by default
    view.set_checked(["MDM"])
    with qtbot.waitSignal(c.trainingFinished, timeout=120000) as done:
        view.train_button.click()
    result = done.args[0]
    assert result.runs == [2] and result.classes == ("left_hand", "right_hand")
    assert "Trained on run(s) 2 (classes left hand, right hand)" in view.used_label.text()
    assert "run(s) 2" in view.status.text()
    shot(window, "4_training_run_selection")
    training = c.session.meta["training"]
    assert training["runs"] == [2] and training["classes"] == ["left_hand", "right_hand"]
    (entry,) = [e for e in c.session.entries() if e["event"] == "training_saved"]
    assert entry["runs"] == [2] and entry["statuses"] == {"2": "complete"}
    from bci_app.decoding.persistence import load_model

    assert load_model(result.paths["MDM"]).trained_on["run_numbers"] == [2]
    # The therapist may tick the aborted run: it is then trained on, with its classes.
    view.set_runs([1, 2])
    assert view.selected_runs() == [1, 2]
    from bci_app.session.training import TrainingJob

    assert TrainingJob(c.session, [], [1, 2]).classes == ("left_hand", "right_hand", "feet")


def test_actions_that_would_end_or_move_a_run_are_disabled_or_asked(connected, qtbot,
                                                                    wait_until,
                                                                    answer_question):
    win, c = connected, connected.controller
    form = win.views["Patient & session"]
    view, run = _start_calibration(win, qtbot, trials=3)
    first = c.session
    guarded_buttons = (form.new_session_button, form.open_session_button,
                       form.connect_button, win.views["Replay"].play_button,
                       win.views["Replay"].stop_button, win.views["Training"].train_button,
                       win.views["Online"].panel.start_button)
    assert not any(b.isEnabled() for b in guarded_buttons)
    form.new_session_button.click()  # disabled: nothing happens
    assert c.session is first and c.is_running
    for action in (lambda: c.new_session("T01"), lambda: c.open_session("T01", "01"),
                   lambda: c.open_source(SIMULATED), lambda: c.start_training([])):
        with pytest.raises(BCIAppError, match=f"run {run.index} is being recorded"):
            action()
    assert c.session is first and c.is_running and c.store.sessions("T01") == ["01"]
    # "Stop run" asks first: "Continue the run" goes on...
    asked = answer_question("Continue the run")
    view.panel.abort_button.click()
    assert asked and f"Stop run {run.index}" in asked[0]
    assert c.is_running and not c.runner.aborted
    # ... "Stop the run" stops it; its record is saved in the session it was recorded in.
    with qtbot.waitSignal(c.runFinished, timeout=60000) as finished:
        answer_question("Stop the run")
        view.panel.abort_button.click()
    saved = finished.args[0]
    assert saved.status == "aborted" and (saved.subject, saved.session) == ("T01", "01")
    wait_until(lambda: all(b.isEnabled() for b in guarded_buttons), what="the buttons back")
    form.new_session_button.click()
    assert c.session.label == "02"
    runs = c.store.open_session("T01", "01").runs
    assert [(r.index, r.status, r.session) for r in runs] == [(run.index, "aborted", "01")]
    assert c.store.open_session("T01", "02").runs == []


def test_a_replayed_recording_cannot_become_a_patients_run(window, qtbot, simulated_run):
    c = window.controller
    form = window.show_step("Patient & session")
    form.subject_id.setText("T02")
    form.save_subject_button.click()
    form.new_session_button.click()
    number = simulated_run(c.session, trials=2, seed=3)
    path = c.session.runs[0].bids_path
    replay = window.show_step("Replay")
    replay.file.setText(path)
    with qtbot.waitSignal(c.sourceReady, timeout=60000):
        replay.play_button.click()
    view = window.show_step("Calibration")
    view.panel.select_protocol("left_right_hand")
    view.panel.start_button.click()
    shown = _dialogs(window)  # at once, before anything is recorded
    assert len(shown) == 1 and "replays a recording" in shown[0]
    assert Path(path).name in shown[0] and "Connect the amplifier" in shown[0]
    assert not c.is_running and view.panel.start_button.isEnabled()
    assert [r.index for r in c.session.runs] == [number]
    assert not list(c.session.source_dir.rglob("*.xdf"))


def test_an_online_run_of_other_classes_than_the_decoder_is_refused(connected, qtbot,
                                                                    simulated_run):
    from bci_app.session.headless import check_run_inputs, train_session_model

    win, c = connected, connected.controller
    simulated_run(c.session, trials=4, seed=4)  # a left vs right hand calibration run
    path, _ = train_session_model(c.store.root, "T01", c.session.label, "MDM", window_s=1.0)
    c.select_model(path)
    view = win.show_step("Online")
    view.panel.select_protocol("hand_vs_rest_online")
    view.panel.start_button.click()
    shown = _dialogs(win)
    assert len(shown) == 1
    text = shown[0]
    assert "cues left_hand, but the decoder MDM" in text
    assert "was trained on left_hand, right_hand" in text
    assert "Train a decoder on calibration runs of left_hand" in text
    assert "(left_right_hand_online)" in text  # the protocol matching the decoder
    assert not c.is_running and [r.run_type for r in c.session.runs] == ["calibration"]
    # bci-app session refuses it with the same words.
    with pytest.raises(ConfigError) as refused:
        check_run_inputs("hand_vs_rest_online", path)
    assert str(refused.value) == text


def test_start_without_signal_is_refused_at_once(connected, qtbot, wait_until):
    win, c = connected, connected.controller
    c.amplifier.stop()
    wait_until(lambda: c.acq.eeg.status == "lost", what="the loss of the signal")
    view = win.show_step("Calibration")
    view.panel.select_protocol("left_right_hand")
    view.panel.start_button.click()
    shown = _dialogs(win)  # at once: no wait for the recorder
    assert len(shown) == 1
    assert f"no EEG signal from stream {c.acq.eeg.description.name!r}" in shown[0]
    assert "check the amplifier" in shown[0]
    assert "LabRecorder" not in shown[0] and "LSLAPICFG" not in shown[0]
    assert not c.is_running and c.session.runs == []
