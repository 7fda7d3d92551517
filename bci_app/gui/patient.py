"""What the patient sees: fixation cross, cue arrows, rest, and the feedback bar.

:class:`PatientCanvas` paints one screen from the protocol state (and, during online imagery,
the decoder's confidence in the cued class). :class:`PatientWindow` is a separate top-level
window holding one, which can go full screen on any connected monitor; the operator's views
hold a small canvas of their own as a preview.
"""

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

#: Direction of the cue arrow of each class (dx, dy on screen).
ARROWS = {"left_hand": (-1, 0), "right_hand": (1, 0), "feet": (0, 1), "tongue": (0, -1),
          "both_hands": (0, -1)}
CLASS_NAMES = {"left_hand": "left hand", "right_hand": "right hand", "feet": "feet",
               "rest": "rest", "tongue": "tongue", "both_hands": "both hands"}

_MESSAGES = {
    None: "Please wait, the session will start soon.",
    "start": "Get ready.",
    "baseline": "Relax and look at the centre of the screen.",
    "iti": "Rest.",
    "paused": "Paused. Relax.",
    "resumed": "Get ready.",
    "end": "Well done! This run is over.",
    "aborted": "The run was stopped.",
}


class PatientCanvas(QtWidgets.QWidget):
    """Paints the patient's screen for a protocol state.

    Attributes
    ----------
    state : str | None
        Protocol state (``baseline``, ``fixation``, ``cue``, ``imagery``, ``iti``...).
    label : str | None
        Class of the current trial (shown from the cue on).
    feedback : bool
        Whether this run gives feedback during imagery.
    value : float
        Decoder confidence in the cued class, in [0, 1] (feedback bar length).
    correct : bool | None
        Whether the current decision is the cued class (bar colour).
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self.state = None
        self.label = None
        self.feedback = False
        self.value = 0.0
        self.correct = None
        self.setMinimumSize(160, 120)
        self.setAutoFillBackground(True)
        pal = self.palette()
        pal.setColor(QtGui.QPalette.ColorRole.Window, QtGui.QColor("#111111"))
        self.setPalette(pal)

    def set_state(self, state, label=None, feedback=None):
        self.state = state
        self.label = label if state in ("cue", "imagery") else None
        if feedback is not None:
            self.feedback = bool(feedback)
        if state != "imagery":
            self.value, self.correct = 0.0, None
        self.update()

    def set_feedback(self, value, correct=None):
        """Update the feedback bar (shown during imagery of feedback runs).

        ``value`` None (or not finite): no decision (bad signal): the bar is shown empty,
        never as a command.
        """
        if value is None or not np.isfinite(value):
            self.value, self.correct = 0.0, None
        else:
            self.value = float(min(max(value, 0.0), 1.0))
            self.correct = correct
        if self.state == "imagery" and self.feedback:
            self.update()

    # -- painting ---------------------------------------------------------------------------
    def paintEvent(self, event):
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        w, h = self.width(), self.height()
        p.fillRect(self.rect(), QtGui.QColor("#111111"))
        size = min(w, h)
        cx, cy = w / 2, h / 2
        state = self.state
        if state in ("fixation", "cue", "imagery"):
            self._cross(p, cx, cy, size * 0.08)
        if state in ("cue", "imagery") and self.label:
            if self.label in ARROWS:
                self._arrow(p, cx, cy, size, ARROWS[self.label],
                            dim=(state == "imagery" and self.feedback))
            else:
                self._text(p, CLASS_NAMES.get(self.label, self.label).capitalize(), size,
                           cy + size * 0.25)
            if state == "imagery" and self.feedback:
                self._bar(p, cx, cy, size)
        elif state not in ("fixation",):
            self._text(p, _MESSAGES.get(state, ""), size, cy)
        p.end()

    def _text(self, p, text, size, y):
        font = p.font()
        font.setPixelSize(max(10, int(size * 0.06)))
        p.setFont(font)
        p.setPen(QtGui.QColor("#eeeeee"))
        rect = QtCore.QRectF(0, y - size * 0.1, self.width(), size * 0.2)
        p.drawText(rect, QtCore.Qt.AlignmentFlag.AlignCenter | QtCore.Qt.TextFlag.TextWordWrap,
                   text)

    def _cross(self, p, cx, cy, half):
        pen = QtGui.QPen(QtGui.QColor("#ffffff"), max(2.0, half * 0.25))
        p.setPen(pen)
        p.drawLine(QtCore.QPointF(cx - half, cy), QtCore.QPointF(cx + half, cy))
        p.drawLine(QtCore.QPointF(cx, cy - half), QtCore.QPointF(cx, cy + half))

    def _arrow(self, p, cx, cy, size, direction, dim=False):
        dx, dy = direction
        length, head = size * 0.28, size * 0.09
        tip = QtCore.QPointF(cx + dx * length, cy + dy * length)
        base = QtCore.QPointF(cx + dx * (length - head), cy + dy * (length - head))
        nx, ny = -dy, dx
        poly = QtGui.QPolygonF([
            QtCore.QPointF(cx + dx * size * 0.1 + nx * head * 0.3,
                           cy + dy * size * 0.1 + ny * head * 0.3),
            QtCore.QPointF(base.x() + nx * head * 0.3, base.y() + ny * head * 0.3),
            QtCore.QPointF(base.x() + nx * head, base.y() + ny * head),
            tip,
            QtCore.QPointF(base.x() - nx * head, base.y() - ny * head),
            QtCore.QPointF(base.x() - nx * head * 0.3, base.y() - ny * head * 0.3),
            QtCore.QPointF(cx + dx * size * 0.1 - nx * head * 0.3,
                           cy + dy * size * 0.1 - ny * head * 0.3),
        ])
        colour = QtGui.QColor("#ffca28")
        if dim:
            colour.setAlpha(110)
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        p.setBrush(colour)
        p.drawPolygon(poly)

    def _bar(self, p, cx, cy, size):
        dx, dy = ARROWS.get(self.label, (0, -1))
        full = size * 0.38
        thick = size * 0.07
        colour = QtGui.QColor("#43a047" if self.correct else "#90a4ae")
        p.setPen(QtGui.QPen(QtGui.QColor("#555555"), 2))
        p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        if dx:
            outline = QtCore.QRectF(min(cx, cx + dx * full), cy + size * 0.12, full, thick)
        else:
            outline = QtCore.QRectF(cx - thick / 2, min(cy, cy + dy * full), thick, full)
        p.drawRect(outline)
        length = full * self.value
        if dx:
            bar = QtCore.QRectF(cx if dx > 0 else cx - length, cy + size * 0.12, length, thick)
        else:
            bar = QtCore.QRectF(cx - thick / 2, cy if dy > 0 else cy - length, thick, length)
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        p.setBrush(colour)
        p.drawRect(bar)


class PatientWindow(QtWidgets.QWidget):
    """The patient's window: a :class:`PatientCanvas`, full screen on a chosen monitor."""

    def __init__(self, parent=None):
        super().__init__(parent, QtCore.Qt.WindowType.Window)
        self.setWindowTitle("BCI - patient screen")
        self.canvas = PatientCanvas()
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)
        self.resize(800, 600)

    def show_on(self, screen_index=None, fullscreen=False):
        """Show the window on screen ``screen_index`` (default: the last one, usually the
        second monitor), full screen if asked."""
        screens = QtGui.QGuiApplication.screens()
        if screens:
            index = len(screens) - 1 if screen_index is None else \
                max(0, min(int(screen_index), len(screens) - 1))
            screen = screens[index]
            self.setScreen(screen)
            self.move(screen.availableGeometry().topLeft() + QtCore.QPoint(40, 40))
        if fullscreen:
            self.showFullScreen()
        else:
            self.showNormal()
        self.raise_()

    def keyPressEvent(self, event):
        if event.key() == QtCore.Qt.Key.Key_Escape and self.isFullScreen():
            self.showNormal()
        else:
            super().keyPressEvent(event)
