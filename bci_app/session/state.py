"""Recording state files: what a run being recorded leaves beside its XDF file.

Every recording has a **state file** beside its XDF (``<name>_recording.json``), written
before the recorder starts (:class:`~bci_app.session.recorder.XDFRecorder`) and updated
atomically (:func:`bci_app._utils.atomic_write`): the recorder's pid (and start time, so a
reused pid is never mistaken for it), the control FIFO, the owning application's pid and
host, the streams and their roles, and everything the BIDS conversion needs (subject,
session, run, protocol, model) under ``"run"``. The conversion
(:func:`bci_app.session.bids.convert_recording`) and the recovery of interrupted runs
(:mod:`bci_app.session.recovery`) read everything from it.

State file ``status`` values: ``"recording"`` (the run is on, or its owner died),
``"stopped"`` (XDF complete, not converted yet), ``"converted"`` (BIDS written, ``bids``
names the file), ``"failed"`` (the conversion failed, ``error`` says why; the XDF is kept).

The format (``format``, ``format_version`` 1) is read as written by every earlier version:
files left by an interrupted run must stay readable by the recovery.
"""

import json
from pathlib import Path

from .._logging import logger
from .._utils import atomic_write
from ..errors import DataError
from ._proc import hostname, process_alive

#: Suffix of the state file written beside each XDF file.
STATE_SUFFIX = "_recording.json"
#: Value of the state file's ``format`` field.
STATE_FORMAT = "bci-app recording state"
#: Version of the format written (``format_version``).
STATE_FORMAT_VERSION = 1
#: State file ``status`` values (see the module's docstring).
RECORDING, STOPPED, CONVERTED, FAILED = "recording", "stopped", "converted", "failed"


def state_path_for(xdf_path):
    """The state file of an XDF recording (``<stem>_recording.json`` beside it)."""
    xdf_path = Path(xdf_path)
    stem = xdf_path.name[:-len(xdf_path.suffix)] if xdf_path.suffix else xdf_path.name
    return xdf_path.with_name(stem + STATE_SUFFIX)


def write_state(path, state):
    """Write a state file atomically (JSON, indented, UTF-8).

    Parameters
    ----------
    path : str | Path
    state : dict
        JSON types.
    """
    atomic_write(path, json.dumps(state, indent=2, ensure_ascii=False) + "\n")


def read_state(path):
    """Read a state file.

    Returns
    -------
    state : dict

    Raises
    ------
    DataError
        If it is missing or not a recording state file.
    """
    path = Path(path)
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DataError(f"{path}: no such recording state file.") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a readable recording state file ({exc}); the XDF "
                        "file beside it is untouched and can be converted by hand.") from exc
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise DataError(f"{path}: not a bci-app recording state file (field 'format' "
                        f"should be {STATE_FORMAT!r}).")
    return state


def update_state(path, **changes):
    """Read, change and rewrite a state file; returns the new state."""
    state = read_state(path)
    state.update(changes)
    write_state(path, state)
    return state


def find_recordings(root, status=None):
    """State files under a recordings folder.

    Parameters
    ----------
    root : str | Path
        The recordings folder (BIDS root); state files live under ``sourcedata/``.
    status : str | sequence of str | None
        Keep only these statuses.

    Returns
    -------
    paths : list of Path
        Sorted by name.
    """
    root = Path(root)
    wanted = None if status is None else ({status} if isinstance(status, str)
                                          else set(status))
    out = []
    for path in sorted((root / "sourcedata").glob(f"sub-*/ses-*/eeg/*{STATE_SUFFIX}")):
        if wanted is None:
            out.append(path)
            continue
        try:
            if read_state(path).get("status") in wanted:
                out.append(path)
        except DataError as exc:
            logger.warning("%s", exc)
    return out


def owner_alive(state):
    """True if the application that started this recording still runs (on this host)."""
    if state.get("owner_host") and state.get("owner_host") != hostname():
        return True  # another machine's recording (shared folder): never touch it
    return process_alive(state.get("owner_pid"), state.get("owner_start_ticks"))
