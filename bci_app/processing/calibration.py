"""Calibration: the training windows of a decoder, cropped from runs as a calibration is used.

The settings of a calibration and of the decoder trained on it (:class:`PseudoOnlineConfig`)
and the crops: each run is filtered causally from its first sample, as the engine filters
online, then cropped into cue-locked windows inside each trial (and windows of the idle
periods when idle is a class), the idle windows thinned to the largest task class. Training a
decoder (:mod:`bci_app.online.training`) and the pseudo-online evaluation
(:mod:`bci_app.evaluation.pseudo_online`) take their training windows from here.
"""

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, DataError
from .filters import CausalFilter
from .labels import IDLE, sample_codes
from .windows import window_samples


@dataclass
class PseudoOnlineConfig:
    """Parameters of a calibration, of the decoder trained on it and of its evaluation.

    Attributes
    ----------
    classes : tuple of str
        Task classes (without idle).
    window_s, step_s : float
        Sweep window and step, s.
    calibration_runs : int
        Number of first runs (per session) used for calibration; 0 to use
        ``calibration_trials`` instead.
    calibration_trials : int
        Number of first task trials (per session) used for calibration when
        ``calibration_runs`` is 0.
    idle : {"class", "threshold"}
        ``"class"``: idle is a class of the model, trained on rest periods; ``"threshold"``:
        the model knows the task classes only and the decision is idle below ``threshold``.
    threshold : float
        Confidence threshold of the decision rule.
    smoothing : int
        Probability smoothing over the last windows.
    l_freq, h_freq : float
        Causal band-pass, Hz.
    crop_step_s : float
        Step between calibration crops within a trial, s.
    crop_offset_s : float
        Start of the first crop after the cue (and after the start of a rest period), s.
    """

    classes: tuple = ("left_hand", "right_hand")
    window_s: float = 2.0
    step_s: float = 0.25
    calibration_runs: int = 1
    calibration_trials: int = 0
    idle: str = "class"
    threshold: float = 0.0
    smoothing: int = 1
    l_freq: float = 8.0
    h_freq: float = 35.0
    crop_step_s: float = 0.5
    crop_offset_s: float = 0.5

    def check(self):
        if self.idle not in ("class", "threshold"):
            raise ConfigError(f"idle must be 'class' or 'threshold', got {self.idle!r}.")
        if self.calibration_runs < 0 or self.calibration_trials < 0 or (
                self.calibration_runs == 0 and self.calibration_trials == 0):
            raise ConfigError("calibration: give a number of runs (>= 1) or of trials (>= 1).")
        if self.window_s <= 0 or self.step_s <= 0:
            raise ConfigError("window and step must be positive (s).")


def task_events(run, classes):
    """The run's events of the task classes ``classes[1:]``, in time order.

    Parameters
    ----------
    run : Run
    classes : sequence of str
        The idle label, then the task classes.

    Returns
    -------
    events : list of (onset_s, duration_s, label)
    """
    return [(o, d, lab) for o, d, lab in sorted(run.events) if lab in classes[1:]]


def calibration_crops(filtered, run, classes, window, crop_step, offset_s, stop_sample,
                      with_idle):
    """Cue-locked training windows (and idle windows) lying entirely before ``stop_sample``.

    Parameters
    ----------
    filtered : ndarray, shape (n_channels, n_samples)
        The run, filtered.
    run : Run
        Its events and sampling rate.
    classes : sequence of str
        The idle label, then the task classes.
    window, crop_step : int
        Crop length and step between crops, samples.
    offset_s : float
        Start of the first crop after the cue (and after the start of an idle period), s.
    stop_sample : int
        Crops end at or before this sample.
    with_idle : bool
        Crop the idle periods (:func:`~bci_app.processing.labels.sample_codes` 0) too.

    Returns
    -------
    X : ndarray, shape (n_crops, n_channels, window)
    y : ndarray of str
    spans : list of (start, stop) sample spans of the crops
    """
    sf = run.sfreq
    offset = int(round(offset_s * sf))
    X, y, spans = [], [], []

    def crops(start, stop, label):
        s = start + offset
        while s + window <= min(stop, stop_sample):
            X.append(filtered[:, s:s + window])
            y.append(label)
            spans.append((s, s + window))
            s += crop_step

    for onset, duration, label in task_events(run, classes):
        crops(int(round(onset * sf)), int(round((onset + duration) * sf)), label)
    if with_idle:
        codes = sample_codes(run, classes)
        idle = np.concatenate([[0], (codes == 0).astype(int), [0]])
        edges = np.flatnonzero(np.diff(idle))
        for start, stop in zip(edges[::2], edges[1::2]):
            crops(int(start), int(stop), classes[0])
    if not X:
        return np.empty((0, filtered.shape[0], window)), np.empty(0, str), []
    return np.stack(X), np.asarray(y), spans


def balance_idle(X, y, spans):
    """Keep at most as many idle crops as the largest task class, evenly spread in time."""
    idle = np.flatnonzero(y == IDLE)
    task_counts = [np.sum(y == c) for c in np.unique(y) if c != IDLE]
    if not task_counts or idle.size <= max(task_counts):
        return X, y, spans
    keep_idle = idle[np.round(np.linspace(0, idle.size - 1, max(task_counts))).astype(int)]
    keep = np.sort(np.concatenate([np.flatnonzero(y != IDLE), keep_idle]))
    return X[keep], y[keep], [spans[i] for i in keep]


def calibration_set(runs, stops, cfg):
    """The training windows of a calibration: cue-locked crops (and idle crops), balanced.

    Each run is filtered causally from its first sample, as the engine does online, and
    cropped like a real calibration (windows inside each trial, from ``crop_offset_s`` after
    the cue, every ``crop_step_s``).

    Parameters
    ----------
    runs : list of Run
    stops : list of int
        Per run, the sample before which data are calibration (0: none, n_samples: all).
    cfg : PseudoOnlineConfig

    Returns
    -------
    X : ndarray, shape (n_windows, n_channels, window)
    y : ndarray of str
    spans : list of (run_index, start, stop)
    filtered : list of ndarray
        Each run, causally filtered.
    """
    classes = (IDLE,) + tuple(cfg.classes)
    sfreq = runs[0].sfreq
    window, _ = window_samples(sfreq, cfg.window_s, cfg.step_s)
    crop_step = max(1, int(round(cfg.crop_step_s * sfreq)))
    filt = CausalFilter(sfreq, cfg.l_freq, cfg.h_freq)
    filtered = [filt.process_whole(r.data) for r in runs]
    X, y, train_spans = [], [], []
    for i, (run, data, stop) in enumerate(zip(runs, filtered, stops)):
        if stop == 0:
            continue
        Xi, yi, spans = calibration_crops(data, run, classes, window, crop_step,
                                          cfg.crop_offset_s, stop, cfg.idle == "class")
        X.append(Xi)
        y.append(yi)
        train_spans += [(i, a, b) for a, b in spans]
    if not X or sum(len(v) for v in y) == 0:
        raise DataError("the calibration data hold no complete window of any task trial; "
                        f"check the event names (task classes: {list(cfg.classes)}) and the "
                        "window length.")
    X, y = np.concatenate(X), np.concatenate(y)
    X, y, train_spans = balance_idle(X, y, train_spans)
    return X, y, train_spans, filtered


@dataclass
class TransferSource:
    """Calibration windows of one source domain (another subject, an earlier session or
    run) for training with transfer (:func:`bci_app.decoding.transfer.fit_pipeline`).

    Attributes
    ----------
    name : str
        The domain's name (e.g. ``PhysionetMI/3/0``, ``sub-P01/ses-02``).
    X : ndarray, shape (n_windows, n_channels, window)
        Filtered windows, channels in the target's order, at the target's rate.
    y : ndarray of str
    """

    name: str
    X: np.ndarray
    y: np.ndarray


def _align_run(run, sfreq, ch_names, name):
    """``run`` restricted to the target's channels (in its order, names compared without
    case) and resampled to its rate; a missing channel is refused."""
    from dataclasses import replace

    index = {c.lower(): i for i, c in enumerate(run.ch_names)}
    missing = [c for c in ch_names if c.lower() not in index]
    if missing:
        raise DataError(
            f"transfer source {name!r} (run {run.name!r}) lacks channel(s) {missing} of the "
            f"target ({len(ch_names)} channels); use a source recorded with those channels, "
            "or a target montage they share.")
    data = run.data[[index[c.lower()] for c in ch_names]]
    if abs(run.sfreq - sfreq) > 1e-6:
        from mne.filter import resample

        data = resample(data, up=float(sfreq), down=float(run.sfreq), npad="auto",
                        verbose=False)
    return replace(run, data=data, sfreq=float(sfreq), ch_names=list(ch_names))


def source_windows(name, runs, cfg, sfreq, ch_names):
    """A :class:`TransferSource` from runs of another subject or session: channels matched
    to the target's (names without case; a missing one is refused, naming it), resampled to
    its rate, then cropped like any calibration (:func:`calibration_set`, all runs whole).

    Raises
    ------
    DataError
        No run, a channel of the target missing, or none of the task classes.
    """
    if not runs:
        raise DataError(f"transfer source {name!r}: no runs.")
    aligned = [_align_run(r, sfreq, ch_names, name) for r in runs]
    try:
        X, y, _, _ = calibration_set(aligned, [r.n_samples for r in aligned], cfg)
    except DataError as err:
        raise DataError(f"transfer source {name!r}: {err}") from None
    missing = sorted(set(cfg.classes) - set(y))
    if missing:
        raise DataError(f"transfer source {name!r} has no window of class(es) {missing} "
                        f"(it has {sorted(set(y))}); choose sources recorded with the same "
                        "task classes.")
    return TransferSource(str(name), X, y)
