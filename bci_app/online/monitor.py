"""Watching an EEG stream for display: a thread that fills ring buffers, raw and filtered.

:class:`Acquisition` is what the GUI's signal views draw from (display only: runs are
recorded by LabRecorder, :mod:`bci_app.session.orchestrator`). No Qt: its callbacks come
from its thread; the GUI forwards them through signals.
"""

import threading
import time

from .._logging import logger
from ..processing.buffers import RingBuffer


class Acquisition:
    """Read an EEG stream on a thread and fill the display buffers.

    Parameters
    ----------
    eeg : EEGInput
        Not yet connected (connection happens on the thread).
    seconds : float
        Seconds kept for displays.
    on_status : callable
        ``on_status(StreamEvent)`` (from the thread).
    on_ready, on_error : callable
        Called once connected / if the connection fails (from the thread).
    """

    def __init__(self, eeg, seconds=30.0, on_status=None, on_ready=None, on_error=None):
        self.eeg = eeg
        self.seconds = float(seconds)
        self.on_ready, self.on_error = on_ready, on_error
        if on_status is not None:
            eeg.subscribe(on_status)
        self.raw_buffer = None
        self.display_buffer = None
        self.ch_names, self.sfreq = [], None
        self.samples = 0
        self._display_filter = None
        self._filter_spec = (1.0, 40.0)
        self._stop = threading.Event()
        self._thread = None

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
                continue
            self.samples += chunk.timestamps.size
            self.raw_buffer.write(chunk.data)
            filt = self._display_filter
            if filt is not None:
                if chunk.gap is not None:
                    filt.reset()
                self.display_buffer.write(filt.process(chunk.data))
            else:
                self.display_buffer.write(chunk.data)
