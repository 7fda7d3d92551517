"""Training on a session's calibration runs: cross-validation, r² map and final models.

No Qt here: :func:`run_training` runs on the GUI's worker thread (or anywhere), reports
progress through a callback and checks a cancel event between steps (a fit in progress
finishes first). Each step is a call to the core:

* folds and scores: :func:`bci_app.evaluation.calibration_scores.calibration_folds` and
  :func:`~bci_app.evaluation.calibration_scores.cross_validate` (leave one calibration run
  out; offline and pseudo-online scores of the same split);
* r² map: :func:`bci_app.evaluation.r2.r2_map` of the pair of classes the ERD compares
  (:func:`bci_app.evaluation.erd.compared_classes` of the cued classes: rest vs the hand
  when rest is cued, else the first two task classes);
* final models: :func:`bci_app.online.train_model.train_model` on all the runs, the one train
  path of the command line, headless sessions and the GUI.

:func:`training_runs` chooses the calibration runs to train on (by default the complete and
interrupted ones: an aborted run is left out unless chosen), :func:`calibration_runs` reads
them back from BIDS (the one reading of them, for ``bci-app session --train`` and the GUI);
:func:`save_training` saves the trained models, the r² map and the scores with the session,
and says in the session log which runs and classes were trained on.
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
    sources : list of TransferSource | None
        Windows of earlier sessions (or other subjects) to train with, matched to the runs'
        channels and rate (:func:`~bci_app.processing.calibration.source_windows`, with
        :meth:`config`): every cross-validation fold and the final models train with them,
        each its own domain.
    trained_on : dict
        What the caller knows of the sources, added to each model's training record.
    cued : tuple of str
        The classes the runs' protocols cue, rest included (:func:`cued_classes`, e.g.
        ``("right_hand", "rest")``): the r² map compares rest with the hand, and the
        offline score counts the rest trials. Empty: ``classes``.
    """

    runs: list
    specs: list
    classes: tuple
    window_s: float = 2.0
    step_s: float = 0.1
    l_freq: float = 8.0
    h_freq: float = 30.0
    sources: list | None = None
    trained_on: dict = field(default_factory=dict)
    cued: tuple = ()

    def config(self):
        """The calibration settings of the training (classes, window, step, band, crops):
        those its sources must be cropped with too."""
        from ..online.engine import DEFAULT_SMOOTHING
        from ..processing.calibration import PseudoOnlineConfig

        return PseudoOnlineConfig(classes=tuple(self.classes), window_s=self.window_s,
                                  step_s=self.step_s, l_freq=self.l_freq,
                                  h_freq=self.h_freq, smoothing=DEFAULT_SMOOTHING)


@dataclass
class TrainingResult:
    """Scores, r² map and the trained models (``TrainedModel``, not yet saved)."""

    scores: list = field(default_factory=list)
    r2: dict | None = None
    models: dict = field(default_factory=dict)
    reports: dict = field(default_factory=dict)
    paths: dict = field(default_factory=dict)  # once saved: pipeline name -> file
    runs: list = field(default_factory=list)   # the run numbers trained on
    classes: tuple = ()                          # the task classes trained on
    transfer: dict | None = None                 # the sources trained with (trained_on)


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
    from ..evaluation.erd import compared_classes
    from ..evaluation.r2 import r2_map
    from ..online.train_model import train_model

    cancel = cancel or threading.Event()
    progress = progress or (lambda *a: None)
    runs, classes = request.runs, tuple(request.classes)
    cued = tuple(request.cued) or classes
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
    pair = compared_classes(cued)
    try:
        if pair is None:
            raise DataError(f"r² map: the classes {list(cued)} give no pair to compare (a "
                            "task and rest, or two tasks).")
        result.r2 = r2_map(runs, pair)
    except DataError as exc:
        logger.warning("training: %s", exc)
    cfg = request.config()
    for spec in request.specs:
        score = cross_validate(
            spec.name, spec.pipeline, folds, cfg,
            before_fold=lambda fold, name=spec.name: step(
                f"{name}: cross-validation ({fold.name})"),
            sources=request.sources, cued=cued)
        result.scores.append(score)
        step(f"{spec.name}: training on all calibration runs")
        trained = train_model(spec, runs, cfg, sources=request.sources,
                              trained_on={"cross_validation": score, **request.trained_on})
        result.models[spec.name] = trained
        result.reports[spec.name] = trained.trained_on
    progress(total, total, "done")
    if request.sources:
        result.transfer = dict(request.trained_on)
    return result


def training_runs(session, runs=None):
    """The calibration runs of a session to train on.

    Parameters
    ----------
    session : Session
    runs : sequence of int | None
        Run numbers chosen by the operator (any usable calibration run, aborted ones too);
        None: the runs trained on by default, every calibration run whose status is in
        :data:`~bci_app.session.runs.TRAINED_BY_DEFAULT` (complete or interrupted).

    Returns
    -------
    infos : list of RunInfo
        In run order.

    Raises
    ------
    DataError
        No run to train on, or a chosen run that is not a usable calibration run of the
        session (the message names it and says why).
    """
    where = f"sub-{session.subject} ses-{session.session}"
    every = session.runs
    calibration = [r for r in every if r.run_type == "calibration"]
    if runs is None:
        chosen = [r for r in calibration if r.trained_by_default]
        if not chosen:
            others = ", ".join(f"run {r.index} {r.status}" for r in calibration)
            raise DataError(
                f"{where}: no complete calibration run to train on"
                + (f" ({others}; aborted runs are left out unless chosen)" if others else "")
                + ". Record a calibration run in the 'Calibration' step, or choose the runs "
                "to train on.")
        return chosen
    by_number = {r.index: r for r in every}
    chosen = []
    for number in sorted({int(n) for n in runs}):
        info = by_number.get(number)
        if info is None:
            raise DataError(f"{where}: there is no run {number} (runs: "
                            f"{sorted(by_number) or 'none'}).")
        if info.run_type != "calibration":
            raise DataError(f"{where}: run {number} is an {info.run_type} run; train on "
                            "calibration runs.")
        if not info.usable or not info.bids_path or not Path(info.bids_path).is_file():
            raise DataError(f"{where}: run {number} has no usable recording (status "
                            f"{info.status}{': ' + info.error if info.error else ''}); "
                            "leave it out.")
        chosen.append(info)
    if not chosen:
        raise DataError(f"{where}: no run chosen to train on: tick at least one calibration "
                        "run.")
    return chosen


def calibration_runs(session, infos=None, bad_channels=()):
    """A session's calibration recordings, read back from BIDS, as ``Run`` objects.

    Parameters
    ----------
    session : Session
    infos : list of RunInfo | None
        The runs (default: :func:`training_runs`, the complete and interrupted calibration
        runs of the session).
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
    for info in (training_runs(session) if infos is None else infos):
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
    (``session.json``'s ``training``: scores, run numbers, task classes, models); the
    session log's ``training_saved`` entry says which runs and classes were used. Fills
    ``result.paths`` (pipeline name -> file), ``result.runs`` and ``result.classes``.

    Parameters
    ----------
    session : Session
    result : TrainingResult
    infos : list of RunInfo
        The calibration runs trained on.
    bad_channels : sequence of str
    """
    numbers = [int(i.index) for i in infos]
    classes = list(result.classes or task_classes(infos))
    saved = {}
    for name, trained in result.models.items():
        trained.trained_on.update({
            "subject": session.subject, "session": session.label,
            "runs": [Path(i.bids_path).name for i in infos], "run_numbers": numbers,
            "task_classes": classes, "bad_channels": list(bad_channels)})
        saved[name] = session.save_model(trained, name)
    result.paths, result.runs, result.classes = saved, numbers, tuple(classes)
    if result.r2 is not None:
        session.derivatives.mkdir(parents=True, exist_ok=True)
        np.savez(session.derivatives / "r2_map.npz", values=result.r2["values"],
                 freqs=result.r2["freqs"], ch_names=np.array(result.r2["ch_names"]),
                 classes=np.array(result.r2["classes"]))
    extra = {"transfer": result.transfer} if result.transfer else {}
    session.update(training={"scores": result.scores, "runs": numbers, "classes": classes,
                             "models": {k: str(v) for k, v in saved.items()}, **extra})
    session.log("training_saved", runs=numbers,
                statuses={str(i.index): i.status for i in infos}, classes=classes,
                bad_channels=list(bad_channels), models=sorted(saved), **extra)
    logger.info("training of sub-%s ses-%s: runs %s, classes %s -> %s", session.subject,
                session.label, numbers, classes, ", ".join(sorted(saved)))
    return saved


def cued_classes(infos):
    """Every class the protocols of calibration runs cue, in order, rest (an idle name)
    included: what :func:`bci_app.evaluation.erd.compared_classes` chooses the compared pair
    from, and what the offline score counts trials of."""
    classes = []
    for info in infos:
        classes += [str(c) for c in info.classes or () if str(c) not in classes]
    return tuple(classes)


def task_classes(infos):
    """The task classes of calibration runs: every class their protocols name, in order,
    idle names (``rest``, ``idle``...) left out.

    Raises
    ------
    DataError
        If the runs name no task class.
    """
    from ..processing.labels import IDLE_NAMES

    classes = []
    for info in infos:
        for c in info.classes or ():
            if c not in classes and c.lower() not in IDLE_NAMES:
                classes.append(c)
    if not classes:
        raise DataError(f"training: the protocols of runs {[i.index for i in infos]} name no "
                        "task class; record a calibration run with a motor-imagery protocol.")
    return tuple(classes)


class TrainingJob:
    """Train pipelines on a session's calibration runs on a worker thread, and save them.

    The worker reads the runs back from BIDS (:func:`calibration_runs`), runs
    :func:`run_training` (one BLAS thread: the machine stays responsive), then
    :func:`save_training`. No Qt: the callbacks come from the worker thread.

    Parameters
    ----------
    session : Session
    specs : list of ModelSpec
    infos : list of RunInfo | sequence of int | None
        The calibration runs, or their numbers (:func:`training_runs`: checked); default:
        the complete and interrupted ones (aborted runs are left out unless chosen).
    bad_channels : sequence of str
    window_s, step_s : float
    on_progress : callable | None
        ``on_progress(done, total, text)``.
    on_finished : callable | None
        ``on_finished(result)`` (a saved :class:`TrainingResult`).
    on_failed : callable | None
        ``on_failed(text)`` (also on cancel).
    sources : callable | None
        Training with transfer: ``sources(request)`` -> ``(list of TransferSource, dict)``,
        called on the worker thread with the :class:`TrainingRequest` (today's runs read,
        its :meth:`~TrainingRequest.config`): the sources to train with (e.g. the patient's
        earlier sessions, :func:`bci_app.session.continuation.sources_hook`) and what to
        record of them (each model's training record, ``TrainingResult.transfer``,
        ``session.json``'s ``training``).

    Attributes
    ----------
    infos : list of RunInfo
        The runs trained on.
    classes : tuple of str
        The task classes trained on (:func:`task_classes` of the runs).
    cued : tuple of str
        Every class the runs cue, rest included (:func:`cued_classes`).

    Raises
    ------
    DataError
        No run to train on, a chosen run that cannot be, or runs naming no task class (at
        construction: nothing starts).
    """

    def __init__(self, session, specs, infos=None, bad_channels=(), window_s=2.0,
                 step_s=0.1, on_progress=None, on_finished=None, on_failed=None,
                 sources=None):
        self.session, self.specs = session, list(specs)
        self.sources = sources
        if infos is None or all(isinstance(i, int) for i in infos):
            self.infos = training_runs(session, infos)
        else:
            self.infos = list(infos)
            if not self.infos:
                raise DataError("No calibration run chosen to train on: tick at least one.")
        self.classes = task_classes(self.infos)
        self.cued = cued_classes(self.infos)
        self.bad_channels = list(bad_channels)
        self.window_s, self.step_s = float(window_s), float(step_s)
        self.on_progress = on_progress or (lambda *a: None)
        self.on_finished = on_finished or (lambda result: None)
        self.on_failed = on_failed or (lambda text: None)
        self._cancel = threading.Event()
        self._thread = None
        self.result = None

    def start(self):
        self._thread = threading.Thread(target=self._work, daemon=True,
                                        name="bci-app-training")
        self._thread.start()
        return self

    def cancel(self):
        """Stop at the next step (a fit in progress finishes first)."""
        self._cancel.set()

    def join(self, timeout=None):
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def is_alive(self):
        return self._thread is not None and self._thread.is_alive()

    def _work(self):
        from threadpoolctl import threadpool_limits

        try:
            self.on_progress(0, 1, f"reading calibration run(s) "
                                   f"{', '.join(str(i.index) for i in self.infos)} (BIDS)")
            runs = calibration_runs(self.session, self.infos, self.bad_channels)
            request = TrainingRequest(runs, self.specs, self.classes,
                                      window_s=self.window_s, step_s=self.step_s,
                                      cued=self.cued)
            if self.sources is not None:
                self.on_progress(0, 1, "reading the transfer sources")
                request.sources, about = self.sources(request)
                request.trained_on = dict(about or {})
            with threadpool_limits(limits=1):
                result = run_training(request, progress=self.on_progress,
                                      cancel=self._cancel)
            result.runs = [int(i.index) for i in self.infos]
            result.classes = tuple(self.classes)
        except Exception as exc:
            logger.exception("training failed")
            self.on_failed(str(exc))
            return
        try:
            save_training(self.session, result, self.infos, self.bad_channels)
        except Exception as exc:
            logger.exception("saving models failed")
            self.on_failed(f"The models could not be saved: {exc}")
            return
        self.result = result
        self.on_finished(result)
