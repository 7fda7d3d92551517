"""The recordings folder as a MOABB dataset.

:class:`RecordingsDataset` is a :class:`moabb.datasets.base.LocalBIDSDataset` over the BIDS
files the sessions write (see :mod:`bci_app.session.bids`), so ``bci-app evaluate`` and
``bci-app pseudo-online`` run on the app's own sessions exactly as on PhysionetMI
(``--dataset recordings/``): each BIDS session is a MOABB session, its runs in recording
order. Events are the protocol classes written in ``events.tsv`` (:data:`RECORDING_EVENTS`);
the other markers (fixation, cues, idle...) stay in the annotations, where the
pseudo-online evaluation reads ``baseline``/``idle``/``rest`` as idle and leaves the rest
out of scoring. The class ``both_hands`` is read as ``hands`` (the name used by the
``hands-feet`` paradigm).

Importing this module imports MOABB (seconds): keep it out of the GUI's start-up path.
"""

import json
from pathlib import Path

from moabb.datasets.base import LocalBIDSDataset

from .._logging import logger
from ..errors import ConfigError, DataError

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

