"""Step 3, Calibration: a run with patient view, pause/resume, stop; closing mid-run."""

from pathlib import Path

from bci_app.session.runs import load_run_recording


def saved_log(controller):
    return controller.store.open_session("T01", "01").entries()


def _start(win, qtbot, trials=2):
    view = win.show_step("Calibration")
    view.panel.select_protocol("left_right_hand")
    view.panel.trials.setValue(trials)
    with qtbot.waitSignal(win.controller.runStarted, timeout=60000):
        view.panel.start_button.click()
    return view


def _wait_mid_run(controller, wait_until):
    """Until the run is under way: its baseline marker sent (so recorded with EEG around)."""
    wait_until(lambda: controller.runner is not None
               and "baseline" in [m for _, m in controller.runner.events],
               what="the run's baseline marker")


def test_calibration_run_pause_resume_stop(connected, qtbot, shot, wait_until,
                                           answer_question):
    win, c = connected, connected.controller
    win.patient.show_on(None, fullscreen=False)
    view = _start(win, qtbot)
    assert view.panel.progress.maximum() == 4
    wait_until(lambda: view.preview.state in ("cue", "imagery"), what="a cue")
    assert win.patient.canvas.label in ("left_hand", "right_hand")
    assert "Trial 1" in view.panel.progress.text()
    shot(win, "3_calibration")
    shot(win.patient, "3_patient_cue")
    view.panel.pause_button.click()
    assert c.runner.is_paused and view.panel.pause_button.text() == "Resume"
    wait_until(lambda: win.patient.canvas.state == "paused", what="the paused screen")
    view.panel.pause_button.click()
    assert not c.runner.is_paused
    with qtbot.waitSignal(c.runFinished, timeout=60000) as finished:
        asked = answer_question("Stop the run")  # "Stop run" asks first
        view.panel.abort_button.click()
    assert asked and f"Stop run {c.session.runs[-1].index}" in asked[0]
    run = finished.args[0]
    assert run.status == "aborted"
    # Recorded by LabRecorder (XDF kept under sourcedata/) and converted to BIDS.
    assert Path(run.xdf_path).is_file() and Path(run.bids_path).is_file()
    raw = load_run_recording(run)
    assert raw.n_times > 250 and raw.ch_names == c.acq.ch_names
    assert {"baseline", "pause", "resume", "run_aborted"} <= set(raw.annotations.description)
    assert view.panel.start_button.isEnabled()


def test_closing_mid_run_asks_and_saves_the_recording(connected, qtbot, wait_until):
    win, c = connected, connected.controller
    _start(win, qtbot)
    _wait_mid_run(c, wait_until)
    asked = []
    win.confirm_close = lambda: asked.append(1) or False
    win.close()
    assert asked and win.isVisible() and c.is_running  # "No": nothing happens
    run = c.run
    win.confirm_close = lambda: True
    win.close()  # "Yes": the run is stopped and its recording saved before the app closes
    assert not c.is_running and not c.is_saving
    saved = c.store.open_session("T01", "01").runs[-1]
    assert saved.index == run.index and saved.status == "aborted"
    raw = load_run_recording(saved)
    assert raw.n_times > 100 and "run_aborted" in raw.annotations.description
    log = [e["event"] for e in saved_log(c)]
    assert "run_started" in log and "run_converted" in log


def test_run_interrupted_by_a_crash_is_recovered_at_start(connected, qtbot, wait_until):
    """The app dies mid-run (LabRecorder, a separate process, records on): the next start
    stops the orphan recorder, converts the run to BIDS and says so."""
    import subprocess
    import sys

    from bci_app.gui.app import create_window
    from bci_app.session.state import update_state

    win, c = connected, connected.controller
    _start(win, qtbot)
    _wait_mid_run(c, wait_until)
    run, runner, recorder = c.run, c.runner, c.recorder
    # "Crash": the app's streams vanish without a word, its process is gone.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    update_state(recorder.state_path, owner_pid=dead.pid, owner_start_ticks=None)
    runner.close()
    runner.stop()
    c.active = None
    assert recorder.is_running  # the orphan recorder
    again = create_window(c.store.root, c.models_dir)
    qtbot.addWidget(again)
    again.show()
    wait_until(lambda: again.recovered_runs is not None, what="the recovery")
    assert len(again.recovered_runs) == 1 and again.recovered_runs[0].orphan_stopped
    assert "Recovered 1 run" in again.statusBar().currentMessage()
    assert not recorder.is_running
    saved = again.controller.store.open_session("T01", "01").runs[-1]
    assert saved.index == run.index and saved.status == "interrupted"
    raw = load_run_recording(saved)
    assert raw.n_times > 100 and "run_aborted" not in raw.annotations.description
    again.controller.shutdown()


def test_a_recorder_dying_mid_run_stops_the_run_and_says_so(connected, qtbot, wait_until):
    """LabRecorder killed during a calibration run: the protocol stops at once, the
    therapist is told why, and what was recorded is saved (status interrupted)."""
    import os
    import signal

    win, c = connected, connected.controller
    view = _start(win, qtbot, trials=6)
    _wait_mid_run(c, wait_until)
    errors = []
    c.error.connect(lambda title, text: errors.append((title, text)))
    with qtbot.waitSignal(c.runFinished, timeout=60000) as finished:
        os.kill(c.recorder.pid, signal.SIGKILL)
    run = finished.args[0]
    assert errors and errors[0][0] == "The recording stopped" and "LabRecorder" in errors[0][1]
    assert run.status == "interrupted" and "LabRecorder" in run.error
    raw = load_run_recording(run)
    assert raw.n_times > 100
    log = saved_log(c)
    assert [e["event"] for e in log].count("recording_fault") == 1
    stopped = [e for e in log if e["event"] == "run_stopped"][-1]
    assert stopped["aborted"] is True and "LabRecorder" in stopped["fault"]  # not run on
    assert view.panel.start_button.isEnabled()
