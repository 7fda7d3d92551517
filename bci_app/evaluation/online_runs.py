"""Scores of whole runs: an online run from the decisions recorded with it, and any recording
swept with a trained decoder. What the session report and the replay view show.

Both score with :func:`bci_app.evaluation.scoring.score_decisions`, the rule the running
score of an online run and the pseudo-online evaluation use too.
"""

import numpy as np

from ..errors import DataError
from ..online.engine import ONLINE_SMOOTHING, WindowedDecoder
from ..processing.quality import ARTIFACT
from .figures import timeline_png
from .scoring import score_decisions


def read_predictions(path):
    """The decoder's output recorded with a run (BIDS derivatives ``_predictions.tsv``).

    Parameters
    ----------
    path : str | Path

    Returns
    -------
    onsets : ndarray, shape (n,)
        Time of each decision's window's last sample in the recording, s.
    decisions : ndarray of str, shape (n,)
        A window without any probability (every ``p_<class>`` n/a: the decoder did not
        classify it) is ``artifact`` (no decision), whatever its ``decision`` column says.
    proba : ndarray, shape (n, n_classes)
        Smoothed probabilities.
    classes : list of str
        Class of each column of ``proba``.
    """
    import pandas as pd

    try:
        frame = pd.read_csv(path, sep="\t", na_values="n/a", keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read the recorded predictions ({exc}).") from exc
    if frame.empty:
        raise DataError(f"{path}: no decision was recorded during this run.")
    classes = [c[2:] for c in frame.columns if c.startswith("p_")]
    onsets = frame["onset"].to_numpy(dtype=float)
    decisions = frame["decision"].astype(str).to_numpy().astype(object)
    proba = frame[[f"p_{c}" for c in classes]].to_numpy(dtype=float)
    if classes:
        decisions[np.isnan(proba).all(axis=1)] = ARTIFACT
    return onsets, decisions.astype(str), proba, classes


def timeline_frame(times, truth, proba, proba_classes, pipeline, session, run):
    """The rows :func:`~bci_app.evaluation.figures.timeline_png` draws.

    Parameters
    ----------
    times : ndarray, shape (n,)
    truth : ndarray of object, shape (n,)
        Window truth (None: not scored, drawn without a band).
    proba : ndarray, shape (n, n_classes)
    proba_classes : sequence of str
    pipeline, session, run : str
        Written in the columns of the same names.

    Returns
    -------
    frame : pandas.DataFrame
    """
    import pandas as pd

    frame = pd.DataFrame({"pipeline": pipeline, "session": session, "run": run,
                          "time": np.asarray(times, dtype=float),
                          "true": ["" if t is None else str(t) for t in truth]})
    for k, c in enumerate(proba_classes):
        frame[f"p_{c}"] = np.asarray(proba)[:, k]
    return frame


def score_recorded_run(events, sfreq, onsets, decisions, proba, proba_classes, classes,
                       window_s, step_s, name="decoder", run_name="run"):
    """Scores of an online run from its recording and the decisions recorded with it.

    Parameters
    ----------
    events : sequence of (onset_s, duration_s, label)
        The recording's events (s from its first sample), e.g. ``run_from_raw(raw).events``.
    sfreq : float
        The recording's sampling rate, Hz.
    onsets, decisions, proba, proba_classes
        From :func:`read_predictions`.
    classes : sequence of str
        The protocol's classes.
    window_s, step_s : float
        The decoder's window and step, s.
    name, run_name : str
        Decoder and run names (in the timeline and in errors).

    Returns
    -------
    out : dict
        ``score`` (:class:`~bci_app.evaluation.scoring.RunScore`), ``metrics``,
        ``trial_accuracy``, ``n_trials``, ``frame`` (for the timeline), ``model``.
    """
    window = int(round(window_s * sfreq))
    score = score_decisions(events, onsets, decisions, window, sfreq, classes, step_s)
    if score.metrics is None:
        raise DataError(f"{run_name}: no decision fell in a scored period"
                        + (f" ({score.artifacts} scored windows had none: artifact)."
                           if score.artifacts else "."))
    frame = timeline_frame(onsets, score.truth, proba, proba_classes, name, "live", run_name)
    return {"score": score, "metrics": score.metrics, "trial_accuracy": score.trial_accuracy,
            "n_trials": score.trials_done, "frame": frame, "model": name}


def sweep_run(trained, run, smoothing=ONLINE_SMOOTHING, title=None):
    """Decode a whole recording with a trained model, as fast as possible, and score it.

    Parameters
    ----------
    trained : bci_app.decoding.persistence.TrainedModel
    run : bci_app.evaluation.recordings.Run
        The recording (e.g. ``run_from_raw(raw, name=...)``); its channels must include
        the model's, at the model's sampling rate.
    smoothing : int
        Windows averaged by the decision rule (as online).
    title : str | None
        Of the timeline (default: the run's name).

    Returns
    -------
    result : dict
        ``n_windows``; ``metrics``, ``trial_accuracy`` and ``n_trials`` (None, NaN and 0
        when the recording has no task event of the model's classes); ``score``;
        ``frame`` and ``timeline_png`` (base64).
    """
    missing = [c for c in trained.ch_names if c not in run.ch_names]
    if missing:
        raise DataError(f"{run.name}: channels {missing} of the decoder are missing from the "
                        "recording.")
    if abs(run.sfreq - trained.sfreq) > 1e-3:
        raise DataError(f"{run.name}: {run.sfreq:g} Hz, the decoder needs "
                        f"{trained.sfreq:g} Hz.")
    idx = [run.ch_names.index(c) for c in trained.ch_names]
    decoder = WindowedDecoder.from_model(trained, smoothing=smoothing)
    pred = decoder.sweep(run.data[idx])
    score = score_decisions(run.events, pred.times, pred.decisions, decoder.window,
                            run.sfreq, trained.classes, decoder.step_s)
    has_task = any(t not in (None, "idle") for t in score.truth)
    frame = timeline_frame(pred.times, score.truth, pred.smoothed, pred.classes,
                           trained.name, "replay", run.name)
    return {"n_windows": len(pred), "score": score,
            "metrics": score.metrics if has_task else None,
            "trial_accuracy": score.trial_accuracy if has_task else float("nan"),
            "n_trials": score.trials_done if has_task else 0, "frame": frame,
            "timeline_png": timeline_png(frame, title or f"{run.name}: pseudo-online sweep")}
