"""What the patient sees: fixation cross, cue arrows, rest, and the feedback bar.

:class:`PatientCanvas` paints one screen from the protocol state (and, during online imagery,
the decoder's confidence in the cued class). :class:`PatientWindow` is a separate top-level
window holding one, which can go full screen on a monitor of its own and never covers the
operator's window; the operator's views hold a small canvas of their own as a preview.
"""

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from .palette import FEEDBACK_OTHER, FEEDBACK_RIGHT

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
        colour = QtGui.QColor(FEEDBACK_RIGHT if self.correct else FEEDBACK_OTHER)
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


#: Smallest patient window (px) placed beside the operator's on a shared screen.
PATIENT_MIN_SIZE = QtCore.QSize(320, 240)
#: Share of a shared screen's width the patient window takes when the operator's window has
#: to make room for it.
PATIENT_SHARE = 1.0 / 3.0


def free_area(available, taken, minimum=PATIENT_MIN_SIZE):
    """The largest strip of a screen left free by a window: beside, above or below it.

    Parameters
    ----------
    available : QRect
        The screen's available geometry.
    taken : QRect
        The window's frame (outside the screen: nothing is taken).
    minimum : QSize
        Smallest strip that counts.

    Returns
    -------
    area : QRect | None
        The largest free strip of at least ``minimum``, or None.
    """
    a, t = QtCore.QRect(available), QtCore.QRect(taken).intersected(available)
    if t.isEmpty():
        return a
    strips = (QtCore.QRect(a.left(), a.top(), t.left() - a.left(), a.height()),
              QtCore.QRect(t.right() + 1, a.top(), a.right() - t.right(), a.height()),
              QtCore.QRect(a.left(), a.top(), a.width(), t.top() - a.top()),
              QtCore.QRect(a.left(), t.bottom() + 1, a.width(), a.bottom() - t.bottom()))
    fits = [r for r in strips
            if r.width() >= minimum.width() and r.height() >= minimum.height()]
    return max(fits, key=lambda r: r.width() * r.height()) if fits else None


class PatientWindow(QtWidgets.QWidget):
    """The patient's window: a :class:`PatientCanvas`, on a screen of its own when there is
    one, never over the operator's window.

    Parameters
    ----------
    operator : QWidget | None
        The operator's window: the patient window never covers it (see :meth:`show_on`).
    """

    def __init__(self, parent=None, operator=None):
        super().__init__(parent, QtCore.Qt.WindowType.Window)
        self.setWindowTitle("BCI - patient screen")
        self.operator = operator
        self.placement = ""  # where the last show_on put the window, and why
        self.canvas = PatientCanvas()
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)
        self.resize(800, 600)

    def _operator_screen(self):
        op = self.operator
        if op is None or not op.isVisible():
            return None
        return op.screen()

    def show_on(self, screen_index=None, fullscreen=False):
        """Show the window, never over the operator's window.

        On a screen other than the operator's (by default the last such screen: usually the
        second monitor) it goes full screen if asked. On the operator's screen (a single
        screen, or that screen chosen) it is never full screen: it takes the largest strip
        the operator's window leaves free (:func:`free_area`); without one, the operator's
        window gives up the right :data:`PATIENT_SHARE` of the screen (as far as its
        minimum width allows) and the patient window takes it; on a screen too small for
        both, it is put right of the operator's window. :attr:`placement` says which.
        """
        screens = QtGui.QGuiApplication.screens()
        own = self._operator_screen()
        if not screens:
            self.showNormal()
            return
        if screen_index is None:
            others = [k for k, s in enumerate(screens) if s is not own]
            index = others[-1] if others else len(screens) - 1
        else:
            index = max(0, min(int(screen_index), len(screens) - 1))
        screen = screens[index]
        self.setScreen(screen)
        if own is None or screen is not own:
            self.move(screen.availableGeometry().topLeft() + QtCore.QPoint(40, 40))
            self.placement = f"screen {index + 1}" + (", full screen" if fullscreen else "")
            if fullscreen:
                self.showFullScreen()
            else:
                self.showNormal()
            self.raise_()
            return
        self.showNormal()
        self.setGeometry(self._beside_operator(screen.availableGeometry()))
        self.raise_()

    def _frame_margins(self):
        """Width of the window frame around the client area (left/right, top, bottom)."""
        frame, inner = self.frameGeometry(), self.geometry()
        if self.isVisible() and frame != inner:
            return (inner.left() - frame.left(), inner.top() - frame.top(),
                    frame.bottom() - inner.bottom())
        return 8, 32, 8  # not shown yet: a typical title bar and border

    def _beside_operator(self, available):
        """Client geometry of the window beside the operator's on a shared screen."""
        op = self.operator
        area = free_area(available, op.frameGeometry())
        if area is not None:
            self.placement = "beside the operator's window"
        else:
            share = max(PATIENT_MIN_SIZE.width(), int(available.width() * PATIENT_SHARE))
            frame = op.frameGeometry()
            width = available.width() - share - (frame.width() - op.width())
            if width >= max(op.minimumSizeHint().width(), op.minimumWidth()):
                op.showNormal()
                op.setGeometry(available.left() + (op.geometry().left() - frame.left()),
                               op.geometry().top(), width, op.height())
                area = free_area(available, op.frameGeometry())
            if area is not None:
                self.placement = ("beside the operator's window (made narrower to leave "
                                  "room)")
            else:  # a screen too small for both: never over the operator's controls
                f = op.frameGeometry()
                area = QtCore.QRect(f.right() + 1, f.top(), PATIENT_MIN_SIZE.width(),
                                    max(PATIENT_MIN_SIZE.height(), f.height()))
                self.placement = "right of the operator's window (the screen is too small)"
        side, top, bottom = self._frame_margins()
        return area.adjusted(side, top, -side, -bottom)

    def keyPressEvent(self, event):
        if event.key() == QtCore.Qt.Key.Key_Escape and self.isFullScreen():
            self.showNormal()
        else:
            super().keyPressEvent(event)
