"""Runs: one continuous stretch of a recording, its EEG and its events.

A :class:`Run` holds one run's EEG (volts) and its events (onset and duration in seconds
from its first sample, label). Training from calibration runs, the pseudo-online evaluation,
the sweep of a recording and the scores of online runs all read recordings as runs, made by
:func:`run_from_raw` from an MNE Raw (a recording file, a BIDS run, a MOABB dataset's run).
What the events mean (task, idle, not scored) is :mod:`bci_app.processing.labels`.
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
        (their label is one of :data:`~bci_app.processing.labels.IDLE_NAMES`) but are
        not needed: idle is everything outside task events (see
        :mod:`bci_app.processing.labels` for what else the events mark).
    name : str
    meta : dict
        Free-form (e.g. ``{"subject": 1}``).
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
    """A :class:`Run` from an MNE Raw: EEG channels (volts) and its annotations.

    Parameters
    ----------
    raw : mne.io.Raw
        Not modified (a copy is picked).
    name : str
    meta : dict | None

    Returns
    -------
    run : Run
        Event onsets are from the run's first sample (``raw.first_time`` subtracted).
    """
    raw = raw.copy().pick("eeg")
    onsets = raw.annotations.onset - raw.first_time
    events = [(float(o), float(d), str(lab)) for o, d, lab in
              zip(onsets, raw.annotations.duration, raw.annotations.description)]
    return Run(raw.get_data(), float(raw.info["sfreq"]), list(raw.ch_names), events, name,
               dict(meta or {}))
