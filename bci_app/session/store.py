"""The session data model: the subjects and sessions of a recordings folder.

:class:`RecordingStore` is what the GUI and ``bci-app session`` use to create or open a
subject (:class:`~bci_app.session.participants.Subject`, a row of ``participants.tsv``)
and a session (:class:`~bci_app.session.sessions.Session`: its runs, log, settings and
models), and to recover the runs a crash interrupted (:meth:`RecordingStore.recover`). The
recordings folder is a BIDS dataset: see :mod:`bci_app.session.layout` for its layout.

Every file is written atomically (:func:`bci_app._utils.atomic_write`) and every timestamp
is :func:`bci_app._utils.now_iso`.
"""

import threading
from dataclasses import asdict, fields
from pathlib import Path

from .._logging import logger
from .._utils import FolderLock
from ..errors import ConfigError, DataError
from .layout import check_label, ensure_dataset
from .participants import (
    Subject,
    participants_tsv,
    read_participants,
    restore_participants,
    write_participants,
)
from .sessions import Session

_LOCKS = {}
_LOCKS_GUARD = threading.Lock()


#: The lock file of a recordings folder (hidden: BIDS tools ignore it).
LOCK_FILE = ".bci-app.lock"


def _root_lock(root):
    """The lock of a recordings folder: shared by every :class:`RecordingStore` of it in
    this process, and exclusive across processes (:class:`~bci_app._utils.FolderLock`)."""
    key = str(Path(root).resolve())
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, FolderLock(Path(key) / LOCK_FILE, error=DataError))


class RecordingStore:
    """A recordings folder: its subjects (participants.tsv) and sessions.

    Parameters
    ----------
    root : str | Path
        The folder (created with its ``dataset_description.json`` if missing).

    Examples
    --------
    >>> store = RecordingStore("recordings")                        # doctest: +SKIP
    >>> store.create_subject("01", age=54, sex="F", affected_side="left")  # doctest: +SKIP
    >>> session = store.open_session("01", "01")                    # doctest: +SKIP
    >>> session.log("note", text="electrode C3 re-gelled")          # doctest: +SKIP

    Attributes
    ----------
    root : Path
    lock : FolderLock
        Held while participants.tsv may be rewritten (subjects saved, runs converted: the
        conversion rewrites it). Shared by every store of the same folder, in this process
        and in others (several sessions recording to one folder at once).
    """

    def __init__(self, root="recordings"):
        self.root = ensure_dataset(root)
        self.lock = _root_lock(self.root)

    def __repr__(self):
        return f"<RecordingStore {self.root}>"

    # -- participants -------------------------------------------------------------------------
    @property
    def participants_tsv(self):
        return participants_tsv(self.root)

    def read_participants(self):
        """(columns, rows) of participants.tsv (rows are dicts of strings); see
        :func:`bci_app.session.participants.read_participants`."""
        return read_participants(self.root)

    def write_participants(self, rows=None, columns=None):
        """Write participants.tsv and participants.json (atomically).

        Parameters
        ----------
        rows, columns : list | None
            The table; None: the current file (re-sorted, store columns first).
        """
        write_participants(self.root, rows, columns)

    def restore_participants(self, before):
        """Put back the store's columns of ``before`` (from :meth:`read_participants`):
        what mne-bids overwrites (:func:`bci_app.session.participants.restore_participants`).
        """
        restore_participants(self.root, before)

    def subjects(self):
        """Every subject of participants.tsv, sorted by id."""
        _, rows = self.read_participants()
        return sorted((Subject.from_row(r) for r in rows), key=lambda s: s.id)

    def has_subject(self, subject_id):
        sid = check_label(subject_id, "subject")
        return any(s.id == sid for s in self.subjects())

    def subject(self, subject_id):
        """The subject with this id.

        Raises
        ------
        DataError
            If there is none (the message lists the known subjects).
        """
        sid = check_label(subject_id, "subject")
        for subj in self.subjects():
            if subj.id == sid:
                return subj
        known = ", ".join(s.id for s in self.subjects()) or "none yet"
        raise DataError(f"{self.participants_tsv}: no subject {sid!r} (subjects: {known}). "
                        "Create it first (RecordingStore.create_subject).")

    def create_subject(self, subject_id, age=None, sex=None, hand=None, affected_side=None,
                       notes="", exist_ok=False):
        """Register a subject in participants.tsv.

        Parameters
        ----------
        subject_id : str
            BIDS label, letters and digits (``"01"``).
        age : int | None
        sex : {"M", "F", "O"} | None
        hand : {"R", "L", "A"} | None
        affected_side : {"left", "right", "both", "none"} | None
        notes : str
        exist_ok : bool
            Return the existing subject instead of raising if the id is taken.

        Returns
        -------
        subject : Subject

        Raises
        ------
        ConfigError
            On an invalid field (named in the message) or an id already taken.
        """
        subject = Subject(subject_id, age, sex, hand, affected_side, notes)
        with self.lock:
            columns, rows = self.read_participants()
            if any(r["participant_id"] == subject.participant_id for r in rows):
                if exist_ok:
                    return self.subject(subject.id)
                raise ConfigError(f"subject {subject.id!r} already exists in "
                                  f"{self.participants_tsv}; open it, or update it with "
                                  "update_subject().")
            rows.append(subject.row())
            self.write_participants(rows, columns)
        logger.info("store %s: subject %s created.", self.root, subject.id)
        return subject

    def update_subject(self, subject_id, **changes):
        """Change fields of a subject (``age``, ``sex``, ``hand``, ``affected_side``,
        ``notes``); returns the updated :class:`Subject`."""
        allowed = {f.name for f in fields(Subject)} - {"id"}
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise ConfigError(f"update_subject: unknown field(s) {unknown}; fields are "
                              f"{sorted(allowed)}.")
        with self.lock:
            current = self.subject(subject_id)
            updated = Subject(**{**asdict(current), **changes})
            columns, rows = self.read_participants()
            rows = [({**r, **updated.row()} if r["participant_id"] == updated.participant_id
                     else r) for r in rows]
            self.write_participants(rows, columns)
        return updated

    def save_subject(self, subject, **changes):
        """Create a subject, or change an existing one (what a subject form does).

        Parameters
        ----------
        subject : Subject | str
            A :class:`Subject`: saved whole (created, or every field replaced). A subject
            id: created with ``changes``, or only the fields in ``changes`` are changed
            (the others are kept).
        **changes
            ``age``, ``sex``, ``hand``, ``affected_side``, ``notes`` (with an id only).

        Returns
        -------
        subject : Subject
            As saved.

        Raises
        ------
        ConfigError
            On an invalid field (named in the message).
        """
        if isinstance(subject, Subject):
            if changes:
                raise ConfigError("save_subject: give a Subject or an id with fields, "
                                  "not both.")
            changes = {k: v for k, v in asdict(subject).items() if k != "id"}
            subject = subject.id
        sid = check_label(subject, "Subject ID")
        with self.lock:
            if self.has_subject(sid):
                return self.update_subject(sid, **changes)
            return self.create_subject(sid, **changes)

    # -- sessions -----------------------------------------------------------------------------
    def sessions(self, subject_id):
        """Labels of the subject's sessions (recorded or only opened), sorted."""
        sid = check_label(subject_id, "subject")
        found = set()
        for base in (self.root, self.root / "sourcedata"):
            found.update(p.name[4:] for p in (base / f"sub-{sid}").glob("ses-*") if p.is_dir())
        return sorted(found)

    def open_session(self, subject_id, session=None, create=True):
        """Open (or create) a session of a subject.

        Parameters
        ----------
        subject_id : str
            A subject of the store (see :meth:`create_subject`).
        session : str | None
            Session label (``"01"``); None: a new session numbered after the last one.
        create : bool
            Create the session if it does not exist (else a DataError).

        Returns
        -------
        session : Session
        """
        subject = self.subject(subject_id)
        if session is None:
            numbers = [int(n) for n in self.sessions(subject.id) if n.isdigit()]
            session = f"{max(numbers, default=0) + 1:02d}"
        label = check_label(session, "session")
        sess = Session(self, subject.id, label)
        if not sess.source_dir.is_dir():
            if not create:
                raise DataError(f"subject {subject.id} has no session {label!r} in "
                                f"{self.root} (sessions: {self.sessions(subject.id)}).")
            sess.source_dir.mkdir(parents=True, exist_ok=True)
            sess.log("session_created", subject=subject.id, session=label)
        return sess

    def new_session(self, subject_id, label=None):
        """Create a new session of a subject.

        Parameters
        ----------
        subject_id : str
        label : str | None
            Session label; None: numbered after the last one (``01``, ``02``...).

        Returns
        -------
        session : Session

        Raises
        ------
        ConfigError
            If the session exists already (open it with :meth:`open_session`), or the label
            is not letters and digits.
        """
        subject = self.subject(subject_id)
        if label is not None:
            label = check_label(label, "session")
            if label in self.sessions(subject.id):
                raise ConfigError(f"Session {label!r} of subject {subject.id} already "
                                  "exists; open it instead.")
        return self.open_session(subject.id, label, create=True)

    def recover(self, convert=True, retry_failed=False):
        """Stop the recorders of runs interrupted by a crash and convert the runs to BIDS.

        See :func:`bci_app.session.recovery.recover`; each conversion holds :attr:`lock`.
        ``retry_failed``: also convert again the runs whose conversion failed.

        Returns
        -------
        recovered : list of bci_app.session.recovery.Recovered
            A conversion that failed says why in its ``error`` (the XDF file is kept).
        """
        from .recovery import convert_recovered, recover

        items = recover(self.root, convert=False, retry_failed=retry_failed)
        if convert:
            for item in items:
                with self.lock:
                    convert_recovered(item)
        return items
