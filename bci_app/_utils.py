"""Small shared utilities of the bottom layer: one atomic file write, one timestamp, one
list of subscribers.

Every module that writes a file a crash must not leave half-written (participants.tsv,
session settings, run records, recorder state files, saved models...) uses
:func:`atomic_write`; every wall-clock timestamp written to a file (session log, run
records, state files, model metadata) comes from :func:`now_iso`; every part that calls
back its listeners from its own thread (protocol runner, EEG input, online decoder) keeps
them in :class:`Subscribers`; a file several programs may rewrite at once (a recordings
folder's participants.tsv) is guarded by a :class:`FolderLock`; ``KEY=VALUE`` lists typed
by a user (event maps, marker maps) are read by :func:`parse_pairs`.
"""

import datetime as _dt
import logging
import os
import threading
import uuid
from pathlib import Path

logger = logging.getLogger(__name__)


def parse_pairs(items, where, form):
    """``KEY=VALUE`` items as a dict, in order.

    Parameters
    ----------
    items : str | iterable of str | None
        The items; a text is split at commas and white space
        (``"T1=left_hand, T2=right_hand"``).
    where : str
        What holds them, named in the error (e.g. ``"--event-map"``).
    form : str
        The expected form, named in the error (e.g. ``"ANNOTATION=CLASS"``).

    Raises
    ------
    ValueError
        An item without ``=``, or with an empty side.
    """
    if isinstance(items, str):
        items = items.replace(",", " ").split()
    mapping = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise ValueError(f"{where}: {item!r} is not {form}.")
        mapping[key] = value
    return mapping


class Subscribers:
    """Callbacks to call from a worker thread, safe to add to from any thread.

    A callback that raises is logged and skipped: a faulty listener (a display, a log)
    never stops the part that calls it.

    Parameters
    ----------
    owner : str
        Who calls them, for the log (e.g. ``"protocol runner"``).
    """

    def __init__(self, owner):
        self.owner = owner
        self._callbacks = []
        self._lock = threading.Lock()

    def add(self, callback):
        """Add ``callback``; returns it. Raises TypeError if it is not callable."""
        if not callable(callback):
            raise TypeError(f"{self.owner}: {callback!r} is not callable.")
        with self._lock:
            self._callbacks.append(callback)
        return callback

    def remove(self, callback):
        """Remove ``callback`` (nothing happens if it is not there)."""
        with self._lock:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

    def __len__(self):
        with self._lock:
            return len(self._callbacks)

    def notify(self, *args):
        """Call every callback with ``args`` (in the order they were added)."""
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                callback(*args)
            except Exception:  # a faulty listener must not stop its caller
                logger.exception("%s: subscriber %r failed on %r.", self.owner, callback,
                                 args[0] if args else None)


def now_iso():
    """The current local time as ISO 8601 with its UTC offset, to the millisecond.

    Returns
    -------
    text : str
        E.g. ``"2024-05-02T14:03:07.512+02:00"`` (:meth:`datetime.datetime.fromisoformat`
        reads it back, as it reads the second-precision timestamps of older files).
    """
    return _dt.datetime.now().astimezone().isoformat(timespec="milliseconds")


def atomic_write(path, data, encoding="utf-8"):
    """Write a file so that it holds either its old or its new content, never a mix.

    The data go to a temporary file in the same folder (unique per call: threads and
    processes may write the same file; created with the usual permissions, as ``open``
    would), which is flushed, synced to disk and renamed over ``path``. The folder is
    created if missing; the temporary file is removed on error.

    Parameters
    ----------
    path : str | Path
        The file to write (replaced if it exists).
    data : str | bytes | bytearray | memoryview
        Text (written with ``encoding``, line endings untouched) or bytes.
    encoding : str
        Encoding of text data.

    Returns
    -------
    path : Path
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode(encoding)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


#: Seconds to wait for a :class:`FolderLock` held by another program.
LOCK_TIMEOUT_S = 60.0


class FolderLock:
    """A lock shared by the threads of this process and by every other process.

    Reentrant within a thread. Across processes it is an exclusive lock on a file
    (``flock`` on POSIX, ``msvcrt.locking`` on Windows), released by the operating system
    if its holder dies: a crash never leaves a folder locked.

    Parameters
    ----------
    path : str | Path
        The lock file (created if missing; it holds the pid of the last holder).
    timeout : float
        Seconds to wait for another program before giving up.
    error : type
        Exception raised then (its message names the file and the holder's pid).
    """

    def __init__(self, path, timeout=LOCK_TIMEOUT_S, error=TimeoutError):
        self.path = Path(path)
        self.timeout = float(timeout)
        self.error = error
        self._rlock = threading.RLock()
        self._depth = 0
        self._fd = None

    def acquire(self):
        self._rlock.acquire()
        try:
            if self._depth == 0:
                self._fd = self._lock_file()
            self._depth += 1
        except BaseException:
            self._rlock.release()
            raise

    def release(self):
        self._depth -= 1
        if self._depth == 0:
            fd, self._fd = self._fd, None
            try:
                _unlock(fd)
            finally:
                os.close(fd)
        self._rlock.release()

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc_info):
        self.release()

    def _lock_file(self):
        import time

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                _try_lock(fd)
                break
            except OSError:
                if time.monotonic() > deadline:
                    holder = os.pread(fd, 32, 0).decode(errors="replace").strip() \
                        if hasattr(os, "pread") else ""
                    os.close(fd)
                    raise self.error(
                        f"{self.path}: locked by another program"
                        f"{f' (pid {holder})' if holder else ''} for over "
                        f"{self.timeout:g} s; close it or wait until it has finished.")
                time.sleep(0.05)
        try:
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
        except OSError:  # the pid is only a courtesy for the message above
            pass
        return fd


if os.name == "nt":  # pragma: no cover - Windows
    import msvcrt

    def _try_lock(fd):
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd):
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _try_lock(fd):
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd):
        fcntl.flock(fd, fcntl.LOCK_UN)
