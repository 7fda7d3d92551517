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

Starting the child costs seconds (a new interpreter imports numpy, scipy, scikit-learn and
pyRiemann, then loads the model: 4 s on an idle machine, 9-15 s under load), so it can start
before its run: :meth:`~DecoderProcess.prepare` starts the child for one model, without any
stream; it imports, loads the model and waits. The run's :meth:`~DecoderProcess.start` then
hands it its streams (EEG, markers, outlet, logs, decision rule) and only waits for their
connection. A prepared child serves one run of the model it was started with
(:meth:`~DecoderProcess.serves`): it never decodes with another model, and it ends with its
run; a child that ends before its run is an error of :meth:`~DecoderProcess.start`. A child
whose parent has died stops by itself.
"""

import logging
import multiprocessing as mp
import os
import queue
import threading
import time
from pathlib import Path

from .._utils import Subscribers
from ..errors import ConfigError, StreamError

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


def _parent_gone():
    """True once the process that started this one has ended (its children then stop)."""
    parent = mp.parent_process()
    return parent is not None and not parent.is_alive()


def _wait_for_run(commands, stop):
    """The run's settings once the parent sends them; None if asked to stop first (or the
    parent has ended)."""
    while not stop.is_set() and not _parent_gone():
        try:
            return commands.get(timeout=0.2)
        except queue.Empty:
            continue
    return None


def _load(trained):
    """What the decoder process runs, imported (the model's own libraries too), and nothing
    more: no Qt, no MOABB, no MNE beyond the small part mne-lsl needs.

    Returns
    -------
    EEGInput, MarkerInput, WindowedDecoder, OnlineDecoder : type
    """
    from ..acquisition.marker_input import MarkerInput
    from ..acquisition.stream import EEGInput
    from .engine import WindowedDecoder
    from .live import OnlineDecoder

    WindowedDecoder.from_model(trained)
    return EEGInput, MarkerInput, WindowedDecoder, OnlineDecoder


def _child(trained, commands, out, stop, loaded):
    """The decoder process: load the libraries and the model, wait for the run's settings,
    then run an OnlineDecoder until ``stop`` is set. It loads at the ordinary priority (it
    would take the CPU from the application meanwhile) and raises it for its run, before
    its threads start (they inherit it: the queue's feeder too, hence ``loaded`` is an
    event, not a message)."""
    try:
        EEGInput, MarkerInput, WindowedDecoder, OnlineDecoder = _load(trained)
    except Exception as exc:
        out.put(("failed", f"{type(exc).__name__}: {exc}"))
        return
    loaded.set()
    settings = _wait_for_run(commands, stop)
    if settings is None:  # stopped before any run
        out.put(("summary", None))
        return
    raised = _raise_priority()
    online = None
    try:
        decoder = WindowedDecoder.from_model(trained, smoothing=settings["smoothing"],
                                             threshold=settings["threshold"])
        eeg = EEGInput(settings["eeg_name"], stype=None, channels=trained.ch_names,
                       sfreq=trained.sfreq, timeout=settings["timeout"],
                       source_id=settings["source_id"])
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
        if _parent_gone():
            break
    online.stop()
    out.put(("summary", online.summary()))


class DecoderProcess:
    """An :class:`~bci_app.online.live.OnlineDecoder` in a child process (see the module).

    Parameters
    ----------
    trained : TrainedModel
        The model (sent to the child).
    eeg_name : str | None
        The EEG stream to decode (None: given to :meth:`start`).
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

    #: Arguments of the run (constructor's or :meth:`start`'s) -> keys of the child's settings.
    _RUN_ARGS = {"eeg_name": "eeg_name", "markers_name": "markers", "log_dir": "log_dir",
                 "publish": "publish", "smoothing": "smoothing", "threshold": "threshold",
                 "source_id": "source_id"}

    def __init__(self, trained, eeg_name=None, markers_name=None, log_dir=None, publish=None,
                 smoothing=1, threshold=0.0, timeout=10.0, source_id=None):
        self.trained = trained
        self.timeout = float(timeout)
        self.settings = {"timeout": float(timeout)}
        self._set_run(eeg_name=eeg_name, markers_name=markers_name, log_dir=log_dir,
                      publish=publish, smoothing=smoothing, threshold=threshold,
                      source_id=source_id)
        self.error = None
        self.pid = None
        self.priority_raised = None
        self._subscribers = Subscribers("decoder process")
        self._summary = None
        self._process = self._reader = None
        self._queue = self._stop = self._commands = self._loaded = None
        self._run_given = False
        self._discarded = False
        self._started = threading.Event()
        self._ended = threading.Event()

    def _set_run(self, **run):
        for arg, value in run.items():
            if arg == "log_dir" and value is not None:
                value = str(Path(value))
            elif arg == "source_id":
                value = value or None
            self.settings[self._RUN_ARGS[arg]] = value
        self.eeg_name, self.publish = self.settings["eeg_name"], self.settings["publish"]

    def subscribe(self, callback):
        """Call ``callback(kind, payload)`` for predictions and status events."""
        self._subscribers.add(callback)

    @property
    def is_running(self):
        return self._process is not None and self._process.is_alive()

    @property
    def is_ready(self):
        """True once the child has loaded the libraries and the model (after
        :meth:`prepare`), while it lives."""
        return (self._loaded is not None and self._loaded.is_set() and self.error is None
                and self.is_running)

    def serves(self, trained):
        """True if this process can decode a run of ``trained``: prepared for that very
        model (the same object), alive, no run given yet and no error."""
        return (trained is not None and trained is self.trained and not self._run_given
                and not self._discarded and self.error is None and self.is_running)

    def prepare(self):
        """Start the child now, before its run: it loads the libraries and the model, then
        waits for :meth:`start` (which gives it the run's streams). Returns at once.

        Returns
        -------
        self : DecoderProcess
        """
        if self._process is not None:
            return self
        ctx = mp.get_context("spawn")
        self._queue, self._stop, self._commands = ctx.Queue(), ctx.Event(), ctx.Queue()
        self._loaded = ctx.Event()
        self._process = ctx.Process(target=_child, name="bci-app-decoder", daemon=True,
                                    args=(self.trained, self._commands, self._queue,
                                          self._stop, self._loaded))
        self._process.start()
        self.pid = self._process.pid
        self._reader = threading.Thread(target=self._read, args=(self._process,),
                                        daemon=True, name="bci-app-decoder-reader")
        self._reader.start()
        return self

    def wait_ready(self, timeout=None):
        """Block until the prepared child has loaded the model (or failed, or ended); True
        if it is ready."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._loaded is not None and not self._loaded.wait(0.1):
            if self.error is not None or not self.is_running \
                    or (deadline is not None and time.monotonic() > deadline):
                break
        return self.is_ready

    def start(self, **run):
        """Start decoding: give the child (started now, or by :meth:`prepare`) the run's
        streams and wait until it decodes them.

        Parameters
        ----------
        **run
            The run's ``eeg_name``, ``markers_name``, ``log_dir``, ``publish``,
            ``smoothing``, ``threshold``, ``source_id`` (see the class), instead of the
            constructor's.

        Returns
        -------
        self : DecoderProcess

        Raises
        ------
        StreamError
            The child could not connect its streams or load the model (its message), had
            ended before its run, or did not start within the timeout plus 30 s (importing
            the libraries).
        ConfigError
            No EEG stream is named, or the process was already given a run or discarded.
        """
        unknown = set(run) - set(self._RUN_ARGS)
        if unknown:
            raise TypeError(f"DecoderProcess.start: unknown arguments {sorted(unknown)}")
        if self._run_given or self._discarded:
            raise ConfigError("online decoder: this decoder process already served a run "
                              "(or was discarded); start a new one.")
        self._set_run(**run)
        if not self.eeg_name:
            raise ConfigError("online decoder: no EEG stream to decode; give its name.")
        self.prepare()
        self._run_given = True
        self._commands.put(dict(self.settings))
        if not self._started.wait(self.timeout + 30.0) or self.error is not None:
            text = self.error or f"the decoder process did not start within " \
                                 f"{self.timeout + 30:g} s"
            self._terminate()
            raise StreamError(f"online decoder: {text}")
        logger.info("decoder process %s started (priority: %s)", self.pid,
                    self.priority_raised or "normal, a higher one is not permitted here")
        return self

    def _read(self, process):
        while True:
            try:
                kind, payload = self._queue.get(timeout=0.5)
            except queue.Empty:
                if not process.is_alive():
                    if not self._ended.is_set() and self.error is None \
                            and not self._discarded:
                        when = "during its run" if self._started.is_set() else \
                            "while starting its run" if self._run_given else "before its run"
                        self.error = (f"the decoder process {process.pid} ended "
                                      f"unexpectedly {when} (exit code {process.exitcode})")
                        logger.error("%s", self.error)
                    self._finish_reading()
                    return
                continue
            except (EOFError, OSError, ValueError):
                self._finish_reading()
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
                self._finish_reading()
                return

    def _finish_reading(self):
        self._started.set()
        self._ended.set()

    def stop(self, timeout=10.0):
        """Stop decoding (the child closes its streams and logs, then sends its summary).
        Safe to call twice."""
        if self._process is None:
            return
        if not self._run_given:  # prepared, never used: nothing of a run to close
            self.discard()
            return
        self._stop.set()
        self._ended.wait(timeout)
        self._terminate()

    def discard(self):
        """End a prepared child that will not serve a run (another model was chosen, the
        application closes). Returns at once; a child given a run is stopped by
        :meth:`stop` instead."""
        if self._run_given:
            self.stop()
            return
        self._discarded = True
        process, self._process = self._process, None
        if process is None:
            return
        self._stop.set()
        if process.is_alive():  # it holds no stream, no file: no need to wait for it
            process.terminate()
        threading.Thread(target=process.join, args=(5.0,), daemon=True,
                         name="bci-app-decoder-discard").start()

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
