"""The runs of a session: what is known about each (:class:`RunInfo`), its status, and
reading its recording back.

A run is known from two sources, merged by :attr:`bci_app.session.Session.runs`:

- its **record**, ``derivatives/bci-app/sub-<s>/ses-<e>/runs/run-<NN>.json``, written by
  the application that recorded it (:meth:`~bci_app.session.Session.save_run`), from the
  moment the recorder starts: a run that failed before its conversion is known too;
- its **BIDS recording**, once converted: the ``_eeg.json`` sidecar says what was recorded
  (``BciAppProtocol``, ``BciAppModel``, ``BciAppRecording``); runs recorded by
  ``bci-app session``, or converted by the recovery after a crash, are known from it alone.

Status of a run
---------------
``"recording"`` then ``"saving"`` while the application records it, then the status of its
recording as the BIDS sidecar gives it (``BciAppRecording.status``): ``"complete"``,
``"aborted"`` (stopped by the operator) or ``"interrupted"`` (cut by a crash, recovered); or
``"failed"`` if it could not be recorded or converted (:attr:`RunInfo.error` says why).
Records written by older versions of the application say ``"finished"`` for
``"complete"``; they read back as ``"complete"``.
"""

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from .._utils import now_iso
from ..errors import DataError

#: Run statuses (see the module's docstring).
RECORDING, SAVING = "recording", "saving"
COMPLETE, ABORTED, INTERRUPTED, FAILED = "complete", "aborted", "interrupted", "failed"
#: Statuses of a run whose recording can be used (training, report, replay).
USABLE = (COMPLETE, ABORTED, INTERRUPTED)
#: Statuses of the calibration runs trained on unless the operator chooses otherwise. An
#: aborted run was stopped on purpose (the patient moved, the wrong protocol was started...):
#: it is left out until chosen; an interrupted run (cut by a crash or a recording fault) holds
#: good data up to the cut.
TRAINED_BY_DEFAULT = (COMPLETE, INTERRUPTED)
#: Every status a run can have.
STATUSES = (RECORDING, SAVING) + USABLE + (FAILED,)
#: Statuses written by older versions -> the status they mean now.
_LEGACY_STATUS = {"finished": COMPLETE}


def normalise_status(status):
    """The current name of a run status (``"finished"``, written by older versions of the
    application, is ``"complete"``)."""
    return _LEGACY_STATUS.get(status, status)


@dataclass
class RunInfo:
    """What is known about one run of a session.

    Attributes
    ----------
    index : int
        BIDS run number (unique in the session, over every task).
    run_type : str
        ``"calibration"`` or ``"online"`` (``"unknown"`` if the recording does not say).
    protocol : str
        Protocol name.
    folder : str
        The BIDS folder of the run (``sub-<s>/ses-<e>/eeg``).
    seed : int | None
        Seed of the run's trial order.
    status : str
        One of :data:`STATUSES` (see the module's docstring).
    started : str
        When the run started (ISO 8601).
    first_sample_time : float | None
        LSL time of the recording's first EEG sample.
    n_trials : int
    model : str | None
        The ``.bcimodel`` used online.
    classes : list of str
    class_of_marker : dict
        Marker text -> class.
    summary : dict
        The online decoder's summary (online runs recorded by the application).
    task : str
        BIDS task label.
    bids_path : str | None
        The BIDS EEG file (``..._eeg.vhdr``) once converted.
    xdf_path : str | None
        The raw recording (``sourcedata/``).
    log_dir : str | None
        The online decoder's CSV logs (online runs).
    error : str | None
        Why the recording or its conversion failed.
    subject, session : str
        The subject and session the run was recorded in (BIDS labels; empty in records of
        older versions).
    """

    index: int
    run_type: str
    protocol: str
    folder: str
    seed: int | None = None
    status: str = RECORDING
    started: str = field(default_factory=now_iso)
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
    subject: str = ""
    session: str = ""

    def __post_init__(self):
        self.index = int(self.index)
        self.status = normalise_status(self.status)

    @classmethod
    def from_record(cls, data):
        """From the content of a run record (``runs/run-<NN>.json``, any version: fields
        this version does not know are ignored, old status names are translated)."""
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    @classmethod
    def from_sidecar(cls, number, task, path, sidecar, folder=None):
        """From a converted run's BIDS files alone (recorded by ``bci-app session``, or
        converted by the recovery after a crash).

        Parameters
        ----------
        number : int
            Run number.
        task : str
            BIDS task label.
        path : str | Path
            The BIDS EEG file.
        sidecar : dict
            The ``_eeg.json`` content.
        folder : str | Path | None
            The BIDS folder of the run (default: the EEG file's folder).
        """
        proto = sidecar.get("BciAppProtocol") or {}
        rec = sidecar.get("BciAppRecording") or {}
        model = sidecar.get("BciAppModel") or {}
        classes = list(proto.get("classes") or [])
        markers = proto.get("markers") or {}
        status = normalise_status(rec.get("status"))
        entities = dict(p.split("-", 1) for p in Path(path).name.split("_") if "-" in p)
        return cls(
            index=number, run_type=proto.get("run_type", "unknown"),
            protocol=proto.get("name") or task or "", folder=str(folder or Path(path).parent),
            seed=proto.get("seed"), status=status if status in USABLE else COMPLETE,
            started=rec.get("started") or "", first_sample_time=rec.get("first_lsl_timestamp"),
            n_trials=int(proto.get("trials_per_class") or 0) * len(classes),
            model=model.get("file"), classes=classes,
            class_of_marker={m: c for c, m in markers.items() if c in classes},
            task=task or "", bids_path=str(path), xdf_path=rec.get("xdf"),
            subject=entities.get("sub", ""), session=entities.get("ses", ""))

    @property
    def usable(self):
        """True if the run's recording can be used (its status is in :data:`USABLE`)."""
        return self.status in USABLE

    @property
    def trained_by_default(self):
        """True if training uses this run unless the operator leaves it out (its status is
        in :data:`TRAINED_BY_DEFAULT` and its BIDS recording exists)."""
        return (self.status in TRAINED_BY_DEFAULT and bool(self.bids_path)
                and Path(self.bids_path).is_file())

    @property
    def recorded_trials(self):
        """Trials in the recording (imagery onsets of the protocol's classes in its BIDS
        ``events.tsv``; the last one of an aborted run may be cut), or None if unknown."""
        if not self.bids_path or not self.classes:
            return None
        path = Path(self.bids_path)
        events = path.with_name(path.name[:-len("_eeg" + path.suffix)] + "_events.tsv")
        try:
            with events.open(newline="", encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh, delimiter="\t"))
        except (OSError, csv.Error):
            return None
        return sum(1 for row in rows if row.get("trial_type") in self.classes)

    @property
    def quality(self):
        """What is known of the recording's quality, as text (gaps in the EEG; windows
        without a decision on online runs), or None if nothing is known."""
        parts = []
        gaps = (self.sidecar.get("BciAppRecording") or {}).get("gaps")
        if isinstance(gaps, int):
            parts.append("no gap in the EEG" if gaps == 0 else f"{gaps} gap(s) in the EEG")
        windows, artifacts = self.summary.get("windows"), self.summary.get("artifacts")
        if windows and artifacts is not None:
            parts.append(f"{100 * artifacts / windows:.0f} % windows without decision (bad "
                         "signal)")
        return "; ".join(parts) or None

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


def load_run_recording(run):
    """The BIDS recording of a run (:class:`RunInfo`) as an MNE Raw, as recorded (every
    channel, events from ``events.tsv``; preloaded)."""
    from ..acquisition.replay import read_bids_recording

    if not run.bids_path:
        raise DataError(f"Run {run.index}: no BIDS recording yet (status {run.status}"
                        f"{': ' + run.error if run.error else ''}).")
    return read_bids_recording(run.bids_path)
