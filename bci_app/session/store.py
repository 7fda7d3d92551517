"""Subjects and sessions of a recordings folder: participants.tsv, session logs, run numbers.

:class:`RecordingStore` is what the GUI (and ``bci-app session``) uses to create or open a
subject and a session; :class:`Session` numbers the runs, keeps the session log (JSON lines,
appended and synced entry by entry, so a crash never loses an entry already written) and
saves the models trained in the session. The recordings folder is a BIDS dataset: see
:mod:`bci_app.session.bids` for its layout.

Subjects live in ``participants.tsv`` (the single source of truth) with the columns of
:data:`PARTICIPANT_COLUMNS`, described in ``participants.json``; columns added by other
tools are kept.
"""

import csv
import datetime as _dt
import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .._logging import logger
from ..errors import ConfigError, DataError
from .bids import check_label, derivatives_dir

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


def _now():
    return _dt.datetime.now(_dt.timezone.utc).astimezone().isoformat(timespec="milliseconds")


def _atomic_write(path, text):
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


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
        BIDS label (letters and digits, e.g. ``"01"``).
    age : int | None
        Years.
    sex : str
        A key of :data:`SEXES`.
    hand : str
        Handedness, a key of :data:`HANDS`.
    affected_side : str
        A key of :data:`AFFECTED_SIDES`.
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
        self.id = check_label(self.id, "subject")
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
    """

    def __init__(self, root="recordings"):
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise ConfigError(f"{self.root}: not a folder; give the recordings folder.")
        self.root.mkdir(parents=True, exist_ok=True)
        description = self.root / "dataset_description.json"
        if not description.exists():
            from .. import __version__

            _atomic_write(description, json.dumps({
                "Name": "bci-app recordings", "BIDSVersion": "1.9.0", "DatasetType": "raw",
                "GeneratedBy": [{"Name": "bci-app", "Version": str(__version__),
                                 "Description": "motor-imagery sessions recorded with "
                                                "LabRecorder and converted by mne-bids"}],
            }, indent=2) + "\n")

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
        _atomic_write(self.participants_tsv, "\n".join(lines) + "\n")
        described = dict(_PARTICIPANTS_JSON)
        path = self.root / "participants.json"
        if path.exists():
            try:
                for key, value in json.loads(path.read_text(encoding="utf-8")).items():
                    described.setdefault(key, value)
            except (OSError, json.JSONDecodeError):
                pass
        _atomic_write(path, json.dumps({c: described[c] for c in columns if c in described},
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
        current = self.subject(subject_id)
        updated = Subject(**{**asdict(current), **changes})
        columns, rows = self.read_participants()
        rows = [({**r, **updated.row()} if r["participant_id"] == updated.participant_id
                 else r) for r in rows]
        self.write_participants(rows, columns)
        return updated

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
            numbers = [int(s) for s in self.sessions(subject.id) if s.isdigit()]
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

    def recover(self, convert=True):
        """Stop orphan recorders and convert interrupted runs (see :func:`recorder.recover`)."""
        from .recorder import recover

        return recover(self.root, convert=convert)


class Session:
    """One session of one subject: run numbers, session log, models.

    Use :meth:`RecordingStore.open_session` to get one.

    Attributes
    ----------
    store : RecordingStore
    subject, session : str
        BIDS labels.
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

    def __repr__(self):
        return f"<Session sub-{self.subject} ses-{self.session} in {self.root}>"

    # -- log ----------------------------------------------------------------------------------
    def log(self, event, **details):
        """Append an entry to the session log (flushed and synced to disk).

        Parameters
        ----------
        event : str
            What happened (``"run_started"``, ``"run_converted"``, ``"model_saved"``,
            ``"note"``...).
        **details
            JSON-serialisable fields.

        Returns
        -------
        entry : dict
        """
        entry = {"time": _now(), "event": str(event), **details}
        try:
            from mne_lsl.lsl import local_clock

            entry.setdefault("lsl_time", round(local_clock(), 6))
        except Exception:  # pragma: no cover - liblsl missing
            pass
        line = json.dumps(entry, ensure_ascii=False, default=str)
        self.source_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())
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

    # -- runs ---------------------------------------------------------------------------------
    def next_run(self):
        """The next free run number of the session (over every task)."""
        numbers = [0]
        patterns = [(self.source_dir / "eeg", "*_run-*"),
                    (self.root / f"sub-{self.subject}" / f"ses-{self.session}" / "eeg",
                     "*_run-*")]
        for folder, pattern in patterns:
            for path in folder.glob(pattern):
                for part in path.name.split("_"):
                    if part.startswith("run-") and part[4:].isdigit():
                        numbers.append(int(part[4:]))
        return max(numbers) + 1

    def xdf_path(self, task, run):
        from .bids import source_xdf_path

        return source_xdf_path(self.root, self.subject, self.session, task, run)

    def bids_path(self, task, run):
        from .bids import bids_path_for

        return bids_path_for(self.root, self.subject, self.session, task, run)

    def runs(self):
        """The converted runs of the session, in run order.

        Returns
        -------
        runs : list of dict
            ``run`` (int), ``task``, ``path`` (the BIDS EEG file), ``sidecar`` (the
            ``_eeg.json`` content).
        """
        folder = self.root / f"sub-{self.subject}" / f"ses-{self.session}" / "eeg"
        out = []
        for path in sorted(folder.glob("*_eeg.vhdr")):
            parts = dict(p.split("-", 1) for p in path.name.split("_") if "-" in p)
            sidecar = path.with_suffix(".json")
            try:
                meta = json.loads(sidecar.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                meta = {}
            out.append({"run": int(parts.get("run", 0)), "task": parts.get("task"),
                        "path": path, "sidecar": meta})
        return sorted(out, key=lambda r: r["run"])

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
            Seed of the run's trial order (``ProtocolRunner.seed``).
        run : int | None
            Run number; None: :meth:`next_run`.
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
        return recorder

    def convert(self, recorder):
        """Convert a stopped recording of this session to BIDS.

        Parameters
        ----------
        recorder : XDFRecorder | str | Path
            The recorder (stopped), or its state or XDF file.

        Returns
        -------
        bids_path : mne_bids.BIDSPath
        """
        from .bids import convert_recording

        return convert_recording(getattr(recorder, "state_path", recorder))

    # -- derived files ------------------------------------------------------------------------
    @property
    def derivatives_dir(self):
        """``derivatives/bci-app/sub-<s>/ses-<e>``."""
        return derivatives_dir(self.root, self.subject, self.session)

    @property
    def models_dir(self):
        """Where the models trained in this session are saved."""
        return self.derivatives_dir / "models"

    def online_log_dir(self, run):
        """Folder of the online decoder's CSV logs of a run."""
        return self.derivatives_dir / "online" / f"run-{int(run):02d}"

    def save_model(self, trained, name=None):
        """Save a trained model with the session (never overwriting a model).

        Parameters
        ----------
        trained : bci_app.decoding.persistence.TrainedModel
        name : str | None
            File stem; None: ``sub-<s>_ses-<e>_<model name>``.

        Returns
        -------
        path : Path
            ``derivatives/bci-app/sub-<s>/ses-<e>/models/<name>.bcimodel``.
        """
        from ..decoding.persistence import MODEL_SUFFIX, save_model

        safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in (
            name or f"sub-{self.subject}_ses-{self.session}_{trained.name}")).strip("-")
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
