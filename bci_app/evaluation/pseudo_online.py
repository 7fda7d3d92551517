"""Pseudo-online evaluation: calibrate on early data, then sweep later runs window by window.

The evaluation is time-ordered, never shuffled: a model is fitted on calibration data taken
like a real calibration (cue-locked crops of the first runs, or of the first trials), then
the :class:`~bci_app.online.engine.WindowedDecoder` sweeps the later data with overlapping
windows, exactly as it would run live. Every window is labelled from the recording's events
with an explicit idle class for everything that is not task time; the decisions are scored
with nMCC, Wolpaw ITR, accuracy, confusion matrix and detection latency. The same split is
also scored offline on one cue-locked epoch per trial, so the offline/pseudo-online gap shows.

Window labelling (Carrara & Papadopoulo, 2024): a window takes the label of the event it lies
in if it ends before the next event starts; otherwise the majority, by samples, of the events
it overlaps, a tie going to the later event.
"""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import clone

from .._logging import logger
from ..errors import ConfigError, DataError
from ..online.engine import IDLE, WindowedDecoder, class_probabilities, fit_decoder_model
from ..processing.filters import CausalFilter
from ..processing.windows import window_samples
from .metrics import decision_metrics, detection_latencies, nmcc

#: Annotation names read as idle (not task time).
IDLE_NAMES = ("rest", "t0", "idle", "baseline")


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
        (their label is one of :data:`IDLE_NAMES`) but are not needed: idle is everything
        outside task events.
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


def sample_codes(run, classes):
    """Per-sample class code: index in ``classes`` for task time, 0 for idle, -1 other tasks.

    ``classes[0]`` must be the idle label.
    """
    codes = np.zeros(run.n_samples, dtype=int)
    lookup = {c: i for i, c in enumerate(classes)}
    for onset, duration, label in sorted(run.events):
        if label.lower() in IDLE_NAMES:
            continue
        start = max(0, int(round(onset * run.sfreq)))
        stop = min(run.n_samples, int(round((onset + duration) * run.sfreq)))
        codes[start:stop] = lookup.get(label, -1)
    return codes


def window_labels(codes, last, window, classes):
    """Label of each window by majority of samples, ties to the later event.

    Parameters
    ----------
    codes : ndarray of int, shape (n_samples,)
        From :func:`sample_codes` (-1: a task not evaluated).
    last : ndarray of int, shape (n_windows,)
        Index of each window's last sample.
    window : int
        Window length in samples.
    classes : sequence of str
        ``classes[0]`` is idle.

    Returns
    -------
    labels : ndarray of object, shape (n_windows,)
        A class, or None for windows that belong to a task that is not evaluated.
    """
    values = np.arange(-1, len(classes))
    onehot = (codes[None, :] == values[:, None]).astype(np.int32)
    csum = np.concatenate([np.zeros((len(values), 1), np.int32), np.cumsum(onehot, 1)], 1)
    counts = (csum[:, last + 1] - csum[:, last + 1 - window]).T  # (n_windows, n_values)
    best = counts.max(axis=1, keepdims=True)
    tied = (counts == best).sum(axis=1) > 1
    choice = counts.argmax(axis=1)
    for i in np.flatnonzero(tied):
        seg = codes[last[i] + 1 - window:last[i] + 1]
        candidates = set(values[counts[i] == best[i, 0]])
        for v in seg[::-1]:  # the tied event that comes later wins
            if v in candidates:
                choice[i] = int(np.flatnonzero(values == v)[0])
                break
    out = np.empty(len(last), dtype=object)
    for k, v in enumerate(values):
        out[choice == k] = None if v < 0 else classes[v]
    return out


def _task_events(run, classes):
    return [(o, d, lab) for o, d, lab in sorted(run.events) if lab in classes[1:]]


def calibration_crops(filtered, run, classes, window, crop_step, offset_s, stop_sample,
                      with_idle):
    """Cue-locked training windows (and idle windows) lying entirely before ``stop_sample``.

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

    for onset, duration, label in _task_events(run, classes):
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


def _balance_idle(X, y, spans):
    """Keep at most as many idle crops as the largest task class, evenly spread in time."""
    idle = np.flatnonzero(y == IDLE)
    task_counts = [np.sum(y == c) for c in np.unique(y) if c != IDLE]
    if not task_counts or idle.size <= max(task_counts):
        return X, y, spans
    keep_idle = idle[np.round(np.linspace(0, idle.size - 1, max(task_counts))).astype(int)]
    keep = np.sort(np.concatenate([np.flatnonzero(y != IDLE), keep_idle]))
    return X[keep], y[keep], [spans[i] for i in keep]


@dataclass
class PseudoOnlineConfig:
    """Parameters of a pseudo-online evaluation.

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
    X, y, train_spans = _balance_idle(X, y, train_spans)
    return X, y, train_spans, filtered


def _calibration_stops(runs, cfg):
    """Sample index, per run, before which data are calibration (0: none, n: all)."""
    if cfg.calibration_runs:
        if cfg.calibration_runs >= len(runs):
            raise DataError(f"{len(runs)} run(s) in the session but {cfg.calibration_runs} "
                            "are used for calibration: nothing is left to test. Use fewer "
                            "calibration runs or --calibration-trials.")
        return [r.n_samples if i < cfg.calibration_runs else 0 for i, r in enumerate(runs)]
    stops, remaining = [], cfg.calibration_trials
    for run in runs:
        events = _task_events(run, (IDLE,) + tuple(cfg.classes))
        if remaining <= 0:
            stops.append(0)
        elif remaining >= len(events):
            stops.append(run.n_samples)
            remaining -= len(events)
        else:
            onset, duration, _ = events[remaining - 1]
            stops.append(int(round((onset + duration) * run.sfreq)))
            remaining = 0
    if remaining > 0 or all(s == r.n_samples for s, r in zip(stops, runs)):
        raise DataError(f"the session has fewer task trials than --calibration-trials "
                        f"{cfg.calibration_trials} plus some to test.")
    return stops


def evaluate_session(runs, pipelines, cfg, subject="1", session="0"):
    """Pseudo-online evaluation of pipelines on one session's runs.

    Parameters
    ----------
    runs : list of Run
        In time order.
    pipelines : dict of name -> sklearn pipeline (unfitted)
    cfg : PseudoOnlineConfig
    subject, session : str
        Written into the outputs.

    Returns
    -------
    predictions : pandas.DataFrame
        One row per test window and pipeline.
    metrics : list of dict
        One per pipeline: pseudo-online metrics and the offline epoch score of the same split.
    calibration : pandas.DataFrame
        The calibration windows: run index, first and last (exclusive) sample, label.
    """
    cfg.check()
    if not runs:
        raise DataError(f"subject {subject} session {session}: no runs.")
    sfreq, ch_names = runs[0].sfreq, runs[0].ch_names
    for run in runs:
        if run.sfreq != sfreq or run.ch_names != ch_names:
            raise DataError(f"subject {subject}: run {run.name} differs from the first run "
                            "in sampling rate or channels.")
    classes = (IDLE,) + tuple(cfg.classes)
    window, step = window_samples(sfreq, cfg.window_s, cfg.step_s)
    stops = _calibration_stops(runs, cfg)
    X, y, train_spans, filtered = calibration_set(runs, stops, cfg)
    logger.info("subject %s session %s: %d calibration windows %s", subject, session, len(y),
                dict(zip(*np.unique(y, return_counts=True))))
    rows, metrics = [], []
    for name, pipeline in pipelines.items():
        model = fit_decoder_model(clone(pipeline), X, y, sfreq, ch_names)
        decoder = WindowedDecoder(model, sfreq, ch_names, cfg.window_s, cfg.step_s,
                                  cfg.l_freq, cfg.h_freq, smoothing=cfg.smoothing,
                                  threshold=cfg.threshold)
        all_true, all_dec, lat, off_true, off_pred = [], [], [], [], []
        for i, (run, data, stop) in enumerate(zip(runs, filtered, stops)):
            if stop >= run.n_samples:
                continue
            pred = decoder.sweep(run.data, start_sample=stop)
            first = pred.last - window + 1
            train_end = max((b for ti, _, b in train_spans if ti == i), default=0)
            if first.size and first.min() < train_end:  # guard: test never sees training data
                raise DataError(f"run {run.name}: a test window overlaps calibration data.")
            labels = window_labels(sample_codes(run, classes), pred.last, window, classes)
            keep = np.array([lab is not None for lab in labels], dtype=bool)
            frame = pd.DataFrame({
                "pipeline": name, "subject": subject, "session": session, "run": run.name,
                "time": pred.times, "first_sample": first, "last_sample": pred.last,
                "true": labels, "label": pred.labels,
                "decision": pred.decisions, "scored": keep,
            })
            for k, c in enumerate(pred.classes):
                frame[f"p_{c}"] = pred.smoothed[:, k]
            rows.append(frame)
            all_true.append(labels[keep].astype(str))
            all_dec.append(pred.decisions[keep])
            events = [e for e in _task_events(run, classes) if e[0] * sfreq >= stop]
            if events:
                onsets = np.array([e[0] for e in events])
                lat.append(detection_latencies(pred.times, None, pred.decisions, onsets,
                                               [e[2] for e in events]))
                # Offline: one cue-locked epoch per test trial, task classes only.
                off = int(round(cfg.crop_offset_s * sfreq))
                starts = [int(round(o * sfreq)) + off for o, _, _ in events]
                ok = [s + window <= run.n_samples for s in starts]
                epochs = np.stack([data[:, s:s + window] for s, k in zip(starts, ok) if k])
                proba = class_probabilities(model, epochs)
                task_cols = [k for k, c in enumerate(model.classes_) if str(c) in cfg.classes]
                sub = proba[:, task_cols]
                off_pred += list(np.asarray(model.classes_)[task_cols][sub.argmax(1)])
                off_true += [e[2] for e, k in zip(events, ok) if k]
        if not all_true:
            raise DataError(f"subject {subject} session {session}: no test data after the "
                            "calibration part.")
        y_true, y_dec = np.concatenate(all_true), np.concatenate(all_dec)
        m = decision_metrics(y_true, y_dec, classes=list(classes),
                             decisions_per_min=60.0 / (step / sfreq))
        latencies = np.concatenate(lat) if lat else np.array([np.nan])
        m.update({
            "pipeline": name, "subject": subject, "session": session,
            "n_windows": int(len(y_true)), "n_calibration_windows": int(len(y)),
            "window_s": cfg.window_s, "step_s": cfg.step_s,
            "latency_median_s": float(np.nanmedian(latencies)) if np.isfinite(latencies).any()
            else float("nan"),
            "detected_fraction": float(np.mean(np.isfinite(latencies))),
            "offline_accuracy": float(np.mean(np.asarray(off_true) == np.asarray(off_pred)))
            if off_true else float("nan"),
            "offline_nmcc": float(nmcc(off_true, off_pred)) if off_true else float("nan"),
            # Conservative ITR: one independent decision per window length (no overlap).
            "itr_bits_per_min_nonoverlap": m["itr_bits"] * 60.0 / cfg.window_s,
        })
        metrics.append(m)
    calibration = pd.DataFrame(train_spans, columns=["run_index", "start", "stop"])
    calibration["label"] = y
    return pd.concat(rows, ignore_index=True), metrics, calibration


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


def evaluate_subject(sessions, pipelines, cfg, subject):
    """Pseudo-online evaluation of one subject's sessions.

    The unit of work of :func:`run_pseudo_online`, also run per (subject, pipeline) as one
    task on a cluster by :mod:`bci_app.evaluation.distributed`.

    Parameters
    ----------
    sessions : iterable of (session, list of Run)
        E.g. :func:`dataset_sessions` or ``[("0", file_session(path))]``.
    pipelines : dict of name -> sklearn pipeline (unfitted)
    cfg : PseudoOnlineConfig
    subject : str

    Returns
    -------
    results : list of (session, predictions, metrics)
        Per session, in order: the outputs of :func:`evaluate_session`.
    """
    out = []
    for session, runs in sessions:
        pred, metrics, _ = evaluate_session(runs, pipelines, cfg, str(subject), session)
        out.append((session, pred, metrics))
    return out


def plot_subject_timeline(predictions, subject, code, out_dir):
    """Write ``timeline_S<subject>.png`` of one subject's predictions into ``out_dir``."""
    from pathlib import Path

    from .report import plot_timeline

    sub = pd.concat([p for p in predictions if (p["subject"] == str(subject)).any()])
    plot_timeline(sub, Path(out_dir) / f"timeline_S{subject}.png",
                  title=f"{code} subject {subject}")


def finish_pseudo_online(predictions, metrics, code, out_dir=None):
    """Concatenate the per-session outputs and write ``predictions.csv`` and ``metrics.csv``.

    Parameters
    ----------
    predictions : list of pandas.DataFrame
    metrics : list of dict
    code : str
        Dataset code (or recording name), written in the ``dataset`` column of the metrics.
    out_dir : str | Path | None

    Returns
    -------
    predictions : pandas.DataFrame
    metrics : pandas.DataFrame
    """
    from pathlib import Path

    predictions = pd.concat(predictions, ignore_index=True)
    metrics = pd.DataFrame(metrics)
    metrics["dataset"] = code
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        predictions.to_csv(out_dir / "predictions.csv", index=False)
        flat = metrics.drop(columns=["confusion", "classes"]).copy()
        flat["confusion"] = metrics["confusion"].map(str)
        flat.to_csv(out_dir / "metrics.csv", index=False)
    return predictions, metrics


def run_pseudo_online(specs, dataset, cfg, out_dir=None, progress=True):
    """Pseudo-online evaluation of models over the subjects of a dataset.

    Parameters
    ----------
    specs : list of ModelSpec
    dataset : moabb.datasets.base.BaseDataset | list of Run
        Subjects already selected (``dataset.subject_list``); local data only. Or the runs
        of one recording file (:func:`file_session`).
    cfg : PseudoOnlineConfig
    out_dir : str | Path | None
        Where ``predictions.csv``, ``metrics.csv``, ``scores.txt`` and one
        ``timeline_S<subject>.png`` per subject are written.
    progress : bool
        Show a progress bar.

    Returns
    -------
    predictions : pandas.DataFrame
    metrics : pandas.DataFrame

    See Also
    --------
    bci_app.evaluation.distributed.pseudo_online_distributed : the same on a Dask cluster.
    """
    from tqdm import tqdm

    cfg.check()
    pipelines = {s.name: s.pipeline for s in specs}
    all_pred, all_metrics = [], []
    bar = tqdm(desc="pseudo-online", unit="subject", disable=not progress)
    if isinstance(dataset, list):  # runs of a single recording file
        sessions = {"file": [("0", dataset)]}
        code = dataset[0].name
    else:
        sessions = {s: None for s in dataset.subject_list}
        code = dataset.code
    bar.total = len(sessions)
    for subject, given in sessions.items():
        for _, pred, metrics in evaluate_subject(given or dataset_sessions(dataset, subject),
                                                 pipelines, cfg, subject):
            all_pred.append(pred)
            all_metrics += metrics
        bar.update(1)
        if out_dir is not None:
            plot_subject_timeline(all_pred, subject, code, out_dir)
    bar.close()
    return finish_pseudo_online(all_pred, all_metrics, code, out_dir)
