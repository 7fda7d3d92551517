"""Step 3, Calibration: a run with patient view, pause/resume, stop; closing mid-run."""

import mne


def _start(win, qtbot, trials=2):
    view = win.show_step("Calibration")
    view.panel.select_protocol("left_right_hand")
    view.panel.trials.setValue(trials)
    with qtbot.waitSignal(win.controller.runStarted, timeout=20000):
        view.panel.start_button.click()
    return view


def test_calibration_run_pause_resume_stop(connected, qtbot, shot, wait_until):
    win, c = connected, connected.controller
    win.patient.show_on(None, fullscreen=False)
    view = _start(win, qtbot)
    assert view.panel.progress.maximum() == 4
    wait_until(lambda: view.preview.state in ("cue", "imagery"), 15, "a cue")
    assert win.patient.canvas.label in ("left_hand", "right_hand")
    assert "Trial 1" in view.panel.progress.text()
    shot(win, "3_calibration")
    shot(win.patient, "3_patient_cue")
    view.panel.pause_button.click()
    assert c.runner.is_paused and view.panel.pause_button.text() == "Resume"
    wait_until(lambda: win.patient.canvas.state == "paused", 5, "the paused screen")
    view.panel.pause_button.click()
    assert not c.runner.is_paused
    with qtbot.waitSignal(c.runFinished, timeout=10000) as finished:
        view.panel.abort_button.click()
    run = finished.args[0]
    assert run.status == "aborted"
    raw = mne.io.read_raw_fif(f"{run.folder}/raw.fif", verbose="error")
    assert raw.n_times > 250 and raw.ch_names == c.acq.ch_names
    assert {"baseline", "pause", "resume", "run_aborted"} <= set(raw.annotations.description)
    assert view.panel.start_button.isEnabled()


def test_closing_mid_run_asks_and_saves_the_recording(connected, qtbot, wait_until):
    win, c = connected, connected.controller
    _start(win, qtbot)
    qtbot.wait(800)
    asked = []
    win.confirm_close = lambda: asked.append(1) or False
    win.close()
    assert asked and win.isVisible() and c.is_running  # "No": nothing happens
    run = c.run
    win.confirm_close = lambda: True
    win.close()
    assert not c.is_running
    saved = c.store.open_session("T01", "01").runs[-1]
    assert saved.index == run.index and saved.status == "aborted"
    raw = mne.io.read_raw_fif(f"{saved.folder}/raw.fif", verbose="error")
    assert raw.n_times > 100
