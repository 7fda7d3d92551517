"""Offline and pseudo-online evaluations as independent tasks, run by an executor.

The work of :func:`~bci_app.evaluation.offline.evaluate_models` and
:func:`~bci_app.evaluation.pseudo_online.run_pseudo_online` is split into independent
tasks, run by an executor of :mod:`bci_app.evaluation.executors` (in this process, or on the
workers of a Dask cluster), and gathered by this process, which writes the same outputs as
a local run (same rows, same columns, same order; only the ``time`` column of MOABB, a
measured fit time, differs). Where the tasks run changes nothing else.

Task grain
    Within-session and cross-session evaluations, and pseudo-online evaluations, run one
    task per subject (all models: the subject's data are read once), or one task per
    (subject, model) when there are too few subjects to keep every worker busy
    (``grain="auto"``; always per subject when the executor runs one task at a time).
    Cross-subject evaluations need every subject at once: one task per model.

What a task carries
    Only a small, pure description: the dataset name, the subject(s), the paradigm, the
    settings, and the text of the model's YAML file. Each worker builds the dataset and
    the pipeline itself, from its own install of bci-app and its own MNE data folder
    (``MNE_DATA`` in the worker's environment, or ``data_path`` as seen by the workers).
    No data and no fitted object travel to the workers; only result tables come back.

Failures
    On a cluster, a task that fails unexpectedly is retried (``retries``, default 2); a
    task whose worker dies is rescheduled on another worker by the scheduler. Errors about
    the data or the settings (bci-app's own errors) are the same on every worker: they stop
    the evaluation at once, with the task named. Each task writes nothing shared (its
    MOABB result cache is a temporary folder of its own), and this process keeps exactly
    one result per task key, so a retried task never duplicates or loses rows.
"""

import contextlib
import dataclasses
import os
import tempfile
from pathlib import Path

from .._logging import logger, quieted_dependencies
from ..errors import ConfigError
from .executors import (  # noqa: F401 - ClusterError, cluster_client, run_tasks: public here too
    DEFAULT_RETRIES,
    ClusterError,
    cluster_client,
    make_executor,
    returns_refusals,
    run_tasks,
)

# ---------------------------------------------------------------------------------------
# Task descriptions and worker-side functions
# ---------------------------------------------------------------------------------------


def model_description(spec):
    """The description of a model a worker needs: its name, file name and YAML text."""
    return {"name": spec.name, "file": Path(spec.path).name,
            "yaml": Path(spec.path).read_text(encoding="utf-8")}


def _load_model(desc):
    from ..decoding.loading import read_model_file

    with tempfile.TemporaryDirectory(prefix="bci-app-model-") as folder:
        path = Path(folder) / desc["file"]
        path.write_text(desc["yaml"], encoding="utf-8")
        spec = read_model_file(path)
    if spec.name != desc["name"]:
        raise ConfigError(f"{desc['file']}: model name {spec.name!r} on the worker, "
                          f"{desc['name']!r} here.")
    return spec


@contextlib.contextmanager
def _task_context(quiet):
    """Worker-side settings of a task: no download mirror, and quiet libraries."""
    os.environ.setdefault("MOABB_DOWNLOAD_PROVIDER", "upstream")
    with quieted_dependencies(quiet):
        yield



def _resolve(task, subjects):
    from .datasets import resolve_dataset

    return resolve_dataset(task["dataset"], subjects, task["paradigm"], task["data_path"])


@returns_refusals
def inspect_dataset_task(task):
    """Worker task: resolve the dataset and read what every task needs from it.

    Parameters
    ----------
    task : dict
        ``dataset``, ``subjects`` (None: all), ``paradigm``, ``data_path``, ``quiet``, and
        for an offline evaluation ``fmin``/``fmax`` and ``recording_info=True``.

    Returns
    -------
    info : dict
        ``code``, ``subjects``, ``n_sessions``, and ``sfreq``/``ch_names`` when asked.
    """
    with _task_context(task["quiet"]):
        dataset = _resolve(task, task["subjects"])
        info = {"code": dataset.code, "subjects": [int(s) for s in dataset.subject_list],
                "n_sessions": int(dataset.n_sessions)}
        if task.get("recording_info"):
            from .datasets import make_paradigm
            from .offline import recording_info

            para = make_paradigm(task["paradigm"], fmin=task["fmin"], fmax=task["fmax"])
            info["sfreq"], info["ch_names"] = recording_info(para, dataset)
    return info


def _digest(para, dataset, pipeline):
    """MOABB's digest of a pipeline: the order of its rows in MOABB's results table."""
    try:
        from moabb.analysis.results import get_pipeline_digest

        process = para.make_process_pipelines(dataset, return_epochs=False,
                                              return_raws=False)[0]
        return get_pipeline_digest(process, pipeline)
    except Exception:  # noqa: BLE001 - only the row order depends on it
        return ""


@returns_refusals
def offline_task(task):
    """Worker task: one MOABB evaluation of some models on some subjects.

    Parameters
    ----------
    task : dict
        ``dataset``, ``paradigm``, ``data_path``, ``evaluation``, ``subjects``, ``models``
        (from :func:`model_description`), ``sfreq``, ``ch_names``, ``fmin``, ``fmax``,
        ``n_jobs``, ``random_state``, ``quiet``.

    Returns
    -------
    parts : list of (digest, pandas.DataFrame)
        MOABB's rows of each model.
    """
    from .datasets import make_paradigm
    from .offline import bound_pipelines, run_moabb

    with _task_context(task["quiet"]):
        dataset = _resolve(task, task["subjects"])
        para = make_paradigm(task["paradigm"], fmin=task["fmin"], fmax=task["fmax"])
        specs = [_load_model(m) for m in task["models"]]
        pipelines, grids = bound_pipelines(specs, task["sfreq"], task["ch_names"])
        digests = {name: _digest(para, dataset, pipe) for name, pipe in pipelines.items()}
        with tempfile.TemporaryDirectory(prefix="bci-app-moabb-") as cache:
            results = run_moabb(task["evaluation"], para, dataset, task["subjects"],
                                pipelines, grids, Path(cache) / "results",
                                n_jobs=task["n_jobs"], random_state=task["random_state"])
    return [(digests[name], results[results["pipeline"] == name].reset_index(drop=True))
            for name in pipelines]


@returns_refusals
def pseudo_online_task(task):
    """Worker task: pseudo-online evaluation of some models on one subject (or file).

    Parameters
    ----------
    task : dict
        ``config`` (fields of :class:`PseudoOnlineConfig`), ``models``, ``subject``,
        ``quiet``, and either ``recording`` + ``event_map`` (a file the worker can read)
        or ``dataset`` + ``paradigm`` + ``data_path``; optionally ``transfer``
        (``{"dataset": name or None for the evaluated one, "subjects": [...]}``): train with
        every session of those subjects as sources, the evaluated subject left out.

    Returns
    -------
    results : list of (session, predictions, metrics)
        As :func:`~bci_app.evaluation.pseudo_online.evaluate_subject` returns them.
    """
    from ..processing.calibration import PseudoOnlineConfig
    from .pseudo_online import evaluate_subject
    from .recordings import dataset_sessions, file_session

    with _task_context(task["quiet"]):
        cfg = PseudoOnlineConfig(**task["config"])
        specs = [_load_model(m) for m in task["models"]]
        pipelines = {s.name: s.pipeline for s in specs}
        if task.get("recording"):
            sessions = [("0", file_session(task["recording"], task["event_map"]))]
        else:
            dataset = _resolve(task, [task["subject"]])
            sessions = dataset_sessions(dataset, task["subject"])
        return evaluate_subject(sessions, pipelines, cfg, task["subject"],
                                sources_for=_sources_for(task, cfg))


def _sources_for(task, cfg):
    """``sources_for(runs)`` of a task with ``transfer``, else None."""
    from .recordings import dataset_sessions
    from .transfer import subject_sources

    transfer = task.get("transfer")
    if not transfer:
        return None
    name = transfer.get("dataset") or task.get("dataset")
    if not name:
        raise ConfigError("transfer: name the source dataset (a recording file has no "
                          "other subjects).")
    from .datasets import resolve_dataset

    source = resolve_dataset(name, transfer.get("subjects"), task.get("paradigm",
                                                                      "left-right"),
                             task.get("data_path"))
    cache = {}

    def sources_for(runs):
        return subject_sources(lambda s: dataset_sessions(source, s), source.subject_list,
                               task["subject"] if name == task.get("dataset") else None,
                               cfg, runs[0].sfreq, runs[0].ch_names, source.code, cache)

    return sources_for


def _grain(grain, n_subjects, n_slots):
    if grain not in ("auto", "subject", "subject-model"):
        raise ConfigError(f"grain {grain!r}: use 'auto', 'subject' or 'subject-model'.")
    if grain == "auto":
        # Per model only helps when there are more slots than subjects to fill them.
        return "subject" if n_slots <= 1 or n_subjects >= 2 * n_slots else "subject-model"
    return grain


def _per_subject_tasks(subjects, models, grain):
    """(subject, models) groups in the local run's order: subjects, then models."""
    if grain == "subject":
        return [(s, list(models)) for s in subjects]
    return [(s, [m]) for s in subjects for m in models]


def _executor(executor, scheduler, local_cluster, client, retries):
    """The executor given, or the one the cluster arguments name (none: this process)."""
    if executor is None:
        return make_executor(scheduler, local_cluster, client, retries=retries)
    if (scheduler, local_cluster, client) != (None, None, None):
        raise ConfigError("give an executor or a cluster (scheduler, local_cluster, client), "
                          "not both.")
    return executor


# ---------------------------------------------------------------------------------------
# Offline evaluation
# ---------------------------------------------------------------------------------------


def evaluate_distributed(specs, dataset, subjects=None, paradigm="left-right",
                         evaluation="within-session", out_dir=None, n_jobs=1,
                         random_state=42, fmin=8.0, fmax=35.0, data_path=None,
                         progress=True, scheduler=None, local_cluster=None, client=None,
                         retries=DEFAULT_RETRIES, grain="auto", quiet=True, executor=None):
    """Evaluate models with MOABB, task by task; same results as :func:`evaluate_models`.

    Parameters
    ----------
    specs : list of ModelSpec
        Models from :func:`bci_app.decoding.load_models`; their YAML text is sent to the
        tasks, which build the pipelines themselves.
    dataset : str
        A dataset name for :func:`~bci_app.evaluation.datasets.resolve_dataset`, resolved
        by the tasks (on a cluster: from the workers' own MNE data folder).
    subjects : list of int | None
        Subjects (None: all, as the tasks see them).
    paradigm, evaluation, n_jobs, random_state, fmin, fmax
        As :func:`~bci_app.evaluation.offline.evaluate_models` (``n_jobs`` per task).
    out_dir : str | Path | None
        Where this process writes ``results.csv``.
    data_path : str | None
        MNE data folder *as seen by the tasks* (default: their ``MNE_DATA``).
    progress : bool
        Progress bar of the finished tasks.
    scheduler, local_cluster, client
        A Dask cluster to run on (at most one; see
        :class:`~bci_app.evaluation.executors.DaskExecutor`); instead of ``executor``.
    retries : int
        Runs again of a task that raises (on a cluster named by the arguments above).
    grain : {"auto", "subject", "subject-model"}
        Task per subject, or per (subject, model); ``"auto"`` takes the subject when there
        are at least twice as many subjects as slots (worker threads), or a single slot.
        Cross-subject: per model.
    quiet : bool
        Keep MNE's and MOABB's chatter off the tasks' logs.
    executor : LocalExecutor | DaskExecutor | None
        Where the tasks run (see :func:`~bci_app.evaluation.executors.make_executor`);
        None: as the cluster arguments say, or in this process.

    Returns
    -------
    results : pandas.DataFrame
        The rows and columns of :func:`evaluate_models`, in the same order.
    """
    from .datasets import make_paradigm
    from .offline import check_evaluation, finish_results, usable_specs

    para_name = type(make_paradigm(paradigm, fmin=fmin, fmax=fmax)).__name__
    if evaluation == "cross-subject" and subjects is not None and len(subjects) < 2:
        raise ConfigError("cross-subject evaluation needs at least 2 subjects (--subjects).")
    usable = usable_specs(specs, para_name)
    models = [model_description(s) for s in usable]
    base = {"dataset": dataset, "paradigm": paradigm, "data_path": data_path,
            "fmin": float(fmin), "fmax": float(fmax), "quiet": bool(quiet)}
    with _executor(executor, scheduler, local_cluster, client, retries) as ex:
        info, = ex.map(inspect_dataset_task, [dict(base, subjects=subjects,
                                                   recording_info=True)],
                       ["inspect"], "dataset", progress=False)
        check_evaluation(evaluation, info["code"], info["n_sessions"], len(info["subjects"]))
        subjects = info["subjects"]
        common = dict(base, evaluation=evaluation, sfreq=info["sfreq"],
                      ch_names=info["ch_names"], n_jobs=int(n_jobs),
                      random_state=random_state)
        if evaluation == "cross-subject":
            groups = [(subjects, [m]) for m in models]
            labels = [m["name"] for m in models]
        else:
            grain = _grain(grain, len(subjects), ex.n_slots)
            groups = [([s], ms) for s, ms in _per_subject_tasks(subjects, models, grain)]
            labels = [f"S{s[0]}" + (f"-{ms[0]['name']}" if grain != "subject" else "")
                      for s, ms in groups]
        tasks = [dict(common, subjects=list(s), models=ms) for s, ms in groups]
        logger.info("%s evaluation of %d model(s) on %s, subjects %s: %d task(s)",
                    evaluation, len(models), info["code"], subjects, len(tasks))
        outputs = ex.map(offline_task, tasks, labels, f"{evaluation} {info['code']}",
                         progress)
    return finish_results(_offline_parts(evaluation, subjects, groups, outputs), evaluation,
                          paradigm, out_dir)


def _offline_parts(evaluation, subjects, groups, outputs):
    """The result tables of the tasks, in the order of a local run."""
    if evaluation == "cross-subject":
        return [df for out in outputs for _, df in out]
    # MOABB orders the rows of a subject by pipeline digest; keep that order.
    by_subject, parts = {}, []
    for (s, _), out in zip(groups, outputs):
        by_subject.setdefault(s[0], []).extend(out)
    for s in subjects:
        parts += [df for _, df in sorted(by_subject[s], key=lambda x: x[0])]
    return parts


# ---------------------------------------------------------------------------------------
# Pseudo-online evaluation
# ---------------------------------------------------------------------------------------


def pseudo_online_distributed(specs, cfg, dataset=None, subjects=None, paradigm="left-right",
                              recording=None, event_map=None, data_path=None, out_dir=None,
                              progress=True, scheduler=None, local_cluster=None,
                              client=None, retries=DEFAULT_RETRIES, grain="auto",
                              quiet=True, executor=None, transfer_from=None,
                              transfer_subjects=None):
    """Pseudo-online evaluation, task by task; same outputs as :func:`run_pseudo_online`.

    Parameters
    ----------
    specs : list of ModelSpec
    cfg : PseudoOnlineConfig
    dataset : str | None
        A dataset name, resolved by the tasks (on a cluster: the workers' MNE data folder).
    subjects : list of int | None
        Subjects of ``dataset`` (None: all).
    paradigm : str
        For :func:`~bci_app.evaluation.datasets.resolve_dataset`.
    recording : str | Path | None
        Instead of ``dataset``: a recording file, at this path for every task (on a
        cluster: a shared file system); one task per model when there are slots for them.
    event_map : dict | None
        Annotation renaming of ``recording``.
    data_path : str | None
        MNE data folder as seen by the tasks (default: their ``MNE_DATA``).
    out_dir : str | Path | None
        Where this process writes ``predictions.csv``, ``metrics.csv`` and the timelines.
    progress : bool
    scheduler, local_cluster, client, retries, grain, quiet, executor
        As :func:`evaluate_distributed`.
    transfer_from : str | None
        Train with transfer: ``"other-subjects"`` (leave-one-subject-out: the evaluated
        dataset's other subjects), or a dataset name or recordings folder (every subject
        of it, ``transfer_subjects`` if given) as sources.
    transfer_subjects : list | None

    Returns
    -------
    predictions : pandas.DataFrame
    metrics : pandas.DataFrame
    """
    from .pseudo_online import finish_pseudo_online, plot_subject_timeline

    if (dataset is None) == (recording is None):
        raise ConfigError("give a dataset name or a recording file.")
    cfg.check()
    models = [model_description(s) for s in specs]
    base = {"config": dataclasses.asdict(cfg), "quiet": bool(quiet)}
    with _executor(executor, scheduler, local_cluster, client, retries) as ex:
        if recording is not None:
            recording = str(Path(recording).resolve())
            code, subjects = Path(recording).stem, ["file"]
            base.update(recording=recording, event_map=dict(event_map or {}))
        else:
            base.update(dataset=dataset, paradigm=paradigm, data_path=data_path)
            info, = ex.map(inspect_dataset_task, [dict(base, subjects=subjects)],
                           ["inspect"], "dataset", progress=False)
            code, subjects = info["code"], info["subjects"]
        if transfer_from == "other-subjects":
            if recording is not None:
                raise ConfigError("--transfer-from other-subjects: a recording file has no "
                                  "other subjects; name a dataset or recordings folder.")
            if len(subjects) < 2:
                raise ConfigError("--transfer-from other-subjects needs at least two "
                                  "subjects.")
            base["transfer"] = {"dataset": None, "subjects": list(subjects)}
        elif transfer_from:
            base["transfer"] = {"dataset": str(transfer_from),
                                "subjects": list(transfer_subjects or []) or None}
        groups = _per_subject_tasks(subjects, models,
                                    _grain(grain, len(subjects), ex.n_slots))
        tasks = [dict(base, subject=s, models=ms) for s, ms in groups]
        labels = [f"S{s}" + (f"-{ms[0]['name']}" if len(ms) < len(models) else "")
                  for s, ms in groups]
        logger.info("pseudo-online evaluation of %d model(s) on %s, subjects %s: %d task(s)",
                    len(models), code, subjects, len(tasks))
        outputs = ex.map(pseudo_online_task, tasks, labels, "pseudo-online", progress)
    all_pred, all_metrics = [], []
    for subject in subjects:
        pred, metrics = _subject_outputs(subject, groups, outputs)
        all_pred += pred
        all_metrics += metrics
        if out_dir is not None:
            plot_subject_timeline(all_pred, subject, code, out_dir)
    return finish_pseudo_online(all_pred, all_metrics, code, out_dir)


def _subject_outputs(subject, groups, outputs):
    """A subject's predictions and metrics, in the local order: session, then model."""
    predictions, metrics = [], []
    mine = [out for (s, _), out in zip(groups, outputs) if s == subject]
    for k, (session, _, _) in enumerate(mine[0]):
        for out in mine:
            other, pred, rows = out[k]
            if other != session:
                raise ClusterError(f"subject {subject}: workers disagree on the sessions "
                                   f"({session!r} vs {other!r}); check their data folders.")
            predictions.append(pred)
            metrics += rows
    return predictions, metrics
