"""Pseudo-online evaluation: calibrate on early data, then sweep later runs window by window.

The evaluation is time-ordered, never shuffled: a model is fitted on calibration data taken
like a real calibration (cue-locked crops of the first runs, or of the first trials), then
the :class:`~bci_app.online.engine.WindowedDecoder` sweeps the later data with overlapping
windows, exactly as it would run live. Every window is labelled from the recording's events
with an explicit idle class for everything that is not task time; the decisions are scored
with nMCC, the information-based ITR, accuracy, confusion matrix and detection latency, each
beside its chance level (:mod:`bci_app.evaluation.scoring`). The same split is
also scored offline on one cue-locked epoch per trial, so the offline/pseudo-online gap shows.

The calibration windows are those of :mod:`bci_app.processing.calibration`, the ones a
decoder is trained on for online use. Windows are labelled by
:mod:`bci_app.processing.labels` and scored by :mod:`bci_app.evaluation.scoring`, the one
scoring the live running score, the session report and the sweep of a recording use too
(Carrara & Papadopoulo, 2024: a window takes the label of the event it lies in if it ends
before the next event starts; otherwise the majority, by samples, of the events it overlaps,
a tie going to the later event).
"""

import numpy as np
import pandas as pd
from sklearn.base import clone

from .._logging import logger
from ..decoding.transfer import reset_adaptation
from ..errors import DataError
from ..online.engine import (
    WindowedDecoder,
    check_idle_threshold,
    class_probabilities,
    fit_decoder_model,
)
from ..processing.calibration import calibration_set, task_events
from ..processing.labels import IDLE, is_idle_name
from ..processing.runs import acquisition_order
from ..processing.windows import window_samples
from .recordings import dataset_sessions
from .scoring import offline_columns, offline_trials, score_decisions


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
        events = task_events(run, (IDLE,) + tuple(cfg.classes))
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


def _check_calibration_classes(runs, stops, y, cfg, where):
    """Every task class of the test part must be in the calibration windows ``y``."""
    classes = (IDLE,) + tuple(cfg.classes)
    tested = {}  # class -> test runs holding it
    for run, stop in zip(runs, stops):
        for onset, _, label in task_events(run, classes):
            if onset * run.sfreq >= stop and run.name not in tested.get(label, []):
                tested.setdefault(label, []).append(run.name)
    missing = [c for c in cfg.classes if c in tested and c not in set(y)]
    if not missing:
        return
    hint = "more --calibration-runs"
    for k in range(1, len(runs)):  # the fewest first runs that hold every tested class
        if set(tested) <= {e[2] for r in runs[:k] for e in task_events(r, classes)}:
            hint = f"--calibration-runs {k} (the first runs that hold every class)"
            break
    raise DataError(
        f"{where}: the calibration (run(s) {[r.name for r, s in zip(runs, stops) if s]} of "
        f"{[r.name for r in runs]}, in acquisition order) has no window of class(es) "
        f"{missing}, which the test run(s) contain ("
        + "; ".join(f"{c}: runs {tested[c]}" for c in missing)
        + f"): the model could never decide them. Give {hint}, or more "
        "--calibration-trials, or a --paradigm without these classes.")


def _trial_counts(runs, stops, cfg):
    """Task trials per class in the calibration part, e.g. ``"left_hand 7, right_hand 8"``."""
    counts = {c: 0 for c in cfg.classes}
    for run, stop in zip(runs, stops):
        for onset, duration, label in task_events(run, (IDLE,) + tuple(cfg.classes)):
            if (onset + duration) * run.sfreq <= stop:
                counts[label] += 1
    return ", ".join(f"{c} {n}" for c, n in counts.items())


def _offline_epochs(model, data, run, events, cfg, window, cued=()):
    """Offline score of the same split: one cue-locked epoch per test trial
    (:func:`~bci_app.evaluation.scoring.offline_trials`: the task classes, and a cued rest
    class as idle), decided among :func:`~bci_app.evaluation.scoring.offline_columns`; an
    epoch the online engine would refuse (bad signal:
    :func:`~bci_app.processing.quality.window_faults`) is left out, as its window would be.
    ``events`` are ``(onset_s, duration_s, truth)``. Returns the true and predicted
    classes."""
    from ..processing.quality import window_faults

    sfreq = run.sfreq
    off = int(round(cfg.crop_offset_s * sfreq))
    starts = [int(round(o * sfreq)) + off for o, _, _ in events]
    ok = [s + window <= run.n_samples for s in starts]
    if any(ok):
        inside = [s for s, k in zip(starts, ok) if k]
        good, _ = window_faults(np.stack([run.data[:, s:s + window] for s in inside]),
                                np.stack([data[:, s:s + window] for s in inside]), sfreq,
                                run.ch_names)
        good = iter(good)
        ok = [k and bool(next(good)) for k in ok]
    if not any(ok):
        return [], []
    epochs = np.stack([data[:, s:s + window] for s, k in zip(starts, ok) if k])
    reset_adaptation(model)  # the epochs in time order, from the calibration reference
    proba = class_probabilities(model, epochs)
    columns, labels = offline_columns(model.classes_, cfg.classes, cued)
    pred = np.asarray(labels, dtype=object)[proba[:, columns].argmax(1)]
    return [e[2] for e, k in zip(events, ok) if k], list(pred)


def _test_run(decoder, model, run, data, stop, train_end, cfg, cued=()):
    """Sweep the test part of one run and score it (trials of ``cfg.classes`` and of a
    cued rest class, see :func:`evaluate_session`).

    Returns
    -------
    frame : pandas.DataFrame
        One row per window (without the pipeline/subject/session columns).
    score : RunScore
    offline : (list, list)
        True and predicted classes of the offline epochs.
    """
    sfreq, window = run.sfreq, decoder.window
    pred = decoder.sweep(run.data, start_sample=stop)
    first = pred.last - window + 1
    if first.size and first.min() < train_end:  # guard: test never sees training data
        raise DataError(f"run {run.name}: a test window overlaps calibration data.")
    score = score_decisions(run.events, pred.times, pred.decisions, window, sfreq,
                            tuple(cfg.classes) + _cued_rest(cued, model), decoder.step_s)
    frame = pd.DataFrame({
        "run": run.name, "time": pred.times, "first_sample": first, "last_sample": pred.last,
        "true": score.truth, "label": pred.labels, "decision": pred.decisions,
        "scored": score.scored,
    })
    for k, c in enumerate(pred.classes):
        frame[f"p_{c}"] = pred.smoothed[:, k]
    cued = _cued_rest(cued, model)
    events = [e for e in offline_trials(run.events, cfg.classes, cued) if e[0] * sfreq >= stop]
    if not events:
        return frame, score, ([], [])
    return frame, score, _offline_epochs(model, data, run, events, cfg, window, cued)


def _cued_rest(cued, model):
    """The idle-named classes of ``cued`` (a cued rest), when the model has an idle class
    to decide them with (else none: its rest trials could never be right)."""
    if not any(is_idle_name(c) for c in model.classes_):
        return ()
    return tuple(str(c) for c in cued if is_idle_name(c) and str(c) != IDLE)


def _pipeline_metrics(scores, offline, cfg, step_s, window_s, n_offline_classes):
    """Pooled scores of one pipeline over the test runs of a session, with their chance
    levels: :func:`~bci_app.evaluation.scoring.run_metrics` of the runs' scores (windows,
    trials, detection latency from the runs' task trials), and
    the offline epoch score next to its chance levels on the same trials
    (:func:`~bci_app.evaluation.scoring.offline_scores`)."""
    from .scoring import offline_scores, run_metrics

    m = run_metrics(scores, cfg.classes, step_s, window_s)
    if m is None:
        raise DataError("no test window fell in a scored period (task or idle time).")
    off_true, off_pred = offline
    m["n_windows"] = int(sum(s.windows for s in scores))
    m.update(offline_scores(off_true, off_pred, n_offline_classes))
    return m


def evaluate_session(runs, pipelines, cfg, subject="1", session="0", sources=None,
                     test_from=None, cued=()):
    """Pseudo-online evaluation of pipelines on one session's runs.

    Parameters
    ----------
    runs : list of Run
        Evaluated in acquisition order (:func:`~bci_app.processing.runs.acquisition_order`):
        the first ones calibrate.
    pipelines : dict of name -> sklearn pipeline (unfitted)
    cfg : PseudoOnlineConfig
    subject, session : str
        Written into the outputs.
    sources : list of TransferSource | None
        Calibration windows of other subjects or sessions, pooled with this session's
        calibration to fit each model (with transfer: each its own domain, see
        :func:`~bci_app.online.engine.fit_decoder_model`); built with this session's channels,
        rate and settings (:func:`~bci_app.processing.calibration.source_windows`).
    test_from : int | None
        Test only the runs from this index on (in acquisition order), e.g. a fixed test part
        for learning curves whatever the calibration; None: every run after the calibration.
    cued : sequence of str
        The classes the runs' protocols cue, rest included (e.g. ``("right_hand",
        "rest")``). A cued rest class (an idle name) is scored as the idle class of a model
        that has one: offline, its trials are epochs expecting idle beside the task trials
        (:func:`~bci_app.evaluation.scoring.offline_trials`); pseudo-online, its trials
        count in the trial accuracy. Empty: the task classes ``cfg.classes`` only.

    Returns
    -------
    predictions : pandas.DataFrame
        One row per test window and pipeline.
    metrics : list of dict
        One per pipeline: pseudo-online metrics and the offline epoch score of the same split.
    calibration : pandas.DataFrame
        The calibration windows: run index (in acquisition order), first and last
        (exclusive) sample, label.

    Raises
    ------
    DataError
        The calibration lacks a task class of the test runs, or leaves nothing to test.
    ConfigError
        With idle decided by the threshold, a threshold that can never decide idle.
    """
    cfg.check()
    if cfg.idle == "threshold":
        check_idle_threshold(cfg.threshold, len(cfg.classes))
    if not runs:
        raise DataError(f"subject {subject} session {session}: no runs.")
    ordered = acquisition_order(runs)
    if [r.name for r in ordered] != [r.name for r in runs]:
        logger.info("subject %s session %s: runs in acquisition order %s (given as %s)",
                    subject, session, [r.name for r in ordered], [r.name for r in runs])
    runs = ordered
    sfreq, ch_names = runs[0].sfreq, runs[0].ch_names
    for run in runs:
        if run.sfreq != sfreq or run.ch_names != ch_names:
            raise DataError(f"subject {subject}: run {run.name} differs from the first run "
                            "in sampling rate or channels.")
    window, step = window_samples(sfreq, cfg.window_s, cfg.step_s)
    stops = _calibration_stops(runs, cfg)
    if test_from is not None and (test_from >= len(runs) or any(stops[test_from:])):
        raise DataError(f"subject {subject} session {session}: the calibration reaches into "
                        f"the test runs (from run {test_from + 1} of {len(runs)}); calibrate "
                        "on fewer trials.")
    X, y, train_spans, filtered = calibration_set(runs, stops, cfg)
    _check_calibration_classes(runs, stops, y, cfg, f"subject {subject} session {session}")
    logger.info("subject %s session %s: %d calibration windows %s", subject, session, len(y),
                dict(zip(*np.unique(y, return_counts=True))))
    rows, metrics = [], []
    for name, pipeline in pipelines.items():
        model = fit_decoder_model(clone(pipeline), X, y, sfreq, ch_names, sources=sources)
        decoder = WindowedDecoder(model, sfreq, ch_names, cfg.window_s, cfg.step_s,
                                  cfg.l_freq, cfg.h_freq, smoothing=cfg.smoothing,
                                  threshold=cfg.threshold,
                                  idle_by_threshold=cfg.idle == "threshold")
        scores, off_true, off_pred = [], [], []
        for i, (run, data, stop) in enumerate(zip(runs, filtered, stops)):
            if stop >= run.n_samples or (test_from is not None and i < test_from):
                continue
            train_end = max((b for ti, _, b in train_spans if ti == i), default=0)
            frame, score, (o_true, o_pred) = _test_run(
                decoder, model, run, data, stop, train_end, cfg, cued)
            frame.insert(0, "session", session)
            frame.insert(0, "subject", subject)
            frame.insert(0, "pipeline", name)
            rows.append(frame)
            scores.append(score)
            off_true += o_true
            off_pred += o_pred
        if not scores:
            raise DataError(f"subject {subject} session {session}: no test data after the "
                            "calibration part.")
        m = _pipeline_metrics(scores, (off_true, off_pred), cfg, step / sfreq,
                              window / sfreq,
                              len(offline_columns(model.classes_, cfg.classes,
                                                  _cued_rest(cued, model))[0]))
        m.update({"pipeline": name, "subject": subject, "session": session,
                  "n_calibration_windows": int(len(y)), "window_s": cfg.window_s,
                  "step_s": cfg.step_s,
                  "n_calibration_trials": _trial_counts(runs, stops, cfg),
                  "n_source_windows": int(sum(len(src.y) for src in sources or ())),
                  "sources": ", ".join(src.name for src in sources or ())})
        metrics.append(m)
    calibration = pd.DataFrame(train_spans, columns=["run_index", "start", "stop"])
    calibration["label"] = y
    return pd.concat(rows, ignore_index=True), metrics, calibration


def evaluate_subject(sessions, pipelines, cfg, subject, sources_for=None):
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
    sources_for : callable | None
        ``sources_for(runs)`` -> the transfer sources of a session (matched to its runs),
        e.g. the other subjects (:func:`bci_app.evaluation.transfer.subject_sources`).

    Returns
    -------
    results : list of (session, predictions, metrics)
        Per session, in order: the outputs of :func:`evaluate_session`.
    """
    out = []
    for session, runs in sessions:
        sources = sources_for(runs) if sources_for is not None else None
        pred, metrics, _ = evaluate_session(runs, pipelines, cfg, str(subject), session,
                                            sources=sources)
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

    ``metrics.csv`` has one row per pipeline, subject and session: each score with its
    chance levels (``majority_*``: always deciding the most frequent truth; ``shuffled_*``:
    the decisions permuted within each run, see :mod:`bci_app.evaluation.scoring`), and the
    confusion matrix with its ``classes``.

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
        flat["classes"] = metrics["classes"].map(str)
        flat["confusion"] = metrics["confusion"].map(str)
        first = [c for c in ("dataset", "pipeline", "subject", "session") if c in flat]
        flat = flat[first + [c for c in flat.columns if c not in first]]
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
