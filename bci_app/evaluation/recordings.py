"""Recordings as the evaluation reads them: continuous runs with their events.

A :class:`Run` holds one run's EEG (volts) and its events (onset and duration in seconds
from its first sample, label); the pseudo-online evaluation, the sweep of a recording and
the scores of online runs read recordings through :func:`run_from_raw`.
"""

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Run:
    """One continuous run of a recording.

    Attributes
    ----------
    data : ndarray, shape (n_channels, n_samples)
        EEG in volts.
    sfreq : float
    ch_names : list of str
    events : list of (onset_s, duration_s, label)
        Task events, onsets from the run's first sample; idle events may be included
        (their label is one of :data:`~bci_app.evaluation.scoring.IDLE_NAMES`) but are
        not needed: idle is everything outside task events (see
        :mod:`bci_app.evaluation.scoring` for what else the events mark).
    name : str
    """

    data: np.ndarray
    sfreq: float
    ch_names: list
    events: list
    name: str = "run"
    meta: dict = field(default_factory=dict)

    @property
    def n_samples(self):
        return self.data.shape[1]


def run_from_raw(raw, name="run", meta=None):
    """A :class:`Run` from an MNE Raw: EEG channels (volts) and its annotations."""
    raw = raw.copy().pick("eeg")
    onsets = raw.annotations.onset - raw.first_time
    events = [(float(o), float(d), str(lab)) for o, d, lab in
              zip(onsets, raw.annotations.duration, raw.annotations.description)]
    return Run(raw.get_data(), float(raw.info["sfreq"]), list(raw.ch_names), events, name,
               dict(meta or {}))


def dataset_sessions(dataset, subject):
    """The runs of each session of a MOABB dataset's subject, as :class:`Run` lists.

    Yields
    ------
    session : str
    runs : list of Run
        In the dataset's run order (time order for the datasets we read).
    """
    data = dataset.get_data(subjects=[subject])[subject]
    for session, runs in data.items():
        yield str(session), [run_from_raw(raw, name=str(name), meta={"subject": subject})
                             for name, raw in runs.items()]


def file_session(path, event_map=None):
    """A recording file (any format MNE reads) as one session of one run.

    The file is read as :func:`bci_app.acquisition.replay.read_recording` reads it for a
    real-time replay (EEG channels, standard channel names), so a sweep and a replay of the
    same file see the same samples.

    Parameters
    ----------
    path : str | Path
    event_map : dict | None
        Annotation description -> class name (e.g. ``{"T1": "left_hand"}``); descriptions
        mapped to ``"idle"`` or ``"rest"`` count as idle.

    Returns
    -------
    runs : list of Run
    """
    from pathlib import Path

    from ..acquisition.replay import read_recording

    raw = read_recording(path, event_map)
    return [run_from_raw(raw, name=Path(path).stem)]
