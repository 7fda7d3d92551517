"""One session of one subject (:class:`Session`): its runs, log, settings and models.

:class:`Session` numbers and lists the runs (:class:`~bci_app.session.runs.RunInfo`, with
their status), starts recording them (:class:`~bci_app.session.recorder.XDFRecorder`) and
converts them to BIDS (:func:`~bci_app.session.bids.convert_recording`), keeps the session
log (:class:`~bci_app.session.session_log.SessionLog`: JSON lines, appended and synced entry
by entry, so a crash never loses an entry already written), the session's settings and the
models trained in it. Get one from :meth:`bci_app.session.RecordingStore.open_session`.

Files of a session
------------------
- ``participants.tsv`` (the single source of truth for subjects) with the columns of
  :data:`~bci_app.session.participants.PARTICIPANT_COLUMNS`, described in
  ``participants.json``; columns added by other tools are kept;
- ``sourcedata/sub-<s>/ses-<e>/``: the session log (:mod:`.session_log`) and the raw
  recordings (``eeg/*_eeg.xdf``, with their recorder state files);
- ``sub-<s>/ses-<e>/eeg/``: the runs converted to BIDS;
- ``derivatives/bci-app/sub-<s>/ses-<e>/``: ``session.json`` (the session's settings:
  amplifier stream, montage, bad channels, chosen model, training scores, EEG settings
  written to the recordings' sidecars: :attr:`Session.eeg_settings`),
  ``runs/run-<NN>.json`` (the record of each run the application recorded), ``models/``,
  ``online/run-<NN>/`` (the online decoder's CSV logs), ``report.html`` and ``report.pdf``,
  ``summary.json`` (the session's scores, :mod:`bci_app.session.course`), ``r2_map.npz``.

Every file is written atomically (:func:`bci_app._utils.atomic_write`) and every timestamp
is :func:`bci_app._utils.now_iso`.
"""

import json
import platform
from dataclasses import asdict
from pathlib import Path

from .._utils import atomic_write, now_iso
from ..errors import DataError
from .layout import (
    bids_path_for,
    derivatives_dir,
    source_dir,
    source_xdf_path,
    task_label,
)
from .runs import RECORDING, SAVING, RunInfo
from .session_log import SessionLog

#: Name of a session's settings file, in ``derivatives/bci-app/sub-<s>/ses-<e>/``.
SETTINGS_NAME = "session.json"
#: The settings of a session that has none saved yet (``created`` and ``label`` added).
DEFAULT_SETTINGS = {"stream": None, "montage": None, "bad_channels": []}


def _read_json(path):
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read this file ({exc}). Restore it from a backup, "
                        "or move it away (the session then forgets what it held).") from exc


def _write_json(path, data):
    atomic_write(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


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
        self.source_dir = source_dir(self.root, subject, session)
        self._log = SessionLog(self.root, subject, session)
        self.log_path = self._log.path
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
        """Append an entry to the session log: see
        :meth:`bci_app.session.session_log.SessionLog.log` (None if it could not be
        written; the log never stops a session)."""
        return self._log.log(event, **details)

    def entries(self):
        """The session log's entries (a line cut by a crash is skipped)."""
        return self._log.entries()

    # -- settings -----------------------------------------------------------------------------
    @property
    def meta(self):
        """The session's settings (``session.json``, a dict).

        ``label``, ``created``, ``stream``, ``montage``, ``bad_channels``, and once chosen
        ``model``, ``training`` and ``operator``; change them with :meth:`update`.
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

    @property
    def operator(self):
        """Who runs the session (``session.json``'s ``operator``; "" if not given)."""
        return str(self.meta.get("operator") or "")

    def set_operator(self, name):
        """Store who runs the session with it (and say so in the session log when it
        changes). Returns the name as stored (spaces trimmed)."""
        name = " ".join(str(name or "").split())
        if name != self.operator:
            self.update(operator=name)
            self.log("operator", operator=name)
        return name

    @property
    def eeg_settings(self):
        """The session's EEG settings (:data:`bci_app.session.site.EEG_SETTINGS`: power line
        frequency, reference, amplifier manufacturer and model; None: not set, the
        amplifier's stream or the site settings say it)."""
        from .site import EEG_SETTINGS

        return {key: self.meta.get(key) for key in EEG_SETTINGS}

    def set_eeg_settings(self, **values):
        """Check, save and log EEG settings of the session (what its recordings' sidecars
        say: ``line_freq`` 50 or 60, ``eeg_reference``, ``amplifier_manufacturer``,
        ``amplifier_model``; None or empty: not set).

        Returns
        -------
        settings : dict
            :attr:`eeg_settings`, as saved.

        Raises
        ------
        ConfigError
            An unknown setting or a bad line frequency (nothing is saved).
        """
        from .site import check_eeg_settings

        values = check_eeg_settings(**values)
        changed = {k: v for k, v in values.items() if self.meta.get(k) != v}
        if changed:
            self.update(**changed)
            self.log("eeg_settings", **changed)
        return self.eeg_settings

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
        return source_xdf_path(self.root, self.subject, self.session, task, run)

    def bids_path(self, task, run):
        return bids_path_for(self.root, self.subject, self.session, task, run)

    def start_recording(self, protocol, streams, model=None, amplifier=None, seed=None,
                        run=None, line_freq=None, labrecorder=None, timeout=15.0):
        """Start recording a run of this session (LabRecorder, XDF under ``sourcedata/``).

        Everything the BIDS conversion needs is stored in the recording's state file
        before the recorder starts, so the run can be converted even if the application
        dies (see :func:`bci_app.session.recovery.recover`).

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
        line_freq : float | None
            Power-line frequency, Hz; None: the session's setting (:attr:`eeg_settings`),
            else the site's (:mod:`bci_app.session.site`). Stored with the recording, with
            the session's other EEG settings and the site's defaults, for the conversion
            (:func:`bci_app.session.bids.recording_eeg`).
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
        from .bids import model_record, protocol_record
        from .recorder import XDFRecorder
        from .site import check_line_freq, read_site_settings

        info_run = run if isinstance(run, RunInfo) else None
        if info_run is not None:
            run = info_run.index
            seed = info_run.seed if seed is None else seed
        task = task_label(protocol)
        run = self.next_run() if run is None else int(run)
        record = protocol_record(protocol, self.root)
        record["seed"] = seed
        eeg_settings = self.eeg_settings
        if line_freq is not None:
            eeg_settings["line_freq"] = check_line_freq(line_freq, "line_freq")
        site = read_site_settings()
        info = {"subject": self.subject, "session": self.session, "task": task, "run": run,
                "protocol": record, "seed": seed,
                "class_of_marker": protocol.class_of_marker,
                "model": model_record(model, self.root) if model is not None else None,
                "amplifier": amplifier or {}, "eeg_settings": eeg_settings,
                "site": {"eeg": site.eeg_defaults(),
                         "institution": site.institution_fields()},
                "os": platform.platform(terse=True),
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

    def convert(self, recorder, interrupted=None):
        """Convert a stopped recording of this session to BIDS.

        Holds the store's lock (the conversion rewrites participants.tsv).

        Parameters
        ----------
        recorder : XDFRecorder | str | Path
            The recorder (stopped), or its state or XDF file.
        interrupted : bool | None
            See :func:`bci_app.session.bids.convert_recording`.

        Returns
        -------
        bids_path : mne_bids.BIDSPath
        """
        from .bids import convert_recording

        with self.store.lock:
            return convert_recording(getattr(recorder, "state_path", recorder),
                                     interrupted=interrupted)

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
