"""The GUI's adapter to storage: subjects, sessions, run recordings, models, reports.

Every window of the application reaches the disk through this module only, so the storage
layout can change in one place. No Qt here.

Layout (under a root folder, ``recordings/`` by default)::

    sub-<id>/subject.json                 id, age, affected side, notes
    sub-<id>/ses-<label>/session.json     date, amplifier stream, montage, bad channels, runs
    sub-<id>/ses-<label>/run-<NN>_<type>/ one folder per run:
        raw.fif                           the EEG (volts) with the protocol's markers as
                                          annotations (task periods carry the class name)
        markers.csv                       every marker: LSL timestamp, text
        run.json                          protocol, seed, first sample time, trials, status
        predictions.csv, events.csv       online runs: the live decoder's own log
    sub-<id>/ses-<label>/models/*.bcimodel  trained decoders (``bci_app.decoding.persistence``)
    sub-<id>/ses-<label>/report.html      the session report

Notes
-----
The session package (``bci_app.session``: XDF recording through LabRecorder, BIDS export,
participants.tsv) is the long-term home of subjects and recordings. Until its store and
recorder are available, :class:`RunRecorder` keeps the samples the acquisition thread
receives and writes ``raw.fif`` when the run ends (normally, aborted, or when the
application closes), and the online decoder's CSV logs are written as the run goes.
"""

import csv
import datetime as _dt
import json
import re
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .._logging import logger
from ..errors import ConfigError, DataError

#: Affected sides offered for a subject.
AFFECTED_SIDES = ("none", "left", "right", "both")

_ID_RE = re.compile(r"^[A-Za-z0-9]+$")


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
                        "or create the subject/session again.") from exc


@dataclass
class Subject:
    """A person taking part (patient or volunteer).

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
    created : str
        ISO date.
    """

    subject_id: str
    age: int | None = None
    affected_side: str = "none"
    notes: str = ""
    created: str = field(default_factory=_now)

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


@dataclass
class RunInfo:
    """What is stored about one run (``run.json``)."""

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


class Session:
    """One recording session of a subject: its folder and its runs.

    Parameters
    ----------
    folder : Path
        ``<root>/sub-<id>/ses-<label>``.
    subject : Subject
    meta : dict
        Content of ``session.json``.
    """

    def __init__(self, folder, subject, meta):
        self.folder = Path(folder)
        self.subject = subject
        self.meta = meta

    @property
    def label(self):
        return self.meta["label"]

    @property
    def runs(self):
        """list of RunInfo, in order."""
        out = []
        for path in sorted(self.folder.glob("run-*/run.json")):
            data = _read_json(path)
            out.append(RunInfo(**{k: v for k, v in data.items()
                                  if k in RunInfo.__dataclass_fields__}))
        return out

    def runs_of_type(self, run_type, finished_only=True):
        return [r for r in self.runs if r.run_type == run_type
                and (not finished_only or r.status in ("finished", "aborted"))
                and (Path(r.folder) / "raw.fif").is_file()]

    def save(self):
        _write_json(self.folder / "session.json", self.meta)

    def update(self, **values):
        """Change fields of ``session.json`` (stream, montage, bad channels...) and save."""
        self.meta.update(values)
        self.save()

    def new_run(self, run_type, protocol_name, seed=None, **extra):
        """Create the folder of the next run.

        Returns
        -------
        run : RunInfo
        """
        index = len(list(self.folder.glob("run-*"))) + 1
        folder = self.folder / f"run-{index:02d}_{run_type}"
        folder.mkdir(parents=True, exist_ok=False)
        run = RunInfo(index=index, run_type=run_type, protocol=protocol_name,
                      folder=str(folder), seed=seed, **extra)
        self.save_run(run)
        return run

    def save_run(self, run):
        _write_json(Path(run.folder) / "run.json", asdict(run))

    @property
    def models_dir(self):
        return self.folder / "models"

    def model_files(self):
        return sorted(self.models_dir.glob("*.bcimodel"))

    def save_model(self, trained, name):
        """Save a :class:`~bci_app.decoding.persistence.TrainedModel` with the session."""
        from ..decoding.persistence import MODEL_SUFFIX, save_model

        safe = re.sub(r"[^A-Za-z0-9_.+-]+", "_", name).strip("_") or "model"
        path = self.models_dir / f"{safe}{MODEL_SUFFIX}"
        self.models_dir.mkdir(parents=True, exist_ok=True)
        save_model(trained, path)
        return path

    @property
    def report_path(self):
        return self.folder / "report.html"

    def __repr__(self):
        return f"<Session sub-{self.subject.subject_id} ses-{self.label} at {self.folder}>"


class SessionStore:
    """Subjects and sessions under a root folder.

    Parameters
    ----------
    root : str | Path
        E.g. ``recordings``. Created when needed.
    """

    def __init__(self, root):
        self.root = Path(root)

    def subjects(self):
        """Subject IDs found under the root, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.parent.name[4:] for p in self.root.glob("sub-*/subject.json"))

    def load_subject(self, subject_id):
        path = self.root / f"sub-{subject_id}" / "subject.json"
        if not path.is_file():
            raise DataError(f"Subject {subject_id!r}: no file {path}. Create the subject "
                            "first.")
        data = _read_json(path)
        return Subject(**{k: v for k, v in data.items() if k in Subject.__dataclass_fields__})

    def save_subject(self, subject):
        """Create or update a subject (checked first)."""
        subject.check()
        _write_json(self.root / f"sub-{subject.subject_id}" / "subject.json", asdict(subject))
        self._write_participants()
        return subject

    def _write_participants(self):
        rows = [self.load_subject(s) for s in self.subjects()]
        path = self.root / "participants.tsv"
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, delimiter="\t")
            writer.writerow(["participant_id", "age", "affected_side"])
            for s in rows:
                writer.writerow([f"sub-{s.subject_id}", "n/a" if s.age is None else s.age,
                                 s.affected_side])

    def sessions(self, subject_id):
        """Session labels of a subject, sorted."""
        folder = self.root / f"sub-{subject_id}"
        return sorted(p.parent.name[4:] for p in folder.glob("ses-*/session.json"))

    def new_session(self, subject_id, label=None):
        """Create the next session of a subject (label: ``01``, ``02``... by default)."""
        subject = self.load_subject(subject_id)
        existing = self.sessions(subject_id)
        if label is None:
            numbers = [int(s) for s in existing if s.isdigit()]
            label = f"{max(numbers, default=0) + 1:02d}"
        if not _ID_RE.match(str(label)):
            raise ConfigError(f"Session label {label!r}: use letters and digits only.")
        if label in existing:
            raise ConfigError(f"Session {label!r} of subject {subject_id} already exists; "
                              "open it instead.")
        folder = self.root / f"sub-{subject_id}" / f"ses-{label}"
        session = Session(folder, subject, {"label": label, "created": _now(),
                                            "stream": None, "montage": None,
                                            "bad_channels": []})
        session.save()
        return session

    def open_session(self, subject_id, label):
        folder = self.root / f"sub-{subject_id}" / f"ses-{label}"
        if not (folder / "session.json").is_file():
            raise DataError(f"Session {label!r} of subject {subject_id}: not found in "
                            f"{folder}.")
        return Session(folder, self.load_subject(subject_id),
                       _read_json(folder / "session.json"))


class RunRecorder:
    """Collect the samples of one run and write them, with the markers, to ``raw.fif``.

    :meth:`append` is called from the acquisition thread; :meth:`finish` from any thread
    once, at the end of the run (normal end, abort, or application exit).

    Parameters
    ----------
    ch_names : list of str
    sfreq : float
    folder : Path
        The run's folder.
    """

    def __init__(self, ch_names, sfreq, folder):
        self.ch_names = list(ch_names)
        self.sfreq = float(sfreq)
        self.folder = Path(folder)
        self._lock = threading.Lock()
        self._blocks = []
        self._first = None
        self._n = 0
        self._gaps = []  # (sample index, n missing)
        self.path = None

    @property
    def first_sample_time(self):
        return self._first

    @property
    def n_samples(self):
        return self._n

    def append(self, data, timestamps, gap=None):
        """Add a chunk (volts, shape (n_channels, n)); fill a gap with zeros, annotated."""
        with self._lock:
            if self.path is not None:
                return
            if self._first is None:
                self._first = float(timestamps[0])
            elif gap is not None:
                expected = self._first + self._n / self.sfreq
                missing = int(round((float(timestamps[0]) - expected) * self.sfreq))
                if missing > 0:
                    self._blocks.append(np.zeros((len(self.ch_names), missing)))
                    self._gaps.append((self._n, missing))
                    self._n += missing
            self._blocks.append(np.asarray(data, dtype=np.float64))
            self._n += data.shape[1]

    def finish(self, markers, class_of_marker=None):
        """Write ``raw.fif`` and ``markers.csv``.

        Parameters
        ----------
        markers : list of (timestamp, str)
            The protocol's markers (LSL clock).
        class_of_marker : dict | None
            Marker -> class name.

        Returns
        -------
        path : Path | None
            The FIF file (None when no sample was received).
        """
        import mne

        from ..protocol import marker_annotations

        with self._lock:
            if self.path is not None:
                return self.path
            blocks, self._blocks = self._blocks, []
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(self.folder / "markers.csv", "w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                writer.writerow(["timestamp", "onset_s", "marker"])
                for ts, text in markers:
                    onset = "" if self._first is None else f"{ts - self._first:.6f}"
                    writer.writerow([f"{ts:.6f}", onset, text])
            if not blocks:
                logger.warning("recorder: no sample received for %s; no raw.fif written.",
                               self.folder)
                self.path = False
                return None
            data = np.concatenate(blocks, axis=1)
            info = mne.create_info(self.ch_names, self.sfreq, "eeg")
            raw = mne.io.RawArray(data, info, verbose="error")
            try:
                from ..acquisition.simulation import standard_montage

                raw.set_montage(standard_montage(), on_missing="ignore", verbose="error")
            except Exception as exc:  # non-standard names: keep the recording anyway
                logger.debug("recorder: no montage set (%s).", exc)
            end = self._first + data.shape[1] / self.sfreq
            ann = marker_annotations(markers, origin=self._first, end=end,
                                     class_of_marker=class_of_marker)
            length = data.shape[1] / self.sfreq
            # Markers sent after the last sample received (a stop, the run end) are placed
            # on the last sample, so that none is lost.
            last = max(length - 1.0 / self.sfreq, 0.0)
            ann = [(min(o, last), max(0.0, min(d, last - min(o, last))), text)
                   for o, d, text in ann if o >= 0]
            onsets = [a[0] for a in ann] + [s / self.sfreq for s, _ in self._gaps]
            durations = [a[1] for a in ann] + [n / self.sfreq for _, n in self._gaps]
            names = [a[2] for a in ann] + ["BAD_acq_skip"] * len(self._gaps)
            raw.set_annotations(mne.Annotations(onsets, durations, names))
            path = self.folder / "raw.fif"
            raw.save(path, overwrite=True, verbose="error")
            self.path = path
            logger.info("recorder: %d samples (%.1f s) written to %s.", data.shape[1],
                        data.shape[1] / self.sfreq, path)
            return path


def load_run_recording(run):
    """The recording of a run as an MNE Raw (preloaded)."""
    import mne

    path = Path(run.folder) / "raw.fif"
    if not path.is_file():
        raise DataError(f"Run {run.index}: no recording at {path} (the run received no "
                        "samples, or the file was moved).")
    return mne.io.read_raw_fif(path, preload=True, verbose="error")
