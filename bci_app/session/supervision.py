"""Watching a run's recording while it goes on: the recorder process, the disk, the file.

A run must never go on unrecorded. :class:`RecordingSupervisor` checks, every
:data:`INTERVAL_S`, that

* LabRecorder (a separate process) is still running;
* the disk holding the recording keeps at least ``min_free_bytes`` free;
* the XDF file keeps growing (LabRecorder writes every 0.5 s): no growth for
  :data:`STALL_S` means it no longer writes (full disk, dead storage, hung process).

The first problem found is reported once, through ``on_fault(text)`` (from the supervisor's
thread), well within a second for a dead recorder or a low disk. The run's orchestrator then
stops the protocol and saves what was recorded (:mod:`bci_app.session.orchestrator`).

:func:`check_free_space` is the check before a run starts: the disk must hold the run's
expected size (:func:`expected_bytes`) with a margin.
"""

import logging
import shutil
import threading
import time
from pathlib import Path

from ..errors import StreamError

logger = logging.getLogger(__name__)

#: Seconds between two checks.
INTERVAL_S = 0.2
#: Seconds without the XDF file growing before the recording counts as stalled.
STALL_S = 3.0
#: Free bytes the disk must keep during a run (the run stops below).
MIN_FREE_BYTES = 64 * 2**20
#: Bytes per sample and channel of a recording: XDF float32 and BIDS BrainVision float32.
_BYTES_PER_VALUE = 4 + 4
#: Bytes per sample of the XDF format around the values (timestamp and its flag).
_XDF_SAMPLE_OVERHEAD = 9


def expected_bytes(duration_s, n_channels, sfreq):
    """Disk space a run takes: its XDF recording and its BIDS copy, in bytes.

    Parameters
    ----------
    duration_s : float
        The run's duration (protocol, lead and tail), s.
    n_channels : int
    sfreq : float
        EEG sampling rate, Hz.
    """
    samples = float(duration_s) * float(sfreq)
    return int(samples * (int(n_channels) * _BYTES_PER_VALUE + _XDF_SAMPLE_OVERHEAD))


def check_free_space(folder, needed, min_free=MIN_FREE_BYTES, disk_usage=shutil.disk_usage,
                     purpose="this run", error=StreamError,
                     keep="nothing was recorded"):
    """Raise if the disk of ``folder`` cannot hold ``needed`` bytes and keep ``min_free``.

    Parameters
    ----------
    folder : str | Path
        Where the files go (its first existing parent is checked).
    needed, min_free : int
        Bytes.
    disk_usage : callable
    purpose, keep : str
        What the space is for, and what happened to the data (for the message).
    error : type
        The exception raised.

    Raises
    ------
    error
        Naming the folder, the space free and the space needed, and what to do.
    """
    folder = Path(folder)
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = disk_usage(probe).free
    if free < needed + min_free:
        raise error(
            f"not enough disk space for {purpose} in {folder}: {free / 2**20:.1f} MB free, "
            f"{(needed + min_free) / 2**20:.1f} MB needed (with a reserve of "
            f"{min_free / 2**20:.0f} MB). Free some space or use another disk; {keep}.")
    return free


class RecordingSupervisor:
    """Check a running recorder until stopped; report the first problem (see the module).

    Parameters
    ----------
    recorder : XDFRecorder
        Started.
    on_fault : callable
        ``on_fault(text)``, called once, from the supervisor's thread.
    interval_s, stall_s : float
    min_free_bytes : int
    disk_usage : callable
        ``disk_usage(path) -> (total, used, free)`` (:func:`shutil.disk_usage`).

    Attributes
    ----------
    fault : str | None
        The problem found (None while all is well).
    """

    def __init__(self, recorder, on_fault, interval_s=INTERVAL_S, stall_s=STALL_S,
                 min_free_bytes=MIN_FREE_BYTES, disk_usage=shutil.disk_usage):
        self.recorder, self.on_fault = recorder, on_fault
        self.interval_s, self.stall_s = float(interval_s), float(stall_s)
        self.min_free_bytes = int(min_free_bytes)
        self.disk_usage = disk_usage
        self.fault = None
        self.stalled = False  # the recorder runs but no longer writes (hung)
        self._stop = threading.Event()
        self._thread = None
        self._size, self._grown_at = -1, None

    def start(self):
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name="bci-app-recording-supervisor")
        self._thread.start()
        return self

    def stop(self, timeout=2.0):
        """Stop watching (before the recorder is stopped on purpose)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def check(self, now=None):
        """One check; returns the problem found (text) or None."""
        now = time.monotonic() if now is None else now
        rec = self.recorder
        if not rec.is_running:
            code = rec.exit_code
            how = f" (exit code {code})" if code is not None else ""
            return (f"the recorder (LabRecorder, pid {rec.pid}) stopped during the "
                    f"run{how}; the file holds what was written until then.")
        try:
            free = self.disk_usage(rec.path.parent).free
        except OSError as exc:
            return f"the recording folder {rec.path.parent} cannot be read: {exc}."
        if free < self.min_free_bytes:
            return (f"the disk of {rec.path.parent} is almost full ({free / 2**20:.1f} MB "
                    f"free, below the reserve of {self.min_free_bytes / 2**20:.0f} MB): "
                    "the run stops before the recording is cut.")
        try:
            size = rec.path.stat().st_size
        except OSError:
            size = -1
        if size != self._size:
            self._size, self._grown_at = size, now
        elif now - self._grown_at > self.stall_s:
            self.stalled = True
            return (f"the recording {rec.path.name} has not grown for "
                    f"{now - self._grown_at:.1f} s: LabRecorder no longer writes.")
        return None

    def _loop(self):
        while not self._stop.wait(self.interval_s):
            try:
                problem = self.check()
            except Exception as exc:  # a defect of the check must not pass silently
                logger.exception("recording supervisor")
                problem = f"the recording could not be checked: {exc}"
            if problem is not None:
                self.fault = problem
                logger.error("%s", problem)
                try:
                    self.on_fault(problem)
                except Exception:
                    logger.exception("recording supervisor: fault handler failed")
                return
