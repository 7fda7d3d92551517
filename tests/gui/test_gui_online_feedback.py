"""Feedback during an online run: bad signal never shows as a command."""

import numpy as np

from bci_app.online.engine import Predictions

CLASSES = np.array(["idle", "left_hand", "right_hand"])


def _pred(decision, proba, reason=""):
    proba = np.array([proba], dtype=float)
    return Predictions(np.array([10.0]), np.array([2500]), proba, proba,
                       np.array([decision]), np.array([decision]), CLASSES, np.zeros(1),
                       reasons=np.array([reason], dtype=object))


def test_no_decision_shows_an_empty_bar_and_tells_the_therapist_why(window):
    view = window.show_step("Online")
    for canvas in (view.preview, window.patient.canvas):
        canvas.set_state("imagery", "left_hand", feedback=True)
    c = window.controller
    c.predictions.emit(_pred("left_hand", [0.1, 0.8, 0.1]))
    assert view.preview.value == window.patient.canvas.value == 0.8
    assert view.preview.correct is True and view.signal_label.text() == ""
    c.predictions.emit(_pred("artifact", [np.nan] * 3, "flat signal (below 0.5 µV) on C3"))
    for canvas in (view.preview, window.patient.canvas):
        assert canvas.value == 0.0 and canvas.correct is None  # no bar, no colour
    assert view.signal_label.text() == \
        "No decision: bad signal (flat signal (below 0.5 µV) on C3)"
    c.predictions.emit(_pred("right_hand", [0.1, 0.3, 0.6]))
    assert view.preview.value == 0.3 and view.preview.correct is False
    assert view.signal_label.text() == ""


def _online_run(win, qtbot):
    """Start an online run from the Online step (shortest protocol) and return its record."""
    view = win.show_step("Online")
    view.panel.select_protocol("left_right_hand_online")
    view.panel.trials.setValue(1)
    with qtbot.waitSignal(win.controller.runStarted, timeout=120000) as started:
        view.panel.start_button.click()
    return started.args[0]


def _abort_and_save(c, qtbot):
    with qtbot.waitSignal(c.runFinished, timeout=120000) as finished:
        c.abort_run()
    return finished.args[0]


def test_the_decoder_is_ready_before_the_online_run_and_never_of_another_model(
        connected, qtbot, simulated_run, wait_until):
    """Selecting a model starts its decoder process; the online run hands it its streams
    (no process started at the run's start); after the run the next one is prepared. A
    process prepared for another model is never used: the run starts its own."""
    from bci_app.decoding.persistence import load_model
    from bci_app.online.process import DecoderProcess
    from bci_app.session.headless import train_session_model

    win, c = connected, connected.controller
    simulated_run(c.session, trials=4, seed=4)
    path, _ = train_session_model(c.store.root, "T01", c.session.label, "MDM", window_s=1.0)
    c.select_model(path)
    ahead = c.decoder_ahead
    assert ahead is not None and ahead.serves(c.trained)
    assert ahead.wait_ready(120), ahead.error  # loaded before the run is asked for
    _online_run(win, qtbot)
    assert c.online is ahead and c.online.pid == ahead.pid and c.decoder_ahead is None
    first = _abort_and_save(c, qtbot)
    assert first.status == "aborted" and not ahead.is_running
    # Saved: the next run's process is prepared, for the same model.
    nxt = c.decoder_ahead
    assert nxt is not None and nxt is not ahead and nxt.serves(c.trained)
    # One prepared for another model (here: the file loaded again, another object) is
    # discarded by the run, which starts its own process.
    nxt.discard()
    stale = DecoderProcess(load_model(path), timeout=10).prepare()
    c.decoder_ahead = stale
    _online_run(win, qtbot)
    assert c.online is not stale and c.online.pid != stale.pid
    wait_until(lambda: not stale.is_running, 30, "the stale process to end")
    assert _abort_and_save(c, qtbot).status == "aborted"
    # Another model selected: the process prepared for the former one ends.
    before = c.decoder_ahead
    c.select_model(path)
    assert before is not None and not before.is_running and c.decoder_ahead.serves(c.trained)
