"""The GUI's adapter to storage: subjects, sessions, run recordings, models, reports.

Every window of the application reaches the disk through this module only. No Qt here.

Subjects, sessions, recordings and models live in the recordings folder of
:mod:`bci_app.session` (a BIDS dataset; see :mod:`bci_app.session.bids` for the layout):

- subjects in ``participants.tsv`` (:class:`bci_app.session.RecordingStore`);
- each run is recorded by LabRecorder to ``sourcedata/sub-<s>/ses-<e>/eeg/*_eeg.xdf`` (a
  separate process: the recording survives a crash of the application) and converted to
  BIDS at its end (``sub-<s>/ses-<e>/eeg/*_eeg.vhdr`` + ``_events.tsv`` + sidecars); a run
  interrupted by a crash is converted by :meth:`SessionStore.recover` at the next start;
- the session log, models and online decoder logs as :class:`bci_app.session.Session`
  keeps them.

What only the application needs is kept with the session's derived files, in
``derivatives/bci-app/sub-<s>/ses-<e>/``::

    session.json        amplifier stream, montage, bad channels, chosen model, training scores
    runs/run-<NN>.json  what the application knows about each run it recorded (RunInfo)
    report.html         the session report (and report_summary.json)
    r2_map.npz          the r² map of the last training
    models/             trained decoders (Session.save_model)
    online/run-<NN>/    the online decoder's CSV logs

Training, the report and the replay read the runs back from BIDS
(:func:`load_run_recording`), as any later analysis does.
"""

import datetime as _dt
import json
import re
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .._logging import logger
from ..errors import ConfigError, DataError

#: Affected sides offered for a subject ("n/a": not given).
AFFECTED_SIDES = ("none", "left", "right", "both", "n/a")

_ID_RE = re.compile(r"^[A-Za-z0-9]+$")
#: Recording status in the BIDS sidecar -> run status shown by the application.
_STATUS = {"complete": "finished", "aborted": "aborted", "interrupted": "interrupted"}
#: Run statuses whose recording can be used (training, report, replay).
USABLE = ("finished", "aborted", "interrupted")


def _now():
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _write_json(path, data):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)


def _read_json(path):
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read this file ({exc}). Restore it from a backup "
                        "or create the session again.") from exc


@dataclass
class Subject:
    """A person taking part (patient or volunteer), as the forms show it.

    Stored in ``participants.tsv`` by :class:`bci_app.session.RecordingStore`.

    Attributes
    ----------
    subject_id : str
        Letters and digits only (BIDS label), e.g. ``"P012"``.
    age : int | None
        Years.
    affected_side : str
        One of :data:`AFFECTED_SIDES` (after a stroke: the paretic side).
    notes : str
        Free text for the clinician.
    sex, hand : str | None
        As in participants.tsv (``M``/``F``/``O``, ``R``/``L``/``A``); None: unchanged
        (not given for a new subject).
    """

    subject_id: str
    age: int | None = None
    affected_side: str = "none"
    notes: str = ""
    sex: str | None = None
    hand: str | None = None

    def check(self):
        """Raise :class:`~bci_app.errors.ConfigError` naming the field that is invalid."""
        if not isinstance(self.subject_id, str) or not _ID_RE.match(self.subject_id):
            raise ConfigError(f"Subject ID {self.subject_id!r}: use letters and digits only "
                              "(no spaces, dashes or underscores), e.g. P012.")
        if self.age is not None and not (0 <= int(self.age) <= 130):
            raise ConfigError(f"Age {self.age}: enter the age in years (0-130), or leave it "
                              "empty.")
        if self.affected_side not in AFFECTED_SIDES:
            raise ConfigError(f"Affected side {self.affected_side!r}: choose one of "
                              f"{', '.join(AFFECTED_SIDES)}.")

    @classmethod
    def from_store(cls, subj):
        """From a :class:`bci_app.session.Subject`."""
        return cls(subj.id, subj.age, subj.affected_side, subj.notes, subj.sex, subj.hand)

    def fields(self):
        """Keyword arguments for ``RecordingStore.create_subject``/``update_subject``."""
        out = {"age": self.age, "affected_side": self.affected_side, "notes": self.notes}
        if self.sex is not None:
            out["sex"] = self.sex
        if self.hand is not None:
            out["hand"] = self.hand
        return out


@dataclass
class RunInfo:
    """What the application knows about one run (``runs/run-<NN>.json``).

    Attributes
    ----------
    index : int
        BIDS run number (unique in the session, over every task).
    run_type : str
        ``"calibration"`` or ``"online"``.
    protocol : str
        Protocol name.
    folder : str
        The BIDS folder of the run (``sub-<s>/ses-<e>/eeg``).
    task : str
        BIDS task label.
    status : str
        ``"recording"``, ``"saving"``, then ``"finished"``, ``"aborted"``,
        ``"interrupted"`` (recovered after a crash) or ``"failed"``.
    bids_path : str | None
        The BIDS EEG file (``..._eeg.vhdr``) once converted.
    xdf_path : str | None
        The raw recording (``sourcedata/``).
    log_dir : str | None
        The online decoder's CSV logs (online runs).
    first_sample_time : float | None
        LSL time of the recording's first EEG sample.
    error : str | None
        Why the recording or its conversion failed.
    """

    index: int
    run_type: str
    protocol: str
    folder: str
    seed: int | None = None
    status: str = "recording"
    started: str = field(default_factory=_now)
    first_sample_time: float | None = None
    n_trials: int = 0
    model: str | None = None
    classes: list = field(default_factory=list)
    class_of_marker: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    task: str = ""
    bids_path: str | None = None
    xdf_path: str | None = None
    log_dir: str | None = None
    error: str | None = None

    @property
    def recording(self):
        """The run's recording file: BIDS once converted, else the XDF being written."""
        return self.bids_path or self.xdf_path or self.folder

    @property
    def predictions_path(self):
        """The online decoder's output as recorded (BIDS derivatives), or None."""
        if not self.bids_path:
            return None
        path = Path(self.bids_path)
        sub, ses = path.parents[2].name, path.parents[1].name
        base = path.name[:-len("_eeg" + path.suffix)]
        return (path.parents[3] / "derivatives" / "bci-app" / sub / ses / "eeg"
                / f"{base}_predictions.tsv")

    @property
    def sidecar(self):
        """The BIDS ``_eeg.json`` content ({} before conversion)."""
        if not self.bids_path:
            return {}
        try:
            return json.loads(Path(self.bids_path).with_suffix(".json")
                              .read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}


def _run_from_sidecar(entry, folder):
    """A RunInfo for a BIDS run the application did not record itself (``Session.runs()``
    entry: recorded by ``bci-app session``, or recovered after a crash)."""
    meta = entry["sidecar"]
    proto = meta.get("BciAppProtocol") or {}
    rec = meta.get("BciAppRecording") or {}
    model = meta.get("BciAppModel") or {}
    classes = list(proto.get("classes") or [])
    markers = proto.get("markers") or {}
    return RunInfo(
        index=entry["run"], run_type=proto.get("run_type", "unknown"),
        protocol=proto.get("name") or entry["task"], folder=str(folder),
        seed=proto.get("seed"), status=_STATUS.get(rec.get("status"), "finished"),
        started=rec.get("started") or "", first_sample_time=rec.get("first_lsl_timestamp"),
        n_trials=int(proto.get("trials_per_class") or 0) * len(classes),
        model=model.get("file"), classes=classes,
        class_of_marker={m: c for c, m in markers.items() if c in classes},
        task=entry["task"] or "", bids_path=str(entry["path"]),
        xdf_path=rec.get("xdf"))


class Session:
    """One recording session of a subject, as the application uses it.

    Wraps a :class:`bci_app.session.Session` (:attr:`rec`: run numbers, recording, session
    log, models) and keeps the application's own settings in :attr:`derivatives`.

    Parameters
    ----------
    rec : bci_app.session.Session
    subject : Subject
    store : SessionStore
    """

    def __init__(self, rec, subject, store):
        self.rec = rec
        self.subject = subject
        self.store = store
        path = self.derivatives / "session.json"
        if path.is_file():
            self.meta = _read_json(path)
        else:
            created = next((e.get("time") for e in rec.entries()
                            if e.get("event") == "session_created"), None)
            self.meta = {"label": rec.session, "created": created or _now(), "stream": None,
                         "montage": None, "bad_channels": []}
            self.save()

    @property
    def label(self):
        return self.rec.session

    @property
    def root(self):
        return self.rec.root

    @property
    def folder(self):
        """The BIDS folder of the session (``sub-<s>/ses-<e>``)."""
        return self.root / f"sub-{self.rec.subject}" / f"ses-{self.rec.session}"

    @property
    def eeg_folder(self):
        return self.folder / "eeg"

    @property
    def derivatives(self):
        """``derivatives/bci-app/sub-<s>/ses-<e>`` (the application's files)."""
        return self.rec.derivatives_dir

    @property
    def runs_dir(self):
        return self.derivatives / "runs"

    # -- settings & log -----------------------------------------------------------------------
    def save(self):
        _write_json(self.derivatives / "session.json", self.meta)

    def update(self, **values):
        """Change the session's settings (stream, montage, bad channels...) and save."""
        self.meta.update(values)
        self.save()

    def log(self, event, **details):
        """Append an entry to the session log (``bci_app.session.Session.log``)."""
        try:
            return self.rec.log(event, **details)
        except OSError as exc:  # the log must never stop a session
            logger.warning("session log: %s", exc)
            return None

    # -- runs ---------------------------------------------------------------------------------
    def _records(self):
        out = {}
        for path in sorted(self.runs_dir.glob("run-*.json")):
            data = _read_json(path)
            run = RunInfo(**{k: v for k, v in data.items() if k in RunInfo.__dataclass_fields__})
            out[run.index] = run
        return out

    @property
    def runs(self):
        """Every run of the session (list of RunInfo, in run order).

        The runs the application recorded (its records), and the session's other BIDS runs
        (recorded by ``bci-app session``, or recovered after a crash of the application).
        """
        records = self._records()
        for entry in self.rec.runs():
            run = records.get(entry["run"])
            if run is None:
                records[entry["run"]] = _run_from_sidecar(entry, self.eeg_folder)
            elif run.bids_path is None or run.status in ("recording", "saving"):
                # Converted by the recovery after a crash of the application.
                recovered = _run_from_sidecar(entry, self.eeg_folder)
                run.bids_path = recovered.bids_path
                run.first_sample_time = recovered.first_sample_time
                if run.status in ("recording", "saving"):
                    run.status = recovered.status
        return [records[k] for k in sorted(records)]

    def runs_of_type(self, run_type, finished_only=True):
        """The runs of a type whose BIDS recording exists (finished, aborted or recovered
        runs when ``finished_only``)."""
        return [r for r in self.runs if r.run_type == run_type
                and (not finished_only or r.status in USABLE)
                and r.bids_path and Path(r.bids_path).is_file()]

    def next_run(self):
        """The next free run number (BIDS and raw recordings, and the application's records)."""
        return max([self.rec.next_run()] + [i + 1 for i in self._records()])

    def new_run(self, run_type, protocol_name, seed=None, task="", **extra):
        """A RunInfo for the next run (saved with :meth:`save_run` once recording)."""
        return RunInfo(index=self.next_run(), run_type=run_type, protocol=protocol_name,
                       folder=str(self.eeg_folder), seed=seed, task=task, **extra)

    def save_run(self, run):
        _write_json(self.runs_dir / f"run-{int(run.index):02d}.json", asdict(run))

    def start_recording(self, protocol, streams, run, model=None, amplifier=None):
        """Start recording a run (LabRecorder, see ``bci_app.session.Session.start_recording``).

        Every stream must exist. Returns the started
        :class:`~bci_app.session.recorder.XDFRecorder`; the run's record is saved.
        """
        recorder = self.rec.start_recording(protocol, streams, model=model,
                                            amplifier=amplifier, seed=run.seed, run=run.index)
        run.xdf_path = str(recorder.path)
        run.status = "recording"
        self.save_run(run)
        return recorder

    def convert(self, recorder):
        """Convert a stopped recording to BIDS; returns the EEG file (Path).

        Holds the store's lock: mne-bids rewrites participants.tsv while converting.
        """
        with self.store.lock:
            return Path(self.rec.convert(recorder).fpath)

    def online_log_dir(self, run):
        return self.rec.online_log_dir(run.index)

    # -- models & report ------------------------------------------------------------------------
    @property
    def models_dir(self):
        return self.rec.models_dir

    def model_files(self):
        return self.rec.models()

    def save_model(self, trained, name):
        """Save a :class:`~bci_app.decoding.persistence.TrainedModel` with the session
        (never overwriting a model); returns its path."""
        return self.rec.save_model(
            trained, name=f"sub-{self.rec.subject}_ses-{self.rec.session}_{name}")

    @property
    def report_path(self):
        return self.derivatives / "report.html"

    def __repr__(self):
        return f"<Session sub-{self.subject.subject_id} ses-{self.label} in {self.root}>"


class SessionStore:
    """Subjects and sessions of a recordings folder (:class:`bci_app.session.RecordingStore`).

    Parameters
    ----------
    root : str | Path
        E.g. ``recordings`` (created, as a BIDS dataset, if missing).

    Attributes
    ----------
    recordings : bci_app.session.RecordingStore
    lock : threading.RLock
        Held while participants.tsv may be rewritten (subjects saved, runs converted).
    """

    def __init__(self, root):
        from ..session import RecordingStore

        self.recordings = RecordingStore(root)
        self.root = self.recordings.root
        self.lock = threading.RLock()

    def subjects(self):
        """Subject IDs, sorted."""
        return [s.id for s in self.recordings.subjects()]

    def load_subject(self, subject_id):
        return Subject.from_store(self.recordings.subject(subject_id))

    def save_subject(self, subject):
        """Create or update a subject (checked first)."""
        subject.check()
        with self.lock:
            if self.recordings.has_subject(subject.subject_id):
                saved = self.recordings.update_subject(subject.subject_id, **subject.fields())
            else:
                saved = self.recordings.create_subject(subject.subject_id, **subject.fields())
        return Subject.from_store(saved)

    def sessions(self, subject_id):
        """Session labels of a subject, sorted."""
        return self.recordings.sessions(subject_id)

    def new_session(self, subject_id, label=None):
        """Create the next session of a subject (label: ``01``, ``02``... by default)."""
        subject = self.load_subject(subject_id)
        if label is not None:
            if not _ID_RE.match(str(label)):
                raise ConfigError(f"Session label {label!r}: use letters and digits only.")
            if str(label) in self.sessions(subject_id):
                raise ConfigError(f"Session {label!r} of subject {subject_id} already "
                                  "exists; open it instead.")
        rec = self.recordings.open_session(subject.subject_id, label, create=True)
        return Session(rec, subject, self)

    def open_session(self, subject_id, label):
        subject = self.load_subject(subject_id)
        rec = self.recordings.open_session(subject.subject_id, label, create=False)
        return Session(rec, subject, self)

    def recover(self):
        """Stop the recorders of runs interrupted by a crash and convert the runs to BIDS.

        Returns
        -------
        recovered : list of bci_app.session.recorder.Recovered
        """
        from ..session.bids import convert_recording
        from ..session.recorder import recover

        items = recover(self.root, convert=False)
        for item in items:
            try:
                with self.lock:
                    item.bids_path = Path(convert_recording(item.state_path).fpath)
            except Exception as exc:  # the XDF stays; the state file says why
                item.error = f"{type(exc).__name__}: {exc}"
                logger.error("cannot convert %s: %s", item.xdf_path, item.error)
        return items


def is_bids_recording(path):
    """True if ``path`` is the EEG file of a BIDS run (``sub-..._eeg.<ext>`` with its
    ``_events.tsv`` beside it)."""
    path = Path(path)
    suffix = f"_eeg{path.suffix}"
    return (path.name.startswith("sub-") and path.name.endswith(suffix)
            and path.with_name(path.name[:-len(suffix)] + "_events.tsv").is_file())


def read_bids_recording(path):
    """A BIDS run's EEG file as an MNE Raw (preloaded; events from ``events.tsv``)."""
    import mne_bids

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such recording (moved or deleted?).")
    try:
        raw = mne_bids.read_raw_bids(mne_bids.get_bids_path_from_fname(path),
                                     verbose="ERROR")
        raw.load_data(verbose="ERROR")
    except Exception as exc:
        raise DataError(f"{path}: cannot be read as a BIDS recording ({exc}).") from exc
    return raw


def load_run_recording(run):
    """The BIDS recording of a run as an MNE Raw (preloaded)."""
    if not run.bids_path:
        raise DataError(f"Run {run.index}: no BIDS recording yet (status {run.status}"
                        f"{': ' + run.error if run.error else ''}).")
    return read_bids_recording(run.bids_path)


def read_recording_file(path, event_map=None):
    """A recording for replay or a sweep: BIDS runs through mne-bids (their events), any
    other file as :func:`bci_app.acquisition.replay.read_recording` reads it.

    Returns
    -------
    raw : mne.io.Raw
        Preloaded, EEG channels only.
    """
    from ..acquisition.replay import apply_event_map, read_recording

    if not is_bids_recording(path):
        return read_recording(path, event_map)
    raw = read_bids_recording(path)
    raw.pick("eeg")
    return apply_event_map(raw, event_map, path)
