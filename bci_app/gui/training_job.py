"""Training from the session's calibration runs: cross-validation, r² map, final models.

No Qt here: :func:`run_training` is run on a worker thread by the controller and reports
progress through a callback; a cancel event is checked between steps (a fit in progress
finishes first). Everything is composed from the evaluation and training packages:

* scores: :func:`bci_app.evaluation.pseudo_online.evaluate_session`, leave-one-run-out over
  the calibration runs (with a single run: first half of the trials to calibrate, second half
  to test), giving the offline (one epoch per trial) and pseudo-online (sliding windows,
  idle included, nMCC) scores of the same split side by side;
* final decoders: :func:`bci_app.online.training.train_decoder` on all the runs, saved with
  the session as :class:`~bci_app.decoding.persistence.TrainedModel` files.
"""

import threading
from dataclasses import dataclass, field

import numpy as np

from .._logging import logger
from ..errors import BCIAppError, DataError


class Cancelled(BCIAppError):
    """The user cancelled the training."""


@dataclass
class TrainingRequest:
    """What to train on and with.

    Attributes
    ----------
    runs : list of Run
        The calibration runs (bad channels already removed).
    specs : list of ModelSpec
        Pipelines from ``models/``.
    classes : tuple of str
        Task classes (the protocol's).
    window_s, step_s : float
        Decoder window and online step, s.
    l_freq, h_freq : float
        Band-pass, Hz.
    """

    runs: list
    specs: list
    classes: tuple
    window_s: float = 2.0
    step_s: float = 0.1
    l_freq: float = 8.0
    h_freq: float = 30.0


@dataclass
class TrainingResult:
    """Scores, r² map and the trained models (``TrainedModel``, not yet saved)."""

    scores: list = field(default_factory=list)
    r2: dict | None = None
    models: dict = field(default_factory=dict)
    reports: dict = field(default_factory=dict)


def r2_map(runs, classes, fmin=1.0, fmax=40.0, offset_s=0.5):
    """Signed r² between two classes, per channel and frequency (log band power).

    For every imagery period of ``classes[0]`` and ``classes[1]`` the Welch spectrum (2 Hz
    bins) of each channel is taken from ``offset_s`` after its onset to its end; the squared
    point-biserial correlation of the log power with the class is given the sign of the
    difference (positive: more power in ``classes[1]``).

    Returns
    -------
    r2 : dict
        ``values`` (n_channels, n_freqs), ``freqs``, ``ch_names``, ``classes`` (the two
        compared), ``n_trials`` per class.
    """
    from scipy.signal import welch

    if len(classes) < 2:
        raise DataError("r² map: two classes are needed.")
    a, b = classes[0], classes[1]
    feats, ys = [], []
    for run in runs:
        sf = run.sfreq
        for onset, duration, label in run.events:
            if label not in (a, b):
                continue
            start = int(round((onset + offset_s) * sf))
            stop = int(round((onset + duration) * sf))
            if stop - start < int(sf * 0.5) or stop > run.n_samples:
                continue
            seg = run.data[:, start:stop]
            freqs, psd = welch(seg, fs=sf, nperseg=min(int(sf // 2), seg.shape[1]))
            keep = (freqs >= fmin) & (freqs <= fmax)
            feats.append(np.log(psd[:, keep] + 1e-30))
            ys.append(1.0 if label == b else 0.0)
    ys = np.asarray(ys)
    if len(ys) < 4 or ys.min() == ys.max():
        raise DataError(f"r² map: not enough imagery trials of {a} and {b} "
                        f"({int((ys == 0).sum())} and {int((ys == 1).sum())}).")
    shapes = {f.shape for f in feats}
    if len(shapes) > 1:  # trials of different lengths: keep the common frequencies
        n = min(f.shape[1] for f in feats)
        feats = [f[:, :n] for f in feats]
        freqs = freqs[keep][:n]
    else:
        freqs = freqs[keep]
    X = np.stack(feats)  # (trials, channels, freqs)
    yc = ys - ys.mean()
    Xc = X - X.mean(axis=0)
    r = (Xc * yc[:, None, None]).sum(0) / np.sqrt(
        (Xc ** 2).sum(0) * (yc ** 2).sum() + 1e-30)
    return {"values": np.sign(r) * r ** 2, "freqs": freqs, "ch_names": list(runs[0].ch_names),
            "classes": (a, b), "n_trials": {a: int((ys == 0).sum()), b: int((ys == 1).sum())}}


def _folds(runs, classes):
    """(runs in order, PseudoOnlineConfig kwargs) for each validation fold."""
    if len(runs) >= 2:
        return [([r for j, r in enumerate(runs) if j != k] + [runs[k]],
                 {"calibration_runs": len(runs) - 1}, f"test run {k + 1}")
                for k in range(len(runs))]
    n_task = sum(1 for _, _, lab in runs[0].events if lab in classes)
    if n_task < 4:
        raise DataError(f"the calibration run holds {n_task} trial(s) of {list(classes)}; "
                        "record at least 4 (better: 20 per class) before training.")
    return [(runs, {"calibration_runs": 0, "calibration_trials": n_task // 2},
             "first half / second half of the trials")]


def run_training(request, progress=None, cancel=None):
    """Cross-validate the pipelines, compute the r² map and train the final decoders.

    Parameters
    ----------
    request : TrainingRequest
    progress : callable | None
        ``progress(done, total, text)``.
    cancel : threading.Event | None
        Set it to stop at the next step (raises :class:`Cancelled`).

    Returns
    -------
    result : TrainingResult
    """
    from ..decoding.persistence import TrainedModel
    from ..evaluation.pseudo_online import PseudoOnlineConfig, evaluate_session
    from ..online.engine import DEFAULT_SMOOTHING
    from ..online.training import train_decoder

    cancel = cancel or threading.Event()
    progress = progress or (lambda *a: None)
    runs, classes = request.runs, tuple(request.classes)
    if not runs:
        raise DataError("No calibration run in this session yet: record one in the "
                        "Calibration step first.")
    if not request.specs:
        raise DataError("No pipeline selected: tick at least one in the list.")
    folds = _folds(runs, classes)
    total = len(request.specs) * (len(folds) + 1) + 1
    done = 0
    result = TrainingResult()

    def step(text):
        nonlocal done
        if cancel.is_set():
            raise Cancelled("Training cancelled.")
        progress(done, total, text)
        done += 1

    step("r² map")
    try:
        result.r2 = r2_map(runs, classes)
    except DataError as exc:
        logger.warning("training: %s", exc)
    base = dict(classes=classes, window_s=request.window_s, step_s=request.step_s,
                l_freq=request.l_freq, h_freq=request.h_freq, smoothing=DEFAULT_SMOOTHING)
    for spec in request.specs:
        per_fold = []
        for fold_runs, split, fold_name in folds:
            step(f"{spec.name}: cross-validation ({fold_name})")
            cfg = PseudoOnlineConfig(**base, **split)
            _, metrics, _ = evaluate_session(fold_runs, {spec.name: spec.pipeline}, cfg)
            per_fold.append(metrics[0])
        score = {"pipeline": spec.name, "folds": len(per_fold)}
        for key in ("offline_accuracy", "accuracy", "nmcc", "itr_bits_per_min",
                    "latency_median_s"):
            values = np.array([m[key] for m in per_fold], dtype=float)
            score[key] = float(np.nanmean(values)) if np.isfinite(values).any() \
                else float("nan")
        result.scores.append(score)
        step(f"{spec.name}: training on all calibration runs")
        cfg = PseudoOnlineConfig(**base)
        model, report = train_decoder(spec.pipeline, runs, cfg, param_grid=spec.param_grid)
        report["cross_validation"] = score
        result.models[spec.name] = TrainedModel(
            model, spec.name, runs[0].sfreq, runs[0].ch_names, window_s=request.window_s,
            step_s=request.step_s, l_freq=request.l_freq, h_freq=request.h_freq,
            pipeline_file=spec.path.read_text(encoding="utf-8") if spec.path else None,
            trained_on=report)
        result.reports[spec.name] = report
    progress(total, total, "done")
    return result
