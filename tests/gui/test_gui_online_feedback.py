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
