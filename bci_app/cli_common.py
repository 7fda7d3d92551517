"""What every ``bci-app`` command shares: exit codes, and errors turned into messages.

Exit codes (also in ``bci-app --help`` and the README):

===  =====================================================================================
0    success
1    the command could not do its work: a bad or missing file, a stream not found or lost,
     unusable data (the message names the file, field or stream and what to do)
2    usage error: an unknown option, a missing or malformed argument
3    internal error (a defect): the message says so; ``-vv`` prints the traceback
130  interrupted (Ctrl-C)
===  =====================================================================================

Output folders
    A command that writes files checks its output folder before any work
    (:func:`check_output_folder`): it must be a folder (or a path to one that can be
    created) where a file can be written, on a disk with :data:`MIN_OUTPUT_FREE_BYTES` free.
    Otherwise the command stops at once with exit code 1 and a message naming the folder.
    If writing the outputs still fails at the end (the disk filled up meanwhile, the folder
    was removed...), what was computed is not lost (:func:`save_outputs`): it is written to
    a fallback folder, ``unsaved-results/<command>-<time>`` in the user data folder (else in
    the system's temporary folder), the message names it, and the exit code is 1.
"""

import datetime as _dt
import os
import shutil
import sys
import tempfile
from pathlib import Path

from ._logging import logger
from .errors import BCIAppError, ConfigError, DataError, UsageError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130

#: The table above, for ``--help`` epilogs.
EXIT_CODES_HELP = ("exit codes: 0 success; 1 error (bad file, stream or data: the message says "
                   "what to do); 2 usage error (bad command-line arguments); 3 internal error; "
                   "130 interrupted")


def run_command(prog, func, args):
    """Call ``func(args)`` and turn what it raises into a message and an exit code.

    Parameters
    ----------
    prog : str
        The command's name for messages, e.g. ``"bci-app evaluate"``.
    func : callable
        Returns the exit code.
    args : argparse.Namespace

    Returns
    -------
    code : int
    """
    try:
        return func(args)
    except UsageError as err:
        print(f"{prog}: usage error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except BCIAppError as err:
        logger.debug("command failed", exc_info=True)
        print(f"{prog}: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:  # a defect: say so plainly, traceback on request
        logger.debug("%s: internal error", prog, exc_info=True)  # shown with -vv
        print(f"{prog}: internal error: {type(err).__name__}: {err}\n"
              f"This is a defect of bci-app; run again with -vv for the traceback and report "
              "it.", file=sys.stderr)
        return EXIT_INTERNAL


#: Free space an output folder's disk must have when a command starts, bytes (result
#: tables, figures and models take a few MB; the margin keeps the system usable).
MIN_OUTPUT_FREE_BYTES = 64 * 2**20


def check_output_folder(folder, option, min_free=None, disk_usage=shutil.disk_usage):
    """Check, before any work, that the files of a command can be written in ``folder``.

    The folder (or, if it does not exist yet, its first existing parent, where it will be
    created) must be a folder where a file can be created (a probe file is written and
    removed), on a disk with ``min_free`` bytes free. Nothing is created.

    Parameters
    ----------
    folder : str | Path
    option : str
        The option that named it, for the message (e.g. ``"--out"``).
    min_free : int | None
        Bytes; None: :data:`MIN_OUTPUT_FREE_BYTES`.
    disk_usage : callable
        ``disk_usage(path) -> (total, used, free)``.

    Returns
    -------
    folder : Path

    Raises
    ------
    ConfigError
        Naming the folder, what is wrong and what to do (exit code 1).
    """
    from .session.supervision import check_free_space

    folder = Path(folder).expanduser()
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{option} {folder}: {existing} is a file, not a folder; give "
                          "another output folder. Nothing was computed.")
    try:
        fd, probe = tempfile.mkstemp(prefix=".bci-app-write-check-", dir=existing)
    except OSError as err:
        raise ConfigError(f"{option} {folder}: cannot write in {existing} "
                          f"({err.strerror or err}); give a folder you can write to, or fix "
                          "its permissions. Nothing was computed.") from err
    try:
        os.close(fd)
        os.unlink(probe)
    except OSError:
        logger.warning("could not remove the probe file %s", probe)
    check_free_space(existing, 0, MIN_OUTPUT_FREE_BYTES if min_free is None else min_free,
                     disk_usage=disk_usage, purpose=f"the outputs of {option} {folder}",
                     error=ConfigError, keep="nothing was computed")
    return folder


def fallback_folders():
    """Where :func:`save_outputs` puts outputs that could not be written where asked:
    the user data folder's ``unsaved-results``, else the system's temporary folder."""
    from .resources import user_dir

    return [user_dir() / "unsaved-results", Path(tempfile.gettempdir()) / "bci-app-unsaved"]


def save_outputs(write, folder, what, command):
    """Write a command's outputs into ``folder``; if that fails, into a fallback folder.

    Parameters
    ----------
    write : callable
        ``write(folder)`` writes every output file into ``folder`` (created here).
    folder : str | Path
        Where the user asked for them.
    what : str
        The outputs, for the messages (e.g. ``"the results"``).
    command : str
        The command's name (e.g. ``"evaluate"``), in the fallback folder's name.

    Returns
    -------
    folder : Path
        ``folder``, when it worked.

    Raises
    ------
    DataError
        Writing to ``folder`` failed: the message says why and names the fallback folder
        that holds the outputs (or says that none could be written).
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write(folder)
        return folder
    except OSError as err:
        reason = err.strerror or str(err)
        logger.debug("writing %s to %s failed", what, folder, exc_info=True)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    for base in fallback_folders():
        try:
            base.mkdir(parents=True, exist_ok=True)
            fallback = Path(tempfile.mkdtemp(prefix=f"{command}-{stamp}-", dir=base))
            write(fallback)
        except OSError:
            logger.debug("writing %s to the fallback %s failed", what, base, exc_info=True)
            continue
        raise DataError(f"could not write {what} to {folder} ({reason}); they were written "
                        f"to {fallback} instead: move them where they belong, and free some "
                        f"space in (or fix the permissions of) {folder} for the next runs.")
    raise DataError(f"could not write {what} to {folder} ({reason}), nor to a fallback "
                    f"folder ({', '.join(map(str, fallback_folders()))}); only what was "
                    "printed above is left: free some disk space and run again.")
