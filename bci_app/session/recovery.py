"""Recovery of the runs a crash interrupted: orphan recorders stopped, runs converted.

A recording is interrupted when its state file (:mod:`bci_app.session.state`) still says
``"recording"`` (or ``"stopped"`` without a conversion) and the application that started
it is gone. :func:`recover` finds these runs, stops their orphan recorders
(:func:`bci_app.session._labrecorder.stop_orphan`: LabRecorder, a separate process, survives
the application and closes the file cleanly when asked), marks them interrupted in their
state files and session logs, and converts them to BIDS
(:func:`bci_app.session.bids.convert_recording`). Call it when the application starts (the
GUI, ``bci-app session``: :meth:`bci_app.session.RecordingStore.recover`) or on demand.
"""

from dataclasses import dataclass
from pathlib import Path

from .._logging import logger
from .._utils import now_iso
from ..errors import DataError
from ._labrecorder import stop_orphan
from .bids import convert_recording
from .layout import ensure_dataset
from .session_log import SessionLog
from .state import (
    FAILED,
    RECORDING,
    STOPPED,
    find_recordings,
    owner_alive,
    read_state,
    update_state,
)


@dataclass
class Recovered:
    """One interrupted recording handled by :func:`recover`.

    Attributes
    ----------
    state_path, xdf_path : Path
    orphan_stopped : bool
        An orphan recorder was still running and was stopped.
    bids_path : Path | None
        The BIDS EEG file written (None if not converted).
    error : str | None
        Why the conversion failed (the XDF file is kept).
    """

    state_path: Path
    xdf_path: Path
    orphan_stopped: bool = False
    bids_path: Path | None = None
    error: str | None = None


def recover(root, convert=True, force=False, retry_failed=False):
    """Find interrupted recordings, stop their orphan recorders, convert them to BIDS.

    Parameters
    ----------
    root : str | Path
        The recordings folder.
    convert : bool
        Convert the recovered XDF files to BIDS (:func:`convert_recovered`).
    force : bool
        Also handle recordings whose owner process is still alive (e.g. a test that plays
        both roles). Never use it while another instance of the application records.
    retry_failed : bool
        Also convert again the recordings whose conversion failed (state ``"failed"``, XDF
        file kept), e.g. after the disk was freed or the folder unlocked.

    Returns
    -------
    recovered : list of Recovered
    """
    out = []
    statuses = (RECORDING, STOPPED) + ((FAILED,) if retry_failed else ())
    for path in find_recordings(root, status=statuses):
        try:
            state = read_state(path)
        except DataError as exc:
            logger.warning("%s", exc)
            continue
        if not force and state.get("status") != FAILED and owner_alive(state):
            continue  # its application is still recording or converting it
        item = Recovered(path, path.with_name(state.get("xdf", "")))
        if state.get("status") == FAILED and not item.xdf_path.is_file():
            continue  # nothing recorded to convert
        if state.get("status") == RECORDING:
            item.orphan_stopped = stop_orphan(path)
            update_state(path, status=STOPPED, stopped=now_iso(), interrupted=True,
                         recovered=now_iso())
            logger.warning("recovered interrupted recording %s%s.", item.xdf_path,
                           " (orphan recorder stopped)" if item.orphan_stopped else "")
            _log_recovery(path, state, item.orphan_stopped)
        if convert:
            convert_recovered(item)
        out.append(item)
    return out


def convert_recovered(item):
    """Convert a recovered run to BIDS: sets ``item.bids_path``, or ``item.error``.

    A failed conversion does not raise: the XDF file stays, its state file and
    ``item.error`` say why.

    Parameters
    ----------
    item : Recovered

    Returns
    -------
    item : Recovered
    """
    try:
        item.bids_path = Path(convert_recording(item.state_path).fpath)
    except Exception as exc:  # keep going: the XDF stays, the state says why
        item.error = f"{type(exc).__name__}: {exc}"
        logger.error("cannot convert %s: %s", item.xdf_path, item.error)
    return item


def _log_recovery(state_path, state, orphan_stopped):
    """Add a ``run_recovered`` entry to the session log of a recovered run."""
    info = state.get("run", {})
    if not info.get("subject") or not info.get("session"):
        return
    try:
        root = ensure_dataset(Path(state_path).parents[4])
        SessionLog(root, info["subject"], info["session"]).log(
            "run_recovered", run=info.get("run"), task=info.get("task"),
            xdf=state.get("xdf"), orphan_recorder_stopped=orphan_stopped,
            owner_pid=state.get("owner_pid"))
    except (OSError, ValueError) as exc:
        logger.warning("cannot write the session log of %s: %s", state_path, exc)
