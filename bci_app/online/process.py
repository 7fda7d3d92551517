"""The online decoder in its own process: decisions keep their pace on a busy machine.

In the application's process the decoder shares Python's interpreter lock with the GUI
(drawing 64 channels) and with acquisition, and its latency follows their load.
:class:`DecoderProcess` runs the same :class:`~bci_app.online.live.OnlineDecoder` in a child
process (``spawn``: the same on every platform) that reads its own LSL inlets, publishes its
predictions on its LSL outlet (recorded with the run) and writes its logs; it asks the
operating system for a higher priority when allowed (real-time round-robin, else a lower
niceness: :func:`_raise_priority`). The
parent receives the predictions and status events through a queue and calls its
subscribers from a reader thread, with the same ``(kind, payload)`` as an
:class:`~bci_app.online.live.OnlineDecoder` (``"predictions"``, ``"status"``).

Usage is that of :class:`~bci_app.online.live.OnlineDecoder`: :meth:`~DecoderProcess.start`
(blocks until the child has connected its streams, or raises its error),
:meth:`~DecoderProcess.stop`, :meth:`~DecoderProcess.summary` (once stopped: the child's
final figures), :attr:`~DecoderProcess.error` (a fatal error of the child).
"""

import logging
import multiprocessing as mp
import os
import queue
import threading
from pathlib import Path

from .._utils import Subscribers
from ..errors import StreamError

logger = logging.getLogger(__name__)

#: Real-time (round-robin) priority asked for the decoder's process first (1-99; low: above
#: every ordinary program, below the system's own real-time tasks).
REALTIME_PRIORITY = 10
#: Niceness asked for otherwise (negative: more CPU than ordinary programs). Both need the
#: privilege; without it the default priority is kept (and reported).
PRIORITY = -5
#: What the child sends back (kinds of the decoder's subscribers).
_FORWARDED = ("predictions", "status")


def _raise_priority():
    """Ask for real-time round-robin scheduling (:data:`REALTIME_PRIORITY`), else a lower
    niceness (:data:`PRIORITY`); threads started afterwards inherit it. Returns what was
    granted: ``"realtime"``, ``"nice"`` or None (neither is permitted here).

    The decoder sleeps between windows (a few ms of work every step), so real-time
    scheduling costs other programs nothing but lets it run as soon as its data arrive;
    the kernel's real-time throttling keeps the machine usable in any case.
    """
    try:
        os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(REALTIME_PRIORITY))
        return "realtime"
    except (AttributeError, OSError):  # not permitted, or not on this platform
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, 0, PRIORITY)
        return "nice"
    except (AttributeError, OSError):
        return None


def _child(trained, eeg_name, settings, out, stop):
    """The decoder process: run an OnlineDecoder until ``stop`` is set."""
    from ..acquisition.marker_input import MarkerInput
    from ..acquisition.stream import EEGInput
    from .engine import WindowedDecoder
    from .live import OnlineDecoder

    raised = _raise_priority()
    online = None
    try:
        decoder = WindowedDecoder.from_model(trained, smoothing=settings["smoothing"],
                                             threshold=settings["threshold"])
        eeg = EEGInput(eeg_name, stype=None, channels=trained.ch_names, sfreq=trained.sfreq,
                       timeout=settings["timeout"], source_id=settings["source_id"])
        markers = MarkerInput(settings["markers"], timeout=settings["timeout"]) \
            if settings["markers"] else None
        online = OnlineDecoder(decoder, eeg, markers=markers, log_dir=settings["log_dir"],
                               publish=settings["publish"])
        online.subscribe(lambda kind, payload: out.put((kind, payload))
                         if kind in _FORWARDED else None)
        online.start()
    except Exception as exc:
        out.put(("failed", f"{type(exc).__name__}: {exc}"
                 if not isinstance(exc, StreamError) else str(exc)))
        return
    out.put(("started", {"pid": os.getpid(), "priority_raised": raised}))
    reported = False
    while not stop.wait(0.2):
        if online.error is not None and not reported:
            out.put(("error", str(online.error)))
            reported = True
    online.stop()
    out.put(("summary", online.summary()))


class DecoderProcess:
    """An :class:`~bci_app.online.live.OnlineDecoder` in a child process (see the module).

    Parameters
    ----------
    trained : TrainedModel
        The model (sent to the child).
    eeg_name : str
        The EEG stream to decode.
    source_id : str | None
        Its source id, when several streams share the name.
    markers_name : str | None
        A marker stream to log alongside.
    log_dir : str | Path | None
        Folder of the decoder's logs (``predictions.csv``, ``events.csv``).
    publish : str | None
        Name of the predictions outlet.
    smoothing, threshold
        The decision rule.
    timeout : float
        Seconds to wait for each stream, and for the child to start.
    """

    def __init__(self, trained, eeg_name, markers_name=None, log_dir=None, publish=None,
                 smoothing=1, threshold=0.0, timeout=10.0, source_id=None):
        self.trained, self.eeg_name = trained, eeg_name
        self.publish = publish
        self.timeout = float(timeout)
        self.settings = {"markers": markers_name, "publish": publish,
                         "log_dir": None if log_dir is None else str(Path(log_dir)),
                         "smoothing": smoothing, "threshold": threshold,
                         "source_id": source_id or None,
                         "timeout": float(timeout)}
        self.error = None
        self.pid = None
        self.priority_raised = None
        self._subscribers = Subscribers("decoder process")
        self._summary = None
        self._process = self._reader = None
        self._queue = self._stop = None
        self._started = threading.Event()
        self._ended = threading.Event()

    def subscribe(self, callback):
        """Call ``callback(kind, payload)`` for predictions and status events."""
        self._subscribers.add(callback)

    @property
    def is_running(self):
        return self._process is not None and self._process.is_alive()

    def start(self):
        """Start the child and wait until it decodes.

        Raises
        ------
        StreamError
            The child could not connect its streams or load the model (its message), or
            did not start within the timeout plus 30 s (importing the libraries).
        """
        ctx = mp.get_context("spawn")
        self._queue, self._stop = ctx.Queue(), ctx.Event()
        self._process = ctx.Process(target=_child, name="bci-app-decoder", daemon=True,
                                    args=(self.trained, self.eeg_name, self.settings,
                                          self._queue, self._stop))
        self._process.start()
        self._reader = threading.Thread(target=self._read, daemon=True,
                                        name="bci-app-decoder-reader")
        self._reader.start()
        if not self._started.wait(self.timeout + 30.0) or self.error is not None:
            text = self.error or f"the decoder process did not start within " \
                                 f"{self.timeout + 30:g} s"
            self._terminate()
            raise StreamError(f"online decoder: {text}")
        logger.info("decoder process %s started (priority: %s)", self.pid,
                    self.priority_raised or "normal, a higher one is not permitted here")
        return self

    def _read(self):
        while True:
            try:
                kind, payload = self._queue.get(timeout=0.5)
            except queue.Empty:
                if self._process is not None and not self._process.is_alive():
                    if not self._ended.is_set() and self.error is None:
                        self.error = (f"the decoder process {self.pid} ended unexpectedly "
                                      f"(exit code {self._process.exitcode})")
                        logger.error("%s", self.error)
                    self._started.set()
                    self._ended.set()
                    return
                continue
            except (EOFError, OSError):
                self._started.set()
                self._ended.set()
                return
            if kind in _FORWARDED:
                self._subscribers.notify(kind, payload)
            elif kind == "started":
                self.pid, self.priority_raised = payload["pid"], payload["priority_raised"]
                self._started.set()
            elif kind in ("failed", "error"):
                self.error = payload
                self._started.set()
            elif kind == "summary":
                self._summary = payload
                self._ended.set()
                return

    def stop(self, timeout=10.0):
        """Stop decoding (the child closes its streams and logs, then sends its summary).
        Safe to call twice."""
        if self._process is None:
            return
        self._stop.set()
        self._ended.wait(timeout)
        self._terminate()

    def _terminate(self):
        process, self._process = self._process, None
        if process is None:
            return
        process.join(5.0)
        if process.is_alive():
            logger.warning("decoder process %s did not stop: terminated.", process.pid)
            process.terminate()
            process.join(5.0)
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(2.0)

    def summary(self):
        """The decoder's summary (windows, decisions, latency) once stopped; None before."""
        return self._summary

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
