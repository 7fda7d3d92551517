"""Offline evaluation: MOABB evaluations of the models in ``models/`` on local data.

:func:`evaluate_models` runs a within-session, cross-session or cross-subject MOABB
evaluation, writes the results CSV (MOABB's columns), and returns them with a score table;
:mod:`bci_app.evaluation.report` formats and plots them.
"""

import tempfile
from pathlib import Path

import pandas as pd
from sklearn.base import clone
from tqdm import tqdm

from .._logging import logger
from ..decoding.channels import bind_recording_info
from ..errors import ConfigError, DataError
from .datasets import EVALUATIONS, make_paradigm


def recording_info(paradigm, dataset):
    """Sampling rate and channel names the paradigm gives for ``dataset``.

    Reads the first subject once (what MOABB will give every pipeline).

    Returns
    -------
    sfreq : float
    ch_names : list of str
    """
    epochs, _, _ = paradigm.get_data(dataset, subjects=dataset.subject_list[:1],
                                     return_epochs=True)
    return float(epochs.info["sfreq"]), list(epochs.ch_names)


def _evaluation_class(evaluation):
    from moabb.evaluations import (
        CrossSessionEvaluation,
        CrossSubjectEvaluation,
        WithinSessionEvaluation,
    )

    return {
        "within-session": WithinSessionEvaluation,
        "cross-session": CrossSessionEvaluation,
        "cross-subject": CrossSubjectEvaluation,
    }[evaluation]


def check_evaluation(evaluation, code, n_sessions, n_subjects):
    """Refuse an evaluation the dataset cannot support.

    Parameters
    ----------
    evaluation : str
        ``"within-session"``, ``"cross-session"`` or ``"cross-subject"``.
    code : str
        The dataset's code (for the messages).
    n_sessions : int
        Sessions per subject.
    n_subjects : int
        Subjects selected.
    """
    if evaluation not in EVALUATIONS:
        raise ConfigError(f"unknown evaluation {evaluation!r}; choose one of {list(EVALUATIONS)}.")
    if evaluation == "cross-session" and n_sessions < 2:
        raise DataError(
            f"{code} has {n_sessions} session per subject: cross-session "
            "evaluation needs at least 2. Use within-session or cross-subject."
        )
    if evaluation == "cross-subject" and n_subjects < 2:
        raise DataError("cross-subject evaluation needs at least 2 subjects (--subjects).")


def usable_specs(specs, paradigm_name):
    """The models that declare ``paradigm_name`` (or ``MotorImagery``); warns about the others."""
    usable = [s for s in specs if paradigm_name in s.paradigms or "MotorImagery" in s.paradigms]
    for spec in specs:
        if spec not in usable:
            logger.warning("model %r (%s) does not declare paradigm %s; skipped", spec.name,
                           spec.path, paradigm_name)
    if not usable:
        raise ConfigError(f"no model declares the paradigm {paradigm_name}.")
    return usable


def bound_pipelines(specs, sfreq, ch_names):
    """Fresh pipelines bound to the recording, and their parameter grids.

    Returns
    -------
    pipelines : dict of name -> sklearn estimator
    grids : dict of name -> dict
        Only the models that have a ``param_grid``.
    """
    pipelines, grids = {}, {}
    for spec in specs:
        pipe = bind_recording_info(clone(spec.pipeline), sfreq=sfreq, ch_names=ch_names)
        pipelines[spec.name] = pipe
        if spec.param_grid:
            grids[spec.name] = dict(spec.param_grid)
    return pipelines, grids


def run_moabb(evaluation, para, dataset, subjects, pipelines, grids, hdf5_path, n_jobs=1,
              random_state=42):
    """One MOABB evaluation of ``pipelines`` on ``subjects`` of ``dataset``.

    The unit of work of :func:`evaluate_models` (one subject, or every subject for
    cross-subject), also the work of one task of :mod:`bci_app.evaluation.distributed`.

    Parameters
    ----------
    evaluation : str
    para : moabb.paradigms.base.BaseParadigm
    dataset : moabb.datasets.base.BaseDataset
        Its ``subject_list`` is set to ``subjects`` during the run and restored after.
    subjects : list of int
    pipelines : dict of name -> sklearn estimator
    grids : dict of name -> dict
        Parameter grids; only those of ``pipelines`` are used.
    hdf5_path : str
        A folder of MOABB's result cache that belongs to this run only (overwritten).
    n_jobs : int
    random_state : int

    Returns
    -------
    results : pandas.DataFrame
        MOABB's result rows.
    """
    previous = list(dataset.subject_list)
    dataset.subject_list = list(subjects)
    try:
        ev = _evaluation_class(evaluation)(
            paradigm=para, datasets=[dataset], overwrite=True, hdf5_path=str(hdf5_path),
            n_jobs=n_jobs, random_state=random_state, suffix="bci-app",
        )
        grid = {k: v for k, v in grids.items() if k in pipelines} or None
        return ev.process(pipelines, param_grid=grid)
    finally:
        dataset.subject_list = previous


def write_results(results, out_dir):
    """Write ``results.csv`` (the results of an evaluation) into ``out_dir``; returns its
    path. An OSError (a full disk...) propagates: the caller still holds the results."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results.to_csv(out_dir / "results.csv", index=False)
    logger.info("results written to %s", out_dir / "results.csv")
    return out_dir / "results.csv"


def finish_results(parts, evaluation, paradigm, out_dir=None):
    """Concatenate result parts, add the evaluation and paradigm columns, write the CSV."""
    results = pd.concat(parts, ignore_index=True)
    results = pd.DataFrame(results)
    results.insert(0, "evaluation", evaluation)
    results.insert(1, "paradigm", paradigm)
    if out_dir is not None:
        write_results(results, out_dir)
    return results


def evaluate_models(specs, dataset, paradigm="left-right", evaluation="within-session",
                    out_dir=None, n_jobs=1, random_state=42, fmin=8.0, fmax=35.0,
                    progress=True):
    """Evaluate models on a dataset with MOABB.

    Parameters
    ----------
    specs : list of bci_app.decoding.loading.ModelSpec
        Models from :func:`bci_app.decoding.load_models`.
    dataset : moabb.datasets.base.BaseDataset
        From :func:`bci_app.evaluation.datasets.resolve_dataset` (local data only).
    paradigm : str
        ``"left-right"``, ``"hands-feet"`` or ``"left-right-feet"``.
    evaluation : str
        ``"within-session"``, ``"cross-session"`` or ``"cross-subject"``.
    out_dir : str | Path | None
        Where ``results.csv`` is written (None: nowhere).
    n_jobs : int
        Parallel jobs of the MOABB evaluation.
    random_state : int
        Seed of the cross-validation splits.
    fmin, fmax : float
        Band-pass of the paradigm, in Hz.
    progress : bool
        Show a progress bar (per subject; per pipeline for cross-subject).

    Returns
    -------
    results : pandas.DataFrame
        One row per pipeline, subject and session (MOABB's columns).

    See Also
    --------
    bci_app.evaluation.distributed.evaluate_distributed : the same from a dataset name,
        task by task, in this process or on a Dask cluster (what ``bci-app evaluate`` runs).
    """
    check_evaluation(evaluation, dataset.code, dataset.n_sessions, len(dataset.subject_list))
    para = make_paradigm(paradigm, fmin=fmin, fmax=fmax)
    usable = usable_specs(specs, type(para).__name__)
    sfreq, ch_names = recording_info(para, dataset)
    pipelines, grids = bound_pipelines(usable, sfreq, ch_names)
    # One MOABB run per subject (per pipeline for cross-subject, which needs every subject
    # at once), so that a progress bar can follow a long evaluation.
    subjects = list(dataset.subject_list)
    if evaluation == "cross-subject":
        groups = [(subjects, {name: pipe}) for name, pipe in pipelines.items()]
        unit = "pipeline"
    else:
        groups = [([subject], pipelines) for subject in subjects]
        unit = "subject"
    logger.info("%s evaluation of %d model(s) on %s, subjects %s", evaluation,
                len(pipelines), dataset.code, subjects)
    parts = []
    with tempfile.TemporaryDirectory(prefix="bci-app-moabb-") as cache:
        for i, (group_subjects, group_pipes) in enumerate(
                tqdm(groups, desc=f"{evaluation} {dataset.code}", unit=unit,
                     disable=not progress)):
            parts.append(run_moabb(evaluation, para, dataset, group_subjects, group_pipes,
                                   grids, Path(cache) / str(i), n_jobs=n_jobs,
                                   random_state=random_state))
    return finish_results(parts, evaluation, paradigm, out_dir)
