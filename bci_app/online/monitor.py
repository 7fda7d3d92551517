"""Watching an EEG stream for display: a thread that fills ring buffers, raw and filtered.

:class:`Acquisition` is what the GUI's signal views draw from (display only: runs are
recorded by LabRecorder, :mod:`bci_app.session.orchestrator`). No Qt: its callbacks come
from its thread; the GUI forwards them through signals.

Losses, for the operator
------------------------
The stream declares a loss after ``EEGInput.loss_timeout`` (0.5 s, a dozen chunk periods of a
typical amplifier) without samples, confirmed by a second look: its status turns ``"lost"``
and the decoder stops deciding (:mod:`bci_app.acquisition.stream`). The operator is told
the stream is lost (``on_status`` gets the ``"lost"`` event: the GUI's red banner) only once
no sample has arrived for :func:`alarm_after` seconds: :data:`LOSS_ALARM_S`, or
:data:`LOSS_ALARM_CHUNKS` of the stream's chunk periods if that is longer. A source held up
for a moment (a busy machine: the simulated amplifier runs in the application's process)
resumes sooner with its samples intact, e.g. a gap of 4 ms in the timestamps: that is
reported as a delay (a ``"warning"`` event, the status bar), not as a loss. Until the alarm,
``on_status`` gets a ``"warning"`` that samples are awaited.
"""

import collections
import threading
import time

import numpy as np

from .._logging import logger
from ..acquisition.stream_format import CONNECTED, LOST, WARNING, StreamEvent
from ..processing.buffers import RingBuffer

#: Seconds without samples after which the operator is told the stream is lost.
LOSS_ALARM_S = 1.5
#: ... or this many chunk periods of the stream (the median time between its chunks), if
#: longer: an amplifier sending few large chunks is not lost between two of them.
LOSS_ALARM_CHUNKS = 10


def alarm_after(chunk_period=None):
    """Seconds without samples after which a stream is reported lost to the operator.

    Parameters
    ----------
    chunk_period : float | None
        Median time between the stream's chunks, s (None: not known yet).

    Returns
    -------
    seconds : float
        ``max(LOSS_ALARM_S, LOSS_ALARM_CHUNKS * chunk_period)``.
    """
    if chunk_period is None or not np.isfinite(chunk_period):
        return LOSS_ALARM_S
    return max(LOSS_ALARM_S, LOSS_ALARM_CHUNKS * float(chunk_period))


class Acquisition:
    """Read an EEG stream on a thread and fill the display buffers.

    Parameters
    ----------
    eeg : EEGInput
        Not yet connected (connection happens on the thread).
    seconds : float
        Seconds kept for displays.
    on_status : callable
        ``on_status(StreamEvent)`` (from the thread): the stream's events, a loss only once
        it has lasted :func:`alarm_after` (see the module's doc).
    on_ready, on_error : callable
        Called once connected / if the connection fails (from the thread).
    """

    def __init__(self, eeg, seconds=30.0, on_status=None, on_ready=None, on_error=None):
        self.eeg = eeg
        self.seconds = float(seconds)
        self.on_ready, self.on_error = on_ready, on_error
        self.on_status = on_status
        self._held = None  # the stream's "lost" event, not reported yet
        self._last_chunk = None  # time.monotonic() of the last chunk
        self._periods = collections.deque(maxlen=50)  # seconds between chunks
        eeg.subscribe(self._on_event)
        self.raw_buffer = None
        self.display_buffer = None
        self.ch_names, self.sfreq = [], None
        self.samples = 0
        self._display_filter = None
        self._filter_spec = (1.0, 40.0)
        self._stop = threading.Event()
        self._thread = None

    @property
    def chunk_period(self):
        """Median time between the stream's recent chunks, s (None before two chunks)."""
        return float(np.median(self._periods)) if self._periods else None

    def _report(self, event):
        if self.on_status is not None:
            try:
                self.on_status(event)
            except Exception:  # a faulty subscriber must not stop acquisition
                logger.exception("acquisition: status callback failed")

    def _on_event(self, event):
        """The stream's events, to ``on_status``; a loss held until it lasts (see the
        module's doc)."""
        if event.status == LOST:
            self._held = event
            if self._last_chunk is None:
                self._last_chunk = time.monotonic()
            self._report(StreamEvent(
                WARNING, event.stream, event.time,
                f"No sample from {event.stream!r} for {self.eeg.loss_timeout:g} s: waiting "
                f"for them (reported as lost after {alarm_after(self.chunk_period):g} s "
                "without samples).", event.gap))
            return
        if event.status == CONNECTED and self._held is not None:  # back before the alarm
            self._held = None
            silent = time.monotonic() - self._last_chunk
            text = ""
            if event.gap is not None and event.gap.duration is not None and self.sfreq:
                # The gap runs from the last sample before to the first after: one sample
                # period when none is missing.
                missing = event.gap.duration - 1.0 / self.sfreq
                text = ("; no sample missing" if missing < 1.0 / self.sfreq
                        else f"; {missing:.3f} s of signal missing")
            self._report(StreamEvent(
                WARNING, event.stream, event.time,
                f"Samples from {event.stream!r} were delayed (none for {silent:.2f} s"
                f"{text}): not a loss.", event.gap))
            return
        self._report(event)

    def _check_loss(self):
        """Report the held loss once no sample has come for :func:`alarm_after`."""
        held = self._held
        if held is None or self._last_chunk is None:
            return
        silent = time.monotonic() - self._last_chunk
        if silent < alarm_after(self.chunk_period):
            return
        self._held = None
        self._report(StreamEvent(
            LOST, held.stream, held.time,
            f"EEG input: {held.stream!r} lost: no sample for {silent:.1f} s; waiting for it "
            "to come back.", held.gap))

    @property
    def name(self):
        return self.eeg.description.name if self.eeg.description else str(self.eeg.name)

    def set_display_filter(self, spec):
        """``None`` (raw), ``(l_freq, h_freq)`` or ``(l_freq, h_freq, notch)`` in Hz."""
        self._filter_spec = spec
        if self.sfreq:
            self._display_filter = self._make_filter(spec)

    def _make_filter(self, spec):
        from ..processing.filters import CausalFilter

        if spec is None:
            return None
        l_freq, h_freq = spec[0], min(spec[1], self.sfreq / 2 - 1)
        notch = spec[2] if len(spec) > 2 and spec[2] < self.sfreq / 2 else None
        return CausalFilter(self.sfreq, l_freq, h_freq, notch=notch)

    def start(self):
        self._thread = threading.Thread(target=self._run, name="bci-app-acquisition",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout=5.0):
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._thread = None
        self.eeg.close()

    def _run(self):
        try:
            self.eeg.connect()
        except Exception as exc:
            logger.warning("acquisition: %s", exc)
            if self.on_error:
                self.on_error(exc)
            return
        self.ch_names, self.sfreq = list(self.eeg.ch_names), float(self.eeg.sfreq)
        capacity = int(self.seconds * self.sfreq)
        self.raw_buffer = RingBuffer(len(self.ch_names), capacity)
        self.display_buffer = RingBuffer(len(self.ch_names), capacity)
        self._display_filter = self._make_filter(self._filter_spec)
        if self.on_ready:
            self.on_ready(self)
        while not self._stop.is_set():
            try:
                chunk = self.eeg.read(timeout=0.05)
            except Exception as exc:  # keep the thread alive: the stream may come back
                logger.exception("acquisition: read failed: %s", exc)
                time.sleep(0.1)
                continue
            if chunk is None:
                self._check_loss()
                continue
            now = time.monotonic()
            if self._last_chunk is not None and self._held is None and chunk.gap is None:
                self._periods.append(now - self._last_chunk)
            self._last_chunk = now
            self.samples += chunk.timestamps.size
            self.raw_buffer.write(chunk.data)
            filt = self._display_filter
            if filt is not None:
                if chunk.gap is not None:
                    filt.reset()
                self.display_buffer.write(filt.process(chunk.data))
            else:
                self.display_buffer.write(chunk.data)
