"""Training on a session's calibration runs: cross-validation, r² map and final models.

No Qt here: :func:`run_training` runs on the GUI's worker thread (or anywhere), reports
progress through a callback and checks a cancel event between steps (a fit in progress
finishes first). Each step is a call to the core:

* folds and scores: :func:`bci_app.evaluation.calibration_scores.calibration_folds` and
  :func:`~bci_app.evaluation.calibration_scores.cross_validate` (leave one calibration run
  out; offline and pseudo-online scores of the same split);
* r² map: :func:`bci_app.evaluation.r2.r2_map`;
* final models: :func:`bci_app.online.train_model.train_model` on all the runs, the one train
  path of the command line, headless sessions and the GUI.

:func:`calibration_runs` reads a session's calibration recordings back from BIDS (the one
reading of them, for ``bci-app session --train`` and the GUI); :func:`save_training` saves
the trained models, the r² map and the scores with the session.
"""

import threading
from dataclasses import dataclass, field
from pathlib import Path

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
    paths: dict = field(default_factory=dict)  # once saved: pipeline name -> file


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
    from ..evaluation.calibration_scores import calibration_folds, cross_validate
    from ..evaluation.r2 import r2_map
    from ..online.engine import DEFAULT_SMOOTHING
    from ..online.train_model import train_model
    from ..processing.calibration import PseudoOnlineConfig

    cancel = cancel or threading.Event()
    progress = progress or (lambda *a: None)
    runs, classes = request.runs, tuple(request.classes)
    if not runs:
        raise DataError("No calibration run in this session yet: record one in the "
                        "Calibration step first.")
    if not request.specs:
        raise DataError("No pipeline selected: tick at least one in the list.")
    folds = calibration_folds(runs, classes)
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
    cfg = PseudoOnlineConfig(classes=classes, window_s=request.window_s,
                             step_s=request.step_s, l_freq=request.l_freq,
                             h_freq=request.h_freq, smoothing=DEFAULT_SMOOTHING)
    for spec in request.specs:
        score = cross_validate(
            spec.name, spec.pipeline, folds, cfg,
            before_fold=lambda fold, name=spec.name: step(
                f"{name}: cross-validation ({fold.name})"))
        result.scores.append(score)
        step(f"{spec.name}: training on all calibration runs")
        trained = train_model(spec, runs, cfg, trained_on={"cross_validation": score})
        result.models[spec.name] = trained
        result.reports[spec.name] = trained.trained_on
    progress(total, total, "done")
    return result


def calibration_runs(session, infos=None, bad_channels=()):
    """A session's calibration recordings, read back from BIDS, as ``Run`` objects.

    Parameters
    ----------
    session : Session
    infos : list of RunInfo | None
        The runs (default: every usable calibration run of the session).
    bad_channels : sequence of str
        Channels to leave out (those the recording has).

    Returns
    -------
    runs : list of bci_app.processing.runs.Run
        In the order of ``infos``; each ``meta["run"]`` is its run number.
    """
    from ..processing.runs import run_from_raw
    from .runs import load_run_recording

    out = []
    for info in (session.runs_of_type("calibration") if infos is None else infos):
        raw = load_run_recording(info)
        bad = [c for c in bad_channels if c in raw.ch_names]
        if bad:
            raw.drop_channels(bad)
        out.append(run_from_raw(raw, name=Path(info.bids_path).stem,
                                meta={"run": info.index}))
    return out


def save_training(session, result, infos, bad_channels=()):
    """Save what a training produced with the session.

    Every trained model (``session.save_model``, with the runs and bad channels it was
    trained on), the r² map (``r2_map.npz`` in the session's derivatives) and the scores
    (``session.json``'s ``training``). Fills ``result.paths`` (pipeline name -> file).

    Parameters
    ----------
    session : Session
    result : TrainingResult
    infos : list of RunInfo
        The calibration runs trained on.
    bad_channels : sequence of str
    """
    saved = {}
    for name, trained in result.models.items():
        trained.trained_on.update({
            "subject": session.subject, "session": session.label,
            "runs": [Path(i.bids_path).name for i in infos],
            "bad_channels": list(bad_channels)})
        saved[name] = session.save_model(trained, name)
    result.paths = saved
    if result.r2 is not None:
        session.derivatives.mkdir(parents=True, exist_ok=True)
        np.savez(session.derivatives / "r2_map.npz", values=result.r2["values"],
                 freqs=result.r2["freqs"], ch_names=np.array(result.r2["ch_names"]),
                 classes=np.array(result.r2["classes"]))
    session.update(training={"scores": result.scores, "runs": [i.index for i in infos],
                             "models": {k: str(v) for k, v in saved.items()}})
    return saved
