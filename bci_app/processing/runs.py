"""Runs: one continuous stretch of a recording, its EEG and its events.

A :class:`Run` holds one run's EEG (volts) and its events (onset and duration in seconds
from its first sample, label). Training from calibration runs, the pseudo-online evaluation,
the sweep of a recording and the scores of online runs all read recordings as runs, made by
:func:`run_from_raw` from an MNE Raw (a recording file, a BIDS run, a MOABB dataset's run).
What the events mean (task, idle, not scored) is :mod:`bci_app.processing.labels`.

The events are the truth every score is measured against: they must be the recording's own
(onsets and durations as recorded), not a rewritten version. MOABB's readers drop the
durations and its default data path then sets every one to its epoch interval;
:func:`recorded_annotations` gives them back from the run's file (the datasets of
:mod:`bci_app.evaluation.datasets` read their runs through it). Runs are used in
acquisition order (:func:`acquisition_order`): a calibration is what was recorded first.

A run read from a recording is checked for signal that is not EEG
(:func:`bci_app.processing.quality.signal_faults`: non-finite samples, flat channels): each
is reported, by channel and time, with what to do.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._logging import logger
from .quality import describe_faults, signal_faults


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
    meas_date : datetime.datetime | None
        When the recording started (the file's measurement date), if known.
    source : str | None
        The file the run was read from, if any.
    """

    data: np.ndarray
    sfreq: float
    ch_names: list
    events: list
    name: str = "run"
    meta: dict = field(default_factory=dict)
    meas_date: object = None
    source: str = None

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
        Event onsets are from the run's first sample (``raw.first_time`` subtracted); its
        ``meas_date`` and ``source`` (the file) are the Raw's. Non-finite samples and flat
        channels are logged as a warning naming the channels and the times.
    """
    raw = raw.copy().pick("eeg")
    onsets = raw.annotations.onset - raw.first_time
    events = [(float(o), float(d), str(lab)) for o, d, lab in
              zip(onsets, raw.annotations.duration, raw.annotations.description)]
    files = [f for f in (raw.filenames or ()) if f is not None]
    run = Run(raw.get_data(), float(raw.info["sfreq"]), list(raw.ch_names), events, name,
              dict(meta or {}), raw.info["meas_date"], str(files[0]) if files else None)
    report_faults(run)
    return run


def report_faults(run):
    """Log a warning naming the channels and times of a run's signal that is not EEG.

    Parameters
    ----------
    run : Run

    Returns
    -------
    faults : list of bci_app.processing.quality.SignalFault
    """
    faults = signal_faults(run.data, run.sfreq, run.ch_names)
    if faults:
        logger.warning(
            "%s%s: %s. Windows over these stretches get no decision (artifact) when decoded, "
            "and a decoder is not trained on non-finite samples: check the electrodes and "
            "the amplifier, or repair the recording (interpolate the channels, crop the "
            "stretches).", run.name, f" ({run.source})" if run.source else "",
            describe_faults(faults, run.n_samples / run.sfreq))
    return faults


def _number(text):
    """The run number in a file name or a run name: BIDS ``run-<n>``, else its last number
    (``S001R04.edf``: 4); None if it has none."""
    bids = re.search(r"(?:^|_)run-(\d+)", text)
    digits = re.findall(r"\d+", text)
    return int(bids.group(1)) if bids else (int(digits[-1]) if digits else None)


def acquisition_order(runs):
    """The runs in the order they were recorded.

    Sorted by, in turn: the measurement date (when every run has one), the run number of the
    file each was read from (BIDS ``run-<n>``, else the last number of the file name, as in
    PhysioNet's ``S001R04.edf``; when every run has one), then the number in the run's name.
    Runs equal on every key keep their order. A dataset may list its runs in another order:
    MOABB's PhysionetMI gives the left/right-hand runs (R04, R08, R12) before the hands/feet
    runs (R06, R10, R14), all with one measurement date.

    Parameters
    ----------
    runs : list of Run

    Returns
    -------
    runs : list of Run
    """
    runs = list(runs)
    dates = [r.meas_date for r in runs]
    files = [_number(Path(r.source).stem) if r.source else None for r in runs]
    names = [_number(str(r.name)) for r in runs]
    keys = [dates if all(d is not None for d in dates) else None,
            files if all(f is not None for f in files) else None,
            names if all(n is not None for n in names) else None]
    keys = [k for k in keys if k is not None]
    order = sorted(range(len(runs)), key=lambda i: tuple(k[i] for k in keys))
    return [runs[i] for i in order]


def _file_annotations(raw):
    """The annotations of the file a Raw was read from, on the Raw's annotation clock; None
    when the Raw has no file or its format holds none."""
    import mne

    files = [f for f in (raw.filenames or ()) if f is not None]
    if not files:
        return None
    try:
        annotations = mne.read_annotations(files[0])
    except (OSError, ValueError, RuntimeError, NotImplementedError, TypeError):
        return None
    shift = raw.first_time if annotations.orig_time is None else 0.0
    if annotations.orig_time is not None and raw.annotations.orig_time is not None:
        shift = (annotations.orig_time - raw.annotations.orig_time).total_seconds()
    return annotations.onset + shift, annotations.duration


def recorded_annotations(raw, event_id, timing):
    """A Raw's annotations with each event of ``event_id`` at its recorded onset and duration.

    An event annotation that has a duration keeps it. One without (MOABB's readers make events
    from a stimulation channel and drop the durations) takes the duration of the annotation
    of the run's file at the same onset (within half a sample); failing that, its task period
    is ``timing`` after the event. A Raw whose events are only in a stimulation channel gets
    them from it. Other annotations are kept as they are.

    Parameters
    ----------
    raw : mne.io.Raw
    event_id : dict
        Class name -> event code.
    timing : (float, float)
        Task period (start, stop) after an event without a recorded duration, s.

    Returns
    -------
    annotations : mne.Annotations
    n_timed : int
        Events whose period comes from ``timing`` (the file held no duration for them).
    """
    import mne

    sfreq = raw.info["sfreq"]
    annotations = raw.annotations.copy()
    if not np.isin(annotations.description, list(event_id)).any():
        stim = mne.pick_types(raw.info, stim=True)
        codes = {v: k for k, v in event_id.items() if isinstance(v, (int, np.integer))}
        if stim.size and codes:
            events = mne.find_events(raw, shortest_event=0, initial_event=True,
                                     verbose="error")
            events = events[np.isin(events[:, 2], list(codes))]
            annotations += mne.annotations_from_events(
                events, sfreq, codes, first_samp=raw.first_samp,
                orig_time=annotations.orig_time, verbose="error")
    onset = annotations.onset.copy()
    duration = annotations.duration.copy()
    todo = np.flatnonzero(np.isin(annotations.description, list(event_id)) & (duration <= 0))
    recorded = _file_annotations(raw) if todo.size else None
    if recorded is not None:
        f_onset, f_duration = recorded
        for i in todo:
            near = np.flatnonzero((np.abs(f_onset - onset[i]) <= 0.5 / sfreq)
                                  & (f_duration > 0))
            if near.size:
                duration[i] = f_duration[near[0]]
    timed = todo[duration[todo] <= 0]
    onset[timed] += timing[0]
    duration[timed] = timing[1] - timing[0]
    out = mne.Annotations(onset, duration, annotations.description,
                          orig_time=annotations.orig_time)
    return out, int(timed.size)
