"""The session data model: subjects, sessions and their runs, in a recordings folder.

:class:`RecordingStore` is what the GUI and ``bci-app session`` use to create or open a
subject (:class:`Subject`, a row of ``participants.tsv``) and a session; :class:`Session`
numbers and lists the runs (:class:`~bci_app.session.runs.RunInfo`, with their status),
keeps the session log (JSON lines, appended and synced entry by entry, so a crash never
loses an entry already written), the session's settings and the models trained in it. The
recordings folder is a BIDS dataset: see :mod:`bci_app.session.bids` for its layout.

Files of a session
------------------
- ``participants.tsv`` (the single source of truth for subjects) with the columns of
  :data:`PARTICIPANT_COLUMNS`, described in ``participants.json``; columns added by other
  tools are kept;
- ``sourcedata/sub-<s>/ses-<e>/``: the session log (:data:`LOG_NAME`) and the raw
  recordings (``eeg/*_eeg.xdf``, with their recorder state files);
- ``sub-<s>/ses-<e>/eeg/``: the runs converted to BIDS;
- ``derivatives/bci-app/sub-<s>/ses-<e>/``: ``session.json`` (the session's settings:
  amplifier stream, montage, bad channels, chosen model, training scores),
  ``runs/run-<NN>.json`` (the record of each run the application recorded), ``models/``,
  ``online/run-<NN>/`` (the online decoder's CSV logs), ``report.html``, ``r2_map.npz``.

Every file is written atomically (:func:`bci_app._utils.atomic_write`) and every timestamp
is :func:`bci_app._utils.now_iso`.
"""

import csv
import json
import os
import threading
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .._logging import logger
from .._utils import atomic_write, now_iso
from ..errors import ConfigError, DataError
from .bids import check_label, derivatives_dir
from .runs import RECORDING, SAVING, RunInfo

#: Columns of participants.tsv written by the store (in this order, then any other column).
PARTICIPANT_COLUMNS = ("participant_id", "age", "sex", "hand", "affected_side", "notes")
#: Allowed values of ``sex`` (BIDS levels) and what they mean.
SEXES = {"M": "male", "F": "female", "O": "other", "n/a": "not given"}
#: Allowed values of ``hand`` (handedness).
HANDS = {"R": "right", "L": "left", "A": "ambidextrous", "n/a": "not given"}
#: Allowed values of ``affected_side`` (e.g. the hemiparetic side after a stroke).
AFFECTED_SIDES = {"left": "left side affected", "right": "right side affected",
                  "both": "both sides affected", "none": "no affected side (e.g. healthy "
                  "participant)", "n/a": "not given"}
#: Name of the log of a session, in ``sourcedata/sub-<s>/ses-<e>/``.
LOG_NAME = "sub-{subject}_ses-{session}_log.jsonl"

_PARTICIPANTS_JSON = {
    "participant_id": {"Description": "Unique participant identifier"},
    "age": {"Description": "Age of the participant when registered", "Units": "year"},
    "sex": {"Description": "Sex of the participant", "Levels": SEXES},
    "hand": {"Description": "Handedness of the participant", "Levels": HANDS},
    "affected_side": {"Description": "Side of the body affected by the condition (e.g. "
                                     "hemiparesis); the protocols' affected_hand", "Levels":
                      AFFECTED_SIDES},
    "notes": {"Description": "Free notes of the experimenter"},
}


#: Name of a session's settings file, in ``derivatives/bci-app/sub-<s>/ses-<e>/``.
SETTINGS_NAME = "session.json"
#: The settings of a session that has none saved yet (``created`` and ``label`` added).
DEFAULT_SETTINGS = {"stream": None, "montage": None, "bad_channels": []}

_LOCKS = {}
_LOCKS_GUARD = threading.Lock()


def _root_lock(root):
    """The lock of a recordings folder, shared by every :class:`RecordingStore` of it in
    this process."""
    key = str(Path(root).resolve())
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.RLock())


def _read_json(path):
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read this file ({exc}). Restore it from a backup, "
                        "or move it away (the session then forgets what it held).") from exc


def _write_json(path, data):
    atomic_write(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def _choice(value, allowed, field, subject):
    if value is None or value == "":
        return "n/a"
    text = str(value).strip()
    for key, meaning in allowed.items():
        if text.lower() in (key.lower(), meaning.lower()):
            return key
    raise ConfigError(f"subject {subject}: {field} {value!r} is not allowed; use one of "
                      + ", ".join(f"{k!r} ({v})" for k, v in allowed.items()) + ".")


@dataclass
class Subject:
    """A participant.

    Attributes
    ----------
    id : str
        BIDS label (letters and digits only, e.g. ``"01"``, ``"P012"``).
    age : int | None
        Years.
    sex : str
        A key of :data:`SEXES`.
    hand : str
        Handedness, a key of :data:`HANDS`.
    affected_side : str
        A key of :data:`AFFECTED_SIDES` (``"n/a"``: not given).
    notes : str
        Free text (tabs and line breaks become spaces).
    """

    id: str
    age: int | None = None
    sex: str = "n/a"
    hand: str = "n/a"
    affected_side: str = "n/a"
    notes: str = ""

    def __post_init__(self):
        self.id = check_label(self.id, "Subject ID")
        if self.age is not None and self.age != "n/a":
            try:
                age = float(self.age)
            except (TypeError, ValueError):
                age = -1
            if not (0 <= age <= 130) or age != int(age):
                raise ConfigError(f"subject {self.id}: age {self.age!r} must be a whole "
                                  "number of years from 0 to 130 (or empty).")
            self.age = int(age)
        else:
            self.age = None
        self.sex = _choice(self.sex, SEXES, "sex", self.id)
        self.hand = _choice(self.hand, HANDS, "hand", self.id)
        self.affected_side = _choice(self.affected_side, AFFECTED_SIDES, "affected_side",
                                     self.id)
        notes = "" if self.notes in (None, "n/a") else str(self.notes)
        self.notes = " ".join(notes.replace("\t", " ").splitlines()).strip()

    @property
    def participant_id(self):
        return f"sub-{self.id}"

    @property
    def affected_hand(self):
        """``"left"``/``"right"`` for protocols with an ``affected_hand`` class, else None."""
        return self.affected_side if self.affected_side in ("left", "right") else None

    def row(self):
        """The participants.tsv row (strings, ``n/a`` for missing values)."""
        return {"participant_id": self.participant_id,
                "age": "n/a" if self.age is None else str(self.age), "sex": self.sex,
                "hand": self.hand, "affected_side": self.affected_side,
                "notes": self.notes or "n/a"}

    @classmethod
    def from_row(cls, row):
        get = lambda key: None if row.get(key) in (None, "", "n/a") else row.get(key)  # noqa
        return cls(id=row["participant_id"], age=get("age"), sex=get("sex"),
                   hand=get("hand"), affected_side=get("affected_side"),
                   notes=get("notes") or "")


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
    lock : threading.RLock
        Held while participants.tsv may be rewritten (subjects saved, runs converted: the
        conversion rewrites it). Shared by every store of the same folder in the process.
    """

    def __init__(self, root="recordings"):
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise ConfigError(f"{self.root}: not a folder; give the recordings folder.")
        self.root.mkdir(parents=True, exist_ok=True)
        description = self.root / "dataset_description.json"
        if not description.exists():
            from .. import __version__

            atomic_write(description, json.dumps({
                "Name": "bci-app recordings", "BIDSVersion": "1.9.0", "DatasetType": "raw",
                "GeneratedBy": [{"Name": "bci-app", "Version": str(__version__),
                                 "Description": "motor-imagery sessions recorded with "
                                                "LabRecorder and converted by mne-bids"}],
            }, indent=2) + "\n")
        self.lock = _root_lock(self.root)

    def __repr__(self):
        return f"<RecordingStore {self.root}>"

    # -- participants -------------------------------------------------------------------------
    @property
    def participants_tsv(self):
        return self.root / "participants.tsv"

    def read_participants(self):
        """(columns, rows) of participants.tsv (rows are dicts of strings)."""
        path = self.participants_tsv
        if not path.exists():
            return list(PARTICIPANT_COLUMNS), []
        try:
            with open(path, encoding="utf-8", newline="") as f:
                reader = csv.DictReader(f, delimiter="\t")
                rows = [dict(r) for r in reader]
                columns = list(reader.fieldnames or PARTICIPANT_COLUMNS)
        except (OSError, csv.Error, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: cannot be read as a TSV file ({exc}); fix or move it "
                            "(it lists the subjects).") from exc
        if "participant_id" not in columns:
            raise DataError(f"{path}: no participant_id column; fix the file header.")
        return columns, rows

    def write_participants(self, rows=None, columns=None):
        """Write participants.tsv and participants.json (atomically).

        Parameters
        ----------
        rows, columns : list | None
            The table; None: the current file (re-sorted, store columns first).
        """
        if rows is None:
            columns, rows = self.read_participants()
        columns = list(PARTICIPANT_COLUMNS) + [c for c in (columns or [])
                                               if c not in PARTICIPANT_COLUMNS]
        rows = sorted(rows, key=lambda r: r["participant_id"])
        lines = ["\t".join(columns)]
        for row in rows:
            lines.append("\t".join(str(row.get(c) or "n/a") for c in columns))
        atomic_write(self.participants_tsv, "\n".join(lines) + "\n")
        described = dict(_PARTICIPANTS_JSON)
        path = self.root / "participants.json"
        if path.exists():
            try:
                for key, value in json.loads(path.read_text(encoding="utf-8")).items():
                    described.setdefault(key, value)
            except (OSError, json.JSONDecodeError):
                pass
        atomic_write(path, json.dumps({c: described[c] for c in columns if c in described},
                                       indent=2, ensure_ascii=False) + "\n")

    def restore_participants(self, before):
        """Put back the store's columns of ``before`` (from :meth:`read_participants`).

        mne-bids rewrites participants.tsv from the recording's own (empty) subject
        information; this restores what the store knows, keeping rows and columns added.
        """
        old_columns, old_rows = before
        columns, rows = self.read_participants()
        known = {r["participant_id"]: r for r in old_rows}
        merged = []
        for row in rows:
            previous = known.pop(row["participant_id"], None)
            if previous is not None:
                row = {**row, **{k: v for k, v in previous.items() if v not in (None, "")}}
            merged.append(row)
        merged += list(known.values())
        self.write_participants(merged, old_columns + [c for c in columns
                                                       if c not in old_columns])

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

    def recover(self, convert=True):
        """Stop the recorders of runs interrupted by a crash and convert the runs to BIDS.

        See :func:`bci_app.session.recorder.recover`; each conversion holds :attr:`lock`.

        Returns
        -------
        recovered : list of bci_app.session.recorder.Recovered
            A conversion that failed says why in its ``error`` (the XDF file is kept).
        """
        from .recorder import recover

        items = recover(self.root, convert=False)
        if convert:
            from .bids import convert_recording

            for item in items:
                try:
                    with self.lock:
                        item.bids_path = Path(convert_recording(item.state_path).fpath)
                except Exception as exc:  # the XDF stays; the state file says why
                    item.error = f"{type(exc).__name__}: {exc}"
                    logger.error("cannot convert %s: %s", item.xdf_path, item.error)
        return items


class Session:
    """One session of one subject: its runs, log, settings and models.

    Use :meth:`RecordingStore.open_session` or :meth:`RecordingStore.new_session` to get
    one.

    Attributes
    ----------
    store : RecordingStore
    subject, session : str
        BIDS labels (:attr:`label` is :attr:`session`; :attr:`participant` is the
        :class:`Subject`).
    root : Path
        The recordings folder.
    source_dir : Path
        ``sourcedata/sub-<s>/ses-<e>`` (XDF files under ``eeg/``, the session log).
    log_path : Path
        The session log (JSON lines).
    """

    def __init__(self, store, subject, session):
        self.store = store
        self.subject = subject
        self.session = session
        self.root = store.root
        self.source_dir = self.root / "sourcedata" / f"sub-{subject}" / f"ses-{session}"
        self.log_path = self.source_dir / LOG_NAME.format(subject=subject, session=session)
        self._meta = None

    def __repr__(self):
        return f"<Session sub-{self.subject} ses-{self.session} in {self.root}>"

    @property
    def label(self):
        """The session label (``"01"``)."""
        return self.session

    @property
    def participant(self):
        """The session's subject as participants.tsv holds it now (:class:`Subject`)."""
        return self.store.subject(self.subject)

    @property
    def rec(self):
        """This session (what ``Session.rec`` was when the GUI wrapped the session in a
        model of its own; kept for callers not yet moved to the session itself)."""
        return self

    # -- folders ------------------------------------------------------------------------------
    @property
    def folder(self):
        """The BIDS folder of the session (``sub-<s>/ses-<e>``)."""
        return self.root / f"sub-{self.subject}" / f"ses-{self.session}"

    @property
    def eeg_folder(self):
        """The BIDS folder of the session's runs (``sub-<s>/ses-<e>/eeg``)."""
        return self.folder / "eeg"

    @property
    def derivatives(self):
        """``derivatives/bci-app/sub-<s>/ses-<e>`` (settings, run records, models, logs)."""
        return derivatives_dir(self.root, self.subject, self.session)

    @property
    def runs_dir(self):
        """Folder of the run records (``runs/run-<NN>.json``)."""
        return self.derivatives / "runs"

    @property
    def report_path(self):
        """The session report (``report.html``)."""
        return self.derivatives / "report.html"

    # -- log ----------------------------------------------------------------------------------
    def log(self, event, **details):
        """Append an entry to the session log (flushed and synced to disk).

        The log never stops a session: if it cannot be written, a warning is logged and
        None returned.

        Parameters
        ----------
        event : str
            What happened (``"run_started"``, ``"run_converted"``, ``"model_saved"``,
            ``"note"``...).
        **details
            JSON-serialisable fields.

        Returns
        -------
        entry : dict | None
            None if the entry could not be written.
        """
        entry = {"time": now_iso(), "event": str(event), **details}
        try:
            from mne_lsl.lsl import local_clock

            entry.setdefault("lsl_time", round(local_clock(), 6))
        except Exception:  # pragma: no cover - liblsl missing
            pass
        line = json.dumps(entry, ensure_ascii=False, default=str)
        try:
            self.source_dir.mkdir(parents=True, exist_ok=True)
            with open(self.log_path, "a", encoding="utf-8") as f:
                f.write(line + "\n")
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            logger.warning("session log %s: entry %r not written (%s).", self.log_path,
                           line, exc)
            return None
        return entry

    def entries(self):
        """The session log's entries (a line cut by a crash is skipped)."""
        if not self.log_path.exists():
            return []
        out = []
        for number, line in enumerate(self.log_path.read_text(encoding="utf-8").splitlines(),
                                      1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                logger.warning("%s:%d: unreadable log line skipped.", self.log_path, number)
        return out

    # -- settings -----------------------------------------------------------------------------
    @property
    def meta(self):
        """The session's settings (``session.json``, a dict).

        ``label``, ``created``, ``stream``, ``montage``, ``bad_channels``, and once chosen
        ``model`` and ``training``; change them with :meth:`update`.
        """
        if self._meta is None:
            path = self.derivatives / SETTINGS_NAME
            if path.is_file():
                self._meta = _read_json(path)
            else:
                created = next((e.get("time") for e in self.entries()
                                if e.get("event") == "session_created"), None)
                self._meta = {"label": self.session, "created": created or now_iso(),
                              **json.loads(json.dumps(DEFAULT_SETTINGS))}
        return self._meta

    def update(self, **values):
        """Change the session's settings (stream, montage, bad channels, model...) and save
        them."""
        self.meta.update(values)
        _write_json(self.derivatives / SETTINGS_NAME, self.meta)

    # -- runs ---------------------------------------------------------------------------------
    def _records(self):
        """The run records, by run number."""
        out = {}
        for path in sorted(self.runs_dir.glob("run-*.json")):
            run = RunInfo.from_record(_read_json(path))
            out[run.index] = run
        return out

    def _converted(self):
        """The converted runs: (number, task, EEG file, sidecar content), in run order."""
        out = []
        for path in sorted(self.eeg_folder.glob("*_eeg.vhdr")):
            parts = dict(p.split("-", 1) for p in path.name.split("_") if "-" in p)
            try:
                meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                meta = {}
            out.append({"run": int(parts.get("run", 0)), "task": parts.get("task"),
                        "path": path, "sidecar": meta})
        return sorted(out, key=lambda r: r["run"])

    @property
    def runs(self):
        """Every run of the session (list of :class:`~bci_app.session.runs.RunInfo`, in run
        order).

        The runs the application recorded (their records), and the session's other BIDS
        runs (recorded by ``bci-app session``, or recovered after a crash), known from their
        sidecars. A record still saying ``"recording"``/``"saving"`` whose run was converted
        by the recovery takes the status of its recording.
        """
        records = self._records()
        converted = self._converted()
        for entry in converted:
            from_bids = RunInfo.from_sidecar(entry["run"], entry["task"], entry["path"],
                                             entry["sidecar"], self.eeg_folder)
            run = records.get(entry["run"])
            if run is None:
                records[entry["run"]] = from_bids
            elif run.bids_path is None or run.status in (RECORDING, SAVING):
                run.bids_path = from_bids.bids_path
                run.first_sample_time = from_bids.first_sample_time
                if run.status in (RECORDING, SAVING):
                    run.status = from_bids.status
        return [records[k] for k in sorted(records)]

    def runs_of_type(self, run_type, usable_only=True):
        """The runs of a type whose BIDS recording exists (only those whose status is
        usable, see :data:`~bci_app.session.runs.USABLE`, when ``usable_only``)."""
        return [r for r in self.runs if r.run_type == run_type
                and (not usable_only or r.usable)
                and r.bids_path and Path(r.bids_path).is_file()]

    def next_run(self):
        """The next free run number of the session (over every task): after every raw and
        BIDS recording, and every run record."""
        numbers = [0]
        for folder in (self.source_dir / "eeg", self.eeg_folder):
            for path in folder.glob("*_run-*"):
                for part in path.name.split("_"):
                    if part.startswith("run-") and part[4:].isdigit():
                        numbers.append(int(part[4:]))
        for path in self.runs_dir.glob("run-*.json"):
            if path.stem[4:].isdigit():
                numbers.append(int(path.stem[4:]))
        return max(numbers) + 1

    def new_run(self, run_type, protocol_name, seed=None, task="", **extra):
        """A :class:`~bci_app.session.runs.RunInfo` for the next run (status
        ``"recording"``; saved by :meth:`start_recording`).

        Parameters
        ----------
        run_type : str
            ``"calibration"`` or ``"online"``.
        protocol_name : str
        seed : int | None
        task : str
            BIDS task label.
        **extra
            Other :class:`~bci_app.session.runs.RunInfo` fields (``n_trials``, ``model``,
            ``classes``, ``class_of_marker``...).
        """
        return RunInfo(index=self.next_run(), run_type=run_type, protocol=protocol_name,
                       folder=str(self.eeg_folder), seed=seed, task=task, **extra)

    def save_run(self, run):
        """Save a run's record (``runs/run-<NN>.json``)."""
        _write_json(self.runs_dir / f"run-{int(run.index):02d}.json", asdict(run))

    def xdf_path(self, task, run):
        from .bids import source_xdf_path

        return source_xdf_path(self.root, self.subject, self.session, task, run)

    def bids_path(self, task, run):
        from .bids import bids_path_for

        return bids_path_for(self.root, self.subject, self.session, task, run)

    def start_recording(self, protocol, streams, model=None, amplifier=None, seed=None,
                        run=None, line_freq=50.0, labrecorder=None, timeout=15.0):
        """Start recording a run of this session (LabRecorder, XDF under ``sourcedata/``).

        Everything the BIDS conversion needs is stored in the recording's state file
        before the recorder starts, so the run can be converted even if the application
        dies (see :func:`bci_app.session.recorder.recover`).

        Parameters
        ----------
        protocol : Protocol
            The protocol being run (its file and fields go into the sidecar).
        streams : list of RecordedStream | (role, StreamDescription)
            Roles ``"eeg"``, ``"markers"`` and (online runs) ``"predictions"``.
        model : str | Path | None
            The ``.bcimodel`` used online.
        amplifier : dict | None
            About the amplifier (JSON types), copied into the sidecar.
        seed : int | None
            Seed of the run's trial order (``ProtocolRunner.seed``); None with a RunInfo:
            its ``seed``.
        run : int | RunInfo | None
            Run number; None: :meth:`next_run`. A :class:`~bci_app.session.runs.RunInfo`
            (from :meth:`new_run`) is given the XDF file and saved once recording.
        line_freq : float
            Power-line frequency, Hz.
        labrecorder : str | Path | None
            LabRecorderCLI executable.
        timeout : float
            Seconds to wait for the recorder to collect every stream.

        Returns
        -------
        recorder : XDFRecorder
            Started; call ``stop()`` at the end of the run, then :meth:`convert`.
        """
        from .. import __version__
        from .bids import model_record, protocol_record, task_label
        from .recorder import XDFRecorder

        info_run = run if isinstance(run, RunInfo) else None
        if info_run is not None:
            run = info_run.index
            seed = info_run.seed if seed is None else seed
        task = task_label(protocol)
        run = self.next_run() if run is None else int(run)
        record = protocol_record(protocol)
        record["seed"] = seed
        info = {"subject": self.subject, "session": self.session, "task": task, "run": run,
                "protocol": record, "seed": seed,
                "class_of_marker": protocol.class_of_marker,
                "model": model_record(model, self.root) if model is not None else None,
                "amplifier": amplifier or {}, "line_freq": float(line_freq),
                "bci_app_version": str(__version__)}
        recorder = XDFRecorder(self.xdf_path(task, run), streams, run=info,
                               labrecorder=labrecorder).start(timeout)
        self.log("run_started", run=run, task=task, protocol=str(protocol.source), seed=seed,
                 xdf=recorder.path.relative_to(self.root).as_posix(),
                 model=info["model"]["file"] if info["model"] else None,
                 amplifier=(amplifier or {}).get("stream"), recorder_pid=recorder.pid)
        if info_run is not None:
            info_run.xdf_path = str(recorder.path)
            info_run.status = RECORDING
            self.save_run(info_run)
        return recorder

    def convert(self, recorder):
        """Convert a stopped recording of this session to BIDS.

        Holds the store's lock (the conversion rewrites participants.tsv).

        Parameters
        ----------
        recorder : XDFRecorder | str | Path
            The recorder (stopped), or its state or XDF file.

        Returns
        -------
        bids_path : mne_bids.BIDSPath
        """
        from .bids import convert_recording

        with self.store.lock:
            return convert_recording(getattr(recorder, "state_path", recorder))

    def online_log_dir(self, run):
        """Folder of the online decoder's CSV logs of a run (number or RunInfo)."""
        return self.derivatives / "online" / f"run-{int(getattr(run, 'index', run)):02d}"

    # -- models -------------------------------------------------------------------------------
    @property
    def models_dir(self):
        """Where the models trained in this session are saved."""
        return self.derivatives / "models"

    def save_model(self, trained, name=None):
        """Save a trained model with the session (never overwriting a model).

        Parameters
        ----------
        trained : bci_app.decoding.persistence.TrainedModel
        name : str | None
            File stem, ``sub-<s>_ses-<e>_`` prepended unless it starts with it; None: the
            model's name.

        Returns
        -------
        path : Path
            ``derivatives/bci-app/sub-<s>/ses-<e>/models/<name>.bcimodel``.
        """
        from ..decoding.persistence import MODEL_SUFFIX, save_model

        prefix = f"sub-{self.subject}_ses-{self.session}_"
        name = name or trained.name
        if not name.startswith(prefix):
            name = prefix + name
        safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name).strip("-")
        self.models_dir.mkdir(parents=True, exist_ok=True)
        path = self.models_dir / f"{safe}{MODEL_SUFFIX}"
        k = 2
        while path.exists():
            path = self.models_dir / f"{safe}-{k}{MODEL_SUFFIX}"
            k += 1
        save_model(trained, path)
        self.log("model_saved", model=path.relative_to(self.root).as_posix(),
                 name=trained.name, classes=list(trained.classes),
                 trained_on=trained.trained_on.get("runs"))
        return path

    def models(self):
        """The models saved in this session, oldest first."""
        return sorted(self.models_dir.glob("*.bcimodel"), key=lambda p: p.stat().st_mtime)
