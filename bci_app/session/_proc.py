"""Processes: is a pid alive (and the same process), its command line, wait for it to end,
terminate it; this host and user.

On Linux a process is identified by its pid *and* its start time (``/proc/<pid>/stat``), so
that a reused pid is never mistaken for the process that had it. Without ``/proc`` the pid
alone is trusted.
"""

import getpass
import os
import signal
import socket
import time
from pathlib import Path

from .._logging import logger


def _proc_stat(pid):
    """(state letter, start time in clock ticks) of a process from /proc, or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()
    try:
        return fields[0], int(fields[19])
    except (IndexError, ValueError):
        return None


def process_start_ticks(pid):
    """Start time of a process (clock ticks since boot, Linux), or None if unknown."""
    stat = _proc_stat(pid)
    return None if stat is None else stat[1]


def process_alive(pid, start_ticks=None):
    """True if process ``pid`` runs (and, if given, started at ``start_ticks``).

    Zombies count as dead; a process whose start time differs (a reused pid) too.
    """
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    except OSError:
        return False
    stat = _proc_stat(pid)
    if stat is None:
        return True  # no /proc: trust the pid
    state, ticks = stat
    if state in ("Z", "X"):
        return False
    return start_ticks is None or ticks == start_ticks


def process_cmdline(pid):
    """The arguments of a process (from /proc), or None if unknown (no /proc, gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return None


def wait_gone(pid, start_ticks, timeout):
    """Wait up to ``timeout`` seconds for a process to end; True if it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_alive(pid, start_ticks):
            return True
        time.sleep(0.05)
    return not process_alive(pid, start_ticks)


def terminate(pid, start_ticks, what, timeout=3.0):
    """SIGTERM then SIGKILL a process that did not stop on request.

    Parameters
    ----------
    pid : int
    start_ticks : int | None
        Its start time (:func:`process_start_ticks`): another process that reused the pid
        is left alone.
    what : str
        Names the process in the warnings.
    timeout : float
        Seconds to wait after each signal.
    """
    for sig in (signal.SIGTERM, getattr(signal, "SIGKILL", signal.SIGTERM)):
        if not process_alive(pid, start_ticks):
            return
        logger.warning("%s did not stop on request: sending %s.", what, sig.name)
        try:
            os.kill(pid, sig)
        except OSError:
            return
        if wait_gone(pid, start_ticks, timeout):
            return


def username():
    """The user running this process (``"user"`` if unknown)."""
    try:
        return getpass.getuser()
    except Exception:
        return "user"


def hostname():
    """This machine's name (``""`` if unknown)."""
    try:
        return socket.gethostname()
    except OSError:
        return ""
