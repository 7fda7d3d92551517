"""Live multichannel signal display: scrolling traces, channel quality and spectrum.

The acquisition thread writes every chunk into a
:class:`~bci_app.processing.buffers.RingBuffer`; the widgets here only read the latest seconds
of it on a fixed-rate Qt timer, so drawing never waits for data and data never waits for
drawing. The channel quality and the spectrum are computed by
:mod:`bci_app.processing.quality`; the widgets here draw them. All the traces are one
pyqtgraph curve (one path, channels separated by breaks), decimated to about two points per
screen pixel: the cost of a frame depends on the window width, not on the number of channels
or the sampling rate.
"""

import time

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from ..processing.quality import average_spectrum, buffer_quality
from .palette import QUALITY_COLOURS

#: Redraw rate of the traces while visible (frames per second).
FRAME_RATE = 40.0



def _break_connect(n_channels, n_points):
    """pyqtgraph ``connect`` array: join points within a channel, break between channels."""
    connect = np.ones(n_channels * n_points, dtype=np.int32)
    if n_points:
        connect[n_points - 1::n_points] = 0
    return connect


class _PaintCounter(QtCore.QObject):
    """Counts the paint events a widget really receives (frames drawn)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.count = 0

    def eventFilter(self, obj, event):
        if event.type() == QtCore.QEvent.Type.Paint:
            self.count += 1
        return False


class TracesView(QtWidgets.QWidget):
    """Scrolling multichannel traces, redrawn at a fixed rate from a ring buffer.

    Parameters
    ----------
    fps : float
        Redraw rate (frames per second) while visible.
    parent : QWidget | None

    Attributes
    ----------
    frames : int
        Frames prepared (timer ticks with data to show).
    """

    def __init__(self, fps=FRAME_RATE, parent=None):
        super().__init__(parent)
        pg.setConfigOptions(antialias=False, background="w", foreground="k")
        self.plot = pg.PlotWidget()
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.setLabel("bottom", "time (s)")
        self.plot.showGrid(x=True, y=False, alpha=0.2)
        self.curve = pg.PlotCurveItem(pen=pg.mkPen("#1a237e", width=1), skipFiniteCheck=True)
        self.bad_curve = pg.PlotCurveItem(pen=pg.mkPen("#bdbdbd", width=1),
                                          skipFiniteCheck=True)
        self.plot.addItem(self.bad_curve)
        self.plot.addItem(self.curve)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self._painter_counter = _PaintCounter(self)
        self.plot.viewport().installEventFilter(self._painter_counter)
        self.source = None
        self.ch_names = []
        self.bad = set()
        self.span_s = 5.0
        self.scale_uv = 50.0
        self.frames = 0
        self._last_count = -1
        self._timer = QtCore.QTimer(self)
        self._timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self.refresh)
        self.set_fps(fps)

    @property
    def paints(self):
        """Paint events received by the plot (frames really drawn on screen)."""
        return self._painter_counter.count

    def set_fps(self, fps):
        self._timer.setInterval(max(1, int(round(1000.0 / fps))))

    def set_source(self, source):
        """Show ``source`` (an object with ``display_buffer``, ``ch_names``, ``sfreq``)."""
        self.source = source
        self.ch_names = list(source.ch_names) if source is not None else []
        self._last_count = -1
        n = len(self.ch_names)
        self._update_ticks()
        self.plot.setYRange(-(n - 0.5), 0.5, padding=0)
        self.plot.setXRange(-self.span_s, 0, padding=0)
        if source is None:
            self.curve.setData([], [])
            self.bad_curve.setData([], [])

    def _update_ticks(self):
        ticks = [(-(k * 1.0), name) for k, name in enumerate(self.ch_names)]
        rows = max(4, self.plot.height() // 14)  # keep the labels legible
        step = max(1, int(np.ceil(len(ticks) / rows)))
        self.plot.getAxis("left").setTicks([ticks[::step], []])

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._update_ticks()

    def set_bad(self, bad):
        self.bad = set(bad)
        self._last_count = -1

    def set_span(self, seconds):
        self.span_s = float(seconds)
        self.plot.setXRange(-self.span_s, 0, padding=0)
        self._last_count = -1

    def set_scale(self, microvolts):
        """Amplitude that fills the space between two channels, µV."""
        self.scale_uv = float(microvolts)
        self._last_count = -1

    def showEvent(self, event):
        super().showEvent(event)
        self._timer.start()

    def hideEvent(self, event):
        super().hideEvent(event)
        self._timer.stop()

    def refresh(self):
        """Draw the latest data (called by the timer)."""
        src = self.source
        if src is None or src.display_buffer is None:
            return
        buf = src.display_buffer
        if buf.count == 0:
            return
        # Scroll by the clock between chunks (amplifiers send 10-50 chunks/s): the time
        # since the last chunk shifts the traces left, at most by one typical chunk.
        age = buf.age()
        lag = 0.0 if age is None else min(age, 0.1)
        self._last_count = buf.count
        n = int(self.span_s * src.sfreq)
        data = buf.latest(n)
        m = data.shape[1]
        if m < 2:
            return
        width = max(200, self.plot.width())
        stride = max(1, m // (2 * width))
        data = data[:, ::stride]
        p = data.shape[1]
        t = (np.arange(p) * stride - (m - 1)) / src.sfreq - lag
        n_ch = data.shape[0]
        offsets = -np.arange(n_ch, dtype=np.float32)[:, None]
        y = data * (1e6 / (2.0 * self.scale_uv)) + offsets
        good = np.array([c not in self.bad for c in self.ch_names[:n_ch]], dtype=bool)
        x_all = np.tile(t.astype(np.float32), n_ch).reshape(n_ch, p)
        for curve, sel in ((self.curve, good), (self.bad_curve, ~good)):
            k = int(sel.sum())
            if k == 0:
                curve.setData([], [])
                continue
            curve.setData(x_all[sel].ravel(), y[sel].ravel(), connect=_break_connect(k, p))
        self.frames += 1


class QualityPanel(QtWidgets.QListWidget):
    """Per-channel quality: a coloured label per channel; checked channels are excluded.

    Signals
    -------
    badChanged(list)
        The channels marked bad, after the user ticks or unticks one.
    """

    badChanged = QtCore.Signal(list)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setToolTip("Tick a channel to mark it bad: it is excluded from training and "
                        "decoding displays.")
        self.itemChanged.connect(self._changed)
        self._updating = False
        self.status = []

    def set_channels(self, ch_names, bad=()):
        self._updating = True
        self.clear()
        for name in ch_names:
            item = QtWidgets.QListWidgetItem(name)
            item.setFlags(item.flags() | QtCore.Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(QtCore.Qt.CheckState.Checked if name in bad
                               else QtCore.Qt.CheckState.Unchecked)
            self.addItem(item)
        self._updating = False

    def bad(self):
        return [self.item(i).text().split()[0] for i in range(self.count())
                if self.item(i).checkState() == QtCore.Qt.CheckState.Checked]

    def set_quality(self, ch_names, quality):
        """Show ``quality`` (:func:`bci_app.processing.quality.channel_quality`)."""
        self._updating = True
        self.status = list(quality["status"])
        for i, (name, status, std, line) in enumerate(zip(
                ch_names, quality["status"], quality["std_uv"], quality["line_uv"])):
            item = self.item(i)
            if item is None:
                continue
            excluded = item.checkState() == QtCore.Qt.CheckState.Checked
            shown = "excluded" if excluded else status
            if status == "no signal":
                item.setText(f"{name}  {shown}")
            elif status == "line noise":
                item.setText(f"{name}  {shown}  ({std:.1f} µV, mains {line:.1f} µV)")
            else:
                item.setText(f"{name}  {shown}  ({std:.1f} µV)")
            item.setForeground(QtGui.QBrush(QtGui.QColor(QUALITY_COLOURS[shown])))
        self._updating = False

    def _changed(self, _item):
        if not self._updating:
            self.badChanged.emit(self.bad())


class SpectrumView(pg.PlotWidget):
    """Power spectrum (µV²/Hz, log scale) of the last seconds, mean over good channels."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMenuEnabled(False)
        self.setLabel("bottom", "frequency (Hz)")
        self.setLabel("left", "power (µV²/Hz)")
        self.setLogMode(x=False, y=True)
        self.curve = self.plot(pen=pg.mkPen("#1a237e", width=1.5))
        self.setXRange(0, 70)

    def set_spectrum(self, spectrum):
        """Draw ``(freqs, psd)`` (Hz, V²/Hz); None clears the plot."""
        if spectrum is None:
            self.curve.setData([], [])
            return
        freqs, psd = spectrum
        self.curve.setData(freqs, np.asarray(psd) * 1e12 + 1e-12)


class SignalCheckPanel(QtWidgets.QWidget):
    """Traces with scaling/time/filter controls, quality list and spectrum.

    Parameters
    ----------
    controls : bool
        Show the scale/time/filter controls and the quality/spectrum side panel.
    """

    badChanged = QtCore.Signal(list)
    filterChanged = QtCore.Signal(object)

    FILTERS = {"Raw (no filter)": None, "1-40 Hz": (1.0, 40.0), "8-30 Hz (mu/beta)": (8.0, 30.0),
               "0.5-45 Hz + notch 50 Hz": (0.5, 45.0, 50.0),
               "0.5-45 Hz + notch 60 Hz": (0.5, 45.0, 60.0)}

    def __init__(self, controls=True, fps=FRAME_RATE, parent=None):
        super().__init__(parent)
        self.traces = TracesView(fps=fps)
        self.quality = QualityPanel()
        self.spectrum = SpectrumView()
        self.source = None
        self.last_quality = None
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.controls = QtWidgets.QWidget()
        row = QtWidgets.QHBoxLayout(self.controls)
        row.setContentsMargins(0, 0, 0, 0)
        self.scale_box = QtWidgets.QComboBox()
        for v in (10, 20, 50, 100, 200, 500):
            self.scale_box.addItem(f"{v} µV", v)
        self.scale_box.setCurrentIndex(2)
        self.span_box = QtWidgets.QComboBox()
        for v in (2, 5, 10, 20):
            self.span_box.addItem(f"{v} s", v)
        self.span_box.setCurrentIndex(1)
        self.filter_box = QtWidgets.QComboBox()
        self.filter_box.addItems(list(self.FILTERS))
        self.filter_box.setCurrentIndex(1)
        #: ``line_freqs()``: the mains frequencies (Hz) line noise is looked for at (the
        #: settings', e.g. ``SessionController.mains_frequencies``).
        self.line_freqs = lambda: (50.0, 60.0)
        self.mains_label = QtWidgets.QLabel("")
        self.mains_label.setToolTip("The power line frequency of the session's EEG settings "
                                    "('Patient & session'), else of the site settings: line "
                                    "noise is looked for there.")
        for label, box in (("Scale", self.scale_box), ("Time", self.span_box),
                           ("Display filter", self.filter_box)):
            row.addWidget(QtWidgets.QLabel(label))
            row.addWidget(box)
        row.addStretch(1)
        row.addWidget(self.mains_label)
        layout.addWidget(self.controls)
        split = QtWidgets.QSplitter()
        split.addWidget(self.traces)
        side = QtWidgets.QWidget()
        side_layout = QtWidgets.QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(QtWidgets.QLabel("Channel quality (tick = bad, excluded)"))
        side_layout.addWidget(self.quality, 2)
        side_layout.addWidget(QtWidgets.QLabel("Spectrum (good channels)"))
        side_layout.addWidget(self.spectrum, 1)
        split.addWidget(side)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        layout.addWidget(split, 1)
        self.side = side
        if not controls:
            self.controls.hide()
            side.hide()
        self.scale_box.currentIndexChanged.connect(
            lambda: self.traces.set_scale(self.scale_box.currentData()))
        self.span_box.currentIndexChanged.connect(
            lambda: self.traces.set_span(self.span_box.currentData()))
        self.filter_box.currentIndexChanged.connect(
            lambda: self.filterChanged.emit(self.FILTERS[self.filter_box.currentText()]))
        self.quality.badChanged.connect(self._bad_changed)
        self._quality_timer = QtCore.QTimer(self)
        self._quality_timer.setInterval(500)  # 2 Hz
        self._quality_timer.timeout.connect(self.update_quality)

    def set_source(self, source, bad=()):
        self.source = source
        self.traces.set_source(source)
        self.traces.set_bad(bad)
        self.quality.set_channels(source.ch_names if source else [], bad)

    def set_bad(self, bad):
        self.traces.set_bad(bad)
        self.quality.set_channels(self.source.ch_names if self.source else [], bad)

    def _bad_changed(self, bad):
        self.traces.set_bad(bad)
        self.badChanged.emit(bad)

    def showEvent(self, event):
        super().showEvent(event)
        if self.side.isVisible() or not self.controls.isHidden():
            self._quality_timer.start()
            # Now, not at the timer's first tick: the list must not show, even for a
            # moment, what was true when the view was last seen (e.g. "good" on a stream
            # lost since).
            self.update_quality()

    def hideEvent(self, event):
        super().hideEvent(event)
        self._quality_timer.stop()

    def update_quality(self):
        """Show the quality and spectrum of the last seconds of raw data (2 Hz timer, and
        when shown): line noise looked for at :attr:`line_freqs`; every channel "no signal"
        when nothing has arrived for a second
        (:func:`~bci_app.processing.quality.buffer_quality`)."""
        src = self.source
        if src is None or src.raw_buffer is None:
            return
        freqs = tuple(self.line_freqs())
        self.mains_label.setText("Line noise looked for at " + " and ".join(
            f"{f:g}" for f in freqs) + " Hz" + (" (power line not set)" if len(freqs) > 1
                                               else " (power line)"))
        q = buffer_quality(src.raw_buffer, src.sfreq, line_freqs=freqs)
        if q is None:
            return
        self.last_quality = q
        self.quality.set_quality(src.ch_names, q)
        bad = set(self.quality.bad())
        self.spectrum.set_spectrum(average_spectrum(
            q, [i for i, c in enumerate(src.ch_names) if c not in bad]))


class FrameRateMeter:
    """Frames drawn per second by a :class:`TracesView` over a measurement period."""

    def __init__(self, view):
        self.view = view
        self.reset()

    def reset(self):
        self._t0 = time.perf_counter()
        self._paints0 = self.view.paints
        self._frames0 = self.view.frames

    def rates(self):
        dt = max(1e-9, time.perf_counter() - self._t0)
        return {"seconds": dt, "paints_per_s": (self.view.paints - self._paints0) / dt,
                "frames_per_s": (self.view.frames - self._frames0) / dt}
