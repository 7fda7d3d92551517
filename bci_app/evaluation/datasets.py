"""Datasets for evaluation: MOABB datasets read from local files only, synthetic MI data, and
the app's recordings folder.

No function here downloads anything. A MOABB dataset is one of MOABB's registered classes, used
only when each requested subject's files are already under the MNE data folder (``MNE_DATA``,
or ``--data-path``): they are checked before anything is read, and a missing subject is
reported with the exact path that was expected (:mod:`bci_app.evaluation.local_data`).

The recordings folder (:class:`RecordingsDataset`) is a
:class:`moabb.datasets.base.LocalBIDSDataset` over the BIDS files the sessions write (see
:mod:`bci_app.session.bids`), so ``bci-app evaluate`` and ``bci-app pseudo-online`` run on the
app's own sessions exactly as on PhysionetMI (``--dataset recordings/``): each BIDS session is
a MOABB session, its runs in recording order. Events are the protocol classes written in
``events.tsv`` (:data:`RECORDING_EVENTS`); the other markers (fixation, cues, idle...) stay in
the annotations, where the pseudo-online evaluation reads ``baseline``/``idle``/``rest`` as
idle and leaves the rest out of scoring (:mod:`bci_app.processing.labels`). The class
``both_hands`` is read as ``hands`` (the name used by the ``hands-feet`` paradigm).

The events are the recording's own. MOABB's default data path rewrites a run's annotations to
its epoch ``interval`` (PhysionetMI: every event lasts 3.0 s, while the EDF files say 4.1 s for
a cue); ``get_data()`` of the datasets made here (:func:`resolve_dataset`, :class:`SyntheticMI`,
:class:`RecordingsDataset`) gives each run's events as recorded instead
(:class:`RecordedEvents`): onsets and durations from the annotations of the run's file, and a
dataset's trial timing (:data:`TRIAL_TIMING`) only where the file holds no durations. MOABB's
paradigms (``bci-app evaluate``) epoch from their own processing pipeline and are not affected.

Importing this module imports MOABB (seconds): keep it out of the GUI's start-up path.
"""

import json
from pathlib import Path

import numpy as np
from moabb.datasets.base import BaseDataset, LocalBIDSDataset
from moabb.datasets.bids_interface import StepType
from moabb.datasets.preprocessing import FixedPipeline, FixedTransformer
from moabb.datasets.utils import stim_channels_with_selected_ids

from .._logging import logger
from ..acquisition.simulation import (
    DEFAULT_CHANNELS,
    make_trial_schedule,
    simulate_mi_raw,
)
from ..errors import ConfigError, DataError
from ..processing.paradigms import PARADIGMS
from ..processing.runs import recorded_annotations
from .local_data import check_local_subjects, dataset_class

EVALUATIONS = ("within-session", "cross-session", "cross-subject")

# -- the events as recorded ----------------------------------------------------------------
#: Task period of a trial, (start, stop) in s from its recorded event, for the datasets whose
#: files hold no event durations (keyed by dataset code); other datasets use their MOABB
#: ``interval``, with a warning. PhysioNet's EDF files carry their durations; its cue lasts
#: 4.1 s (the entry is used only if a file has none).
TRIAL_TIMING = {"PhysionetMotorImagery": (0.0, 4.1)}


class RecordedEvents(FixedTransformer):
    """MOABB processing step: a run's events as recorded
    (:func:`~bci_app.processing.runs.recorded_annotations`).

    Parameters
    ----------
    event_id : dict
    timing : (float, float)
        Task period after an event whose duration the files do not hold.
    code : str
        The dataset, named in the warning given when ``timing`` is used.
    """

    def __init__(self, event_id, timing, code):
        super().__init__()
        self.event_id = dict(event_id)
        self.timing = tuple(float(t) for t in timing)
        self.code = code

    def transform(self, raw, y=None):
        annotations, n_timed = recorded_annotations(raw, self.event_id, self.timing)
        if n_timed:
            logger.warning("%s: %d event(s) of a run without a recorded duration: their task "
                           "period is %s s after the event (TRIAL_TIMING, or MOABB's interval)",
                           self.code, n_timed, list(self.timing))
        raw.set_annotations(annotations)
        return raw


def recorded_events_pipeline(event_id, interval, code):
    """The processing pipeline of ``get_data()`` that keeps the events as recorded."""
    timing = TRIAL_TIMING.get(code, tuple(interval))
    return FixedPipeline([(StepType.RAW, RecordedEvents(event_id, timing, code))])


class _RecordedEventsDefault:
    """``dataset._create_process_pipeline`` of a MOABB dataset made here (picklable)."""

    def __init__(self, dataset):
        self.event_id, self.interval, self.code = (dict(dataset.event_id),
                                                   list(dataset.interval), dataset.code)

    def __call__(self):
        return recorded_events_pipeline(self.event_id, self.interval, self.code)


def keep_recorded_events(dataset):
    """Make ``dataset.get_data()`` give the runs' events as recorded (see the module notes).

    Only the default processing of ``get_data()`` changes (MOABB's paradigms pass their own).

    Parameters
    ----------
    dataset : moabb.datasets.base.BaseDataset

    Returns
    -------
    dataset : the same object
    """
    dataset._create_process_pipeline = _RecordedEventsDefault(dataset)
    return dataset


#: SyntheticMI runs simulated in this process: (subject, n_trials, sfreq, channels) -> runs.
_SYNTHETIC_RUNS = {}
#: Subjects kept (about 22 MB each at the defaults).
_SYNTHETIC_RUNS_MAX = 6


class SyntheticMI(BaseDataset):
    """Synthetic motor-imagery EEG as a MOABB dataset, generated on the fly (no files).

    Every subject has two sessions of two runs; each run holds ``n_trials`` trials per class
    (left hand, right hand, feet) of 4 s imagery separated by 2-3 s of rest. Subjects differ
    in skill (depth of the imagery-related desynchronisation), drawn from a fixed seed, so the
    same subject always gives the same data.

    Parameters
    ----------
    n_subjects : int
        Number of subjects (ids 1..n_subjects).
    n_trials : int
        Trials per class and run.
    sfreq : float
        Sampling rate in Hz.
    ch_names : sequence of str
        Channels (standard 10-05 names).
    """

    def __init__(self, n_subjects=10, n_trials=10, sfreq=160.0, ch_names=DEFAULT_CHANNELS):
        self.n_trials = int(n_trials)
        self.sfreq = float(sfreq)
        self.ch_names = tuple(ch_names)
        super().__init__(
            subjects=list(range(1, int(n_subjects) + 1)),
            sessions_per_subject=2,
            events={"left_hand": 1, "right_hand": 2, "feet": 3},
            code="SyntheticMI",
            interval=[0, 4],
            paradigm="imagery",
            doi=None,
        )

    def skill(self, subject):
        """Skill in [0.35, 0.9] of a subject (deterministic)."""
        return float(0.35 + 0.55 * np.random.default_rng(1000 + subject).random())

    def _get_single_subject_data(self, subject):
        """The subject's runs, simulated once per process (they are the same for the same
        seed and settings) and handed out as copies."""
        key = (int(subject), self.n_trials, self.sfreq, self.ch_names)
        if key not in _SYNTHETIC_RUNS:
            if len(_SYNTHETIC_RUNS) >= _SYNTHETIC_RUNS_MAX:
                _SYNTHETIC_RUNS.pop(next(iter(_SYNTHETIC_RUNS)))
            _SYNTHETIC_RUNS[key] = self._simulate_subject(subject)
        return {s: {r: raw.copy() for r, raw in runs.items()}
                for s, runs in _SYNTHETIC_RUNS[key].items()}

    def _simulate_subject(self, subject):
        data = {}
        for session in range(2):
            runs = {}
            for run in range(2):
                seed = subject * 100 + session * 10 + run
                schedule = make_trial_schedule(("left_hand", "right_hand", "feet"),
                                               self.n_trials, seed=seed)
                raw = simulate_mi_raw(schedule, ch_names=self.ch_names, sfreq=self.sfreq,
                                      skill=self.skill(subject), seed=seed)
                recorded = raw.annotations.copy()  # the stimulation channel drops durations
                runs[str(run)] = stim_channels_with_selected_ids(raw, self.event_id)
                runs[str(run)].set_annotations(recorded)
            data[str(session)] = runs
        return data

    def _create_process_pipeline(self):
        """``get_data()`` gives the events as simulated (see the module notes)."""
        return recorded_events_pipeline(self.event_id, self.interval, self.code)

    def data_path(self, subject, path=None, force_update=False, update_path=None,
                  verbose=None):
        """Synthetic data have no files."""
        return []


# -- the recordings folder (BIDS) written by bci-app sessions ---------------------------------
#: MOABB event ids of the recordings (class name -> code).
RECORDING_EVENTS = {"left_hand": 1, "right_hand": 2, "feet": 3, "rest": 4, "hands": 5,
                    "tongue": 6}
#: Annotation renamed when read through the dataset.
RENAMED = {"both_hands": "hands"}
#: Code of the dataset (MOABB's CamelKebab rule).
CODE = "RecordingsDataset"
_EXTENSIONS = (".vhdr", ".edf", ".bdf", ".set", ".fif")


def _eeg_files(root):
    root = Path(root)
    return sorted(p for ext in _EXTENSIONS for p in root.glob(f"sub-*/ses-*/eeg/*_eeg{ext}"))


def is_recordings_folder(path):
    """True if ``path`` is a BIDS folder with EEG runs (e.g. bci-app's ``recordings/``)."""
    path = Path(path)
    return (path / "dataset_description.json").is_file() and bool(_eeg_files(path))


def _entities(path):
    return dict(part.split("-", 1) for part in path.name.split("_") if "-" in part)


def _imagery_s(path):
    try:
        meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        return float(meta["BciAppProtocol"]["timing"]["imagery_s"])
    except (OSError, KeyError, TypeError, ValueError, json.JSONDecodeError):
        return None


def _moabb_label(label, ordinal):
    """A session/run key MOABB accepts: starts with its index (``"01"``, ``"2pre"``)."""
    return label if label[:1].isdigit() else f"{ordinal}{label}"


class RecordingsDataset(LocalBIDSDataset):
    """bci-app's recordings folder (BIDS) as a MOABB dataset.

    Parameters
    ----------
    root : str | Path
        The recordings folder.
    subjects : list of int | None
        Subjects to keep (numeric labels: ``sub-01`` is subject 1); None: all.
    tasks : list of str | None
        Keep only these BIDS tasks (e.g. ``["leftRightHand"]``); None: all.
    interval : list of float | None
        Imagery interval after the class marker, s; None: ``[0, imagery_s]`` with the
        shortest imagery period of the runs' protocols (4 s if unknown).
    """

    def __init__(self, root, subjects=None, tasks=None, interval=None):
        root = Path(root)
        files = _eeg_files(root)
        if tasks:
            files = [f for f in files if _entities(f).get("task") in set(tasks)]
        if not files:
            raise DataError(f"{root}: no EEG run{' of tasks ' + str(tasks) if tasks else ''}"
                            " found (expected sub-*/ses-*/eeg/*_eeg.vhdr written by "
                            "bci-app sessions).")
        labels = sorted({_entities(f)["sub"] for f in files})
        self._labels = {(int(lab) if lab.isdigit() else lab): lab for lab in labels}
        self._tasks = list(tasks) if tasks else None
        if interval is None:
            lengths = [v for v in map(_imagery_s, files) if v]
            interval = [0.0, min(lengths) if lengths else 4.0]
        n_sessions = min(len({_entities(f).get("ses") for f in files
                              if _entities(f)["sub"] == lab}) for lab in labels)
        all_subjects = list(self._labels)
        if subjects:
            bad = [s for s in subjects if s not in self._labels]
            if bad:
                raise ConfigError(f"{root}: no subject(s) {bad}; subjects are "
                                  f"{all_subjects}.")
        super().__init__(root, path_search_params=None, subjects=all_subjects,
                         sessions_per_subject=n_sessions, events=dict(RECORDING_EVENTS),
                         code=CODE, interval=interval, paradigm="imagery")
        if subjects:
            self.subject_list = list(subjects)

    def _get_path_search_params(self, subject):
        params = {"extensions": list(_EXTENSIONS), "datatypes": "eeg", "suffixes": "eeg",
                  "ignore_nosub": True}
        if self._tasks:
            params["tasks"] = self._tasks
        if subject is not None:
            params["subjects"] = self._labels.get(subject, str(subject))
        return params

    def _get_single_subject_data(self, subject):
        import mne_bids

        by_session = {}
        for bids_path in self.bids_paths(subject):
            by_session.setdefault(bids_path.session or "0", []).append(bids_path)
        data = {}
        for k, session in enumerate(sorted(by_session, key=_order)):
            runs = {}
            paths = sorted(by_session[session], key=lambda p: _order(p.run or "0"))
            for j, bids_path in enumerate(paths):
                raw = mne_bids.read_raw_bids(bids_path, verbose="ERROR")
                raw.load_data()
                if len(raw.annotations):
                    raw.annotations.rename({k2: v for k2, v in RENAMED.items()
                                            if k2 in set(raw.annotations.description)})
                runs[_moabb_label(bids_path.run or str(j), j)] = raw
            data[_moabb_label(session, k)] = runs
        return data

    def _create_process_pipeline(self):
        """``get_data()`` gives the events as recorded in ``events.tsv``, the markers
        (fixation, cues, idle...) included (see the module notes)."""
        return recorded_events_pipeline(self.event_id, self.interval, self.code)

    def __repr__(self):
        return (f"<RecordingsDataset {self.bids_root} subjects={self.subject_list} "
                f"interval={self.interval}>")


def _order(label):
    digits = "".join(c for c in str(label) if c.isdigit())
    return (int(digits) if digits else 10**9, str(label))


def recordings_dataset(root, subjects=None, tasks=None, interval=None):
    """The recordings folder as a MOABB dataset (see :class:`RecordingsDataset`).

    Parameters
    ----------
    root : str | Path
    subjects : list of int | None
    tasks : list of str | None
    interval : list of float | None

    Returns
    -------
    dataset : moabb.datasets.base.LocalBIDSDataset

    Raises
    ------
    DataError
        If the folder holds no EEG run written as BIDS.
    """
    if not is_recordings_folder(root):
        raise DataError(f"{root}: not a recordings folder (no dataset_description.json with "
                        "sub-*/ses-*/eeg/*_eeg.vhdr runs). Record a session with `bci-app "
                        "session` first, or give the folder it wrote to.")
    dataset = RecordingsDataset(root, subjects=subjects, tasks=tasks, interval=interval)
    logger.info("recordings %s: subjects %s, interval %s", root, dataset.subject_list,
                dataset.interval)
    return dataset


def _physionet_runs(dataset, paradigm):
    """Keep the runs of PhysionetMI that hold the paradigm's classes (the others need not be
    on disk: the imagined hands/feet runs 6, 10, 14 are absent for most subjects here)."""
    classes = PARADIGMS[paradigm][0]
    if not any(c in ("hands", "feet") for c in classes):
        dataset.feet_runs = []
    if not any(c in ("left_hand", "right_hand") for c in classes):
        dataset.hand_runs = []


def _moabb_dataset(name, paradigm):
    """A MOABB dataset of a registered name (:func:`~.local_data.dataset_class`); no data
    is read."""
    name, cls = dataset_class(name)
    try:
        dataset = cls(imagined=True) if name == "PhysionetMI" else cls()
    except TypeError as err:
        raise ConfigError(f"{name}: MOABB's class needs arguments bci-app does not give "
                          f"({err}); use another dataset.") from err
    if getattr(dataset, "paradigm", "imagery") != "imagery":
        raise ConfigError(f"{name} is a {dataset.paradigm} dataset of MOABB; bci-app "
                          "evaluates motor imagery (e.g. PhysionetMI, BNCI2014_001).")
    if name == "PhysionetMI":
        _physionet_runs(dataset, paradigm)
    return name, dataset


def check_dataset_name(name):
    """Raise a UsageError (listing the close names) unless ``name`` is a dataset
    :func:`resolve_dataset` knows: a MOABB dataset, SyntheticMI or a folder. Reads no data."""
    name = str(name)
    if not (Path(name).is_dir() or
            name.lower().replace("_", "").replace("-", "") == "syntheticmi"):
        dataset_class(name)


def resolve_dataset(name, subjects=None, paradigm="left-right", data_path=None):
    """Build a MOABB dataset from its name, restricted to ``subjects``, local data only.

    Every subject's files are checked before anything is read
    (:func:`~bci_app.evaluation.local_data.check_local_subjects`): nothing is downloaded.

    Parameters
    ----------
    name : str
        A MOABB dataset class name (``"PhysionetMI"``, ``"BNCI2014_001"``...) whose files
        are in the MNE data folder, ``"SyntheticMI"``, or a recordings folder written by
        ``bci-app session`` (BIDS; see :class:`RecordingsDataset`).
    subjects : sequence of int | None
        Subjects to keep (None: all those whose files are on this machine).
    paradigm : str
        A key of :data:`PARADIGMS`.
    data_path : str | Path | None
        The MNE data folder (default: as MOABB finds it, ``MNE_DATA``...).

    Returns
    -------
    dataset : moabb.datasets.base.BaseDataset

    Raises
    ------
    UsageError
        ``name`` is no dataset (the message lists the close names).
    ConfigError
        Unknown paradigm or subject, or classes the dataset does not have.
    DataError
        A subject's files are not on this machine (the path expected is named).
    """
    if paradigm not in PARADIGMS:
        raise ConfigError(f"unknown paradigm {paradigm!r}; choose one of {sorted(PARADIGMS)}.")
    name, moabb_name = str(name), None
    if Path(name).is_dir():  # a recordings folder (BIDS) written by bci-app sessions
        if not is_recordings_folder(name):
            raise ConfigError(
                f"{name}: not a recordings folder: expected a BIDS folder written by "
                "`bci-app session` (dataset_description.json and sub-*/ses-*/eeg/*_eeg.vhdr)."
            )
        dataset = recordings_dataset(name)
    elif name.lower().replace("_", "").replace("-", "") == "syntheticmi":
        dataset = SyntheticMI()
    else:
        moabb_name, dataset = _moabb_dataset(name, paradigm)
    all_subjects = list(dataset.subject_list)
    if subjects:
        bad = [s for s in subjects if s not in all_subjects]
        if bad:
            raise ConfigError(f"{name}: no subject(s) {bad}; subjects are "
                              f"{all_subjects[0]}..{all_subjects[-1]}.")
        dataset.subject_list = list(subjects)
    classes = PARADIGMS[paradigm][0]
    missing = [c for c in classes if c not in dataset.event_id]
    if missing:
        raise ConfigError(f"{name} has no class(es) {missing} for paradigm {paradigm!r}; "
                          f"its classes are {sorted(dataset.event_id)}.")
    if moabb_name is not None:
        dataset.subject_list = check_local_subjects(moabb_name, dataset,
                                                    list(dataset.subject_list), data_path,
                                                    explicit=bool(subjects))
        keep_recorded_events(dataset)
    return dataset


def make_paradigm(paradigm="left-right", fmin=8.0, fmax=35.0, tmin=0.0, tmax=None,
                  resample=None):
    """The MOABB paradigm object of a command-line paradigm name."""
    from moabb.paradigms import LeftRightImagery, MotorImagery

    if paradigm not in PARADIGMS:
        raise ConfigError(f"unknown paradigm {paradigm!r}; choose one of {sorted(PARADIGMS)}.")
    kwargs = dict(fmin=fmin, fmax=fmax, tmin=tmin, tmax=tmax, resample=resample)
    if paradigm == "left-right":
        return LeftRightImagery(**kwargs)
    classes = list(PARADIGMS[paradigm][0])
    return MotorImagery(events=classes, n_classes=len(classes), **kwargs)
