"""Offline and pseudo-online evaluations on a Dask cluster (``dask.distributed``).

The work of :func:`~bci_app.evaluation.offline.evaluate_models` and
:func:`~bci_app.evaluation.pseudo_online.run_pseudo_online` is split into independent
tasks, run on the workers of a Dask cluster, and gathered by this process, which writes
the same outputs as a local run (same rows, same columns, same order; only the ``time``
column of MOABB, a measured fit time, differs).

Task grain
    Within-session and cross-session evaluations, and pseudo-online evaluations, run one
    task per subject (all models: the subject's data are read once), or one task per
    (subject, model) when there are too few subjects to keep every worker busy
    (``grain="auto"``). Cross-subject evaluations need every subject at once: one task
    per model.

What a task carries
    Only a small, pure description: the dataset name, the subject(s), the paradigm, the
    settings, and the text of the model's YAML file. Each worker builds the dataset and
    the pipeline itself, from its own install of bci-app and its own MNE data folder
    (``MNE_DATA`` in the worker's environment, or ``data_path`` as seen by the workers).
    No data and no fitted object travel to the workers; only result tables come back.

Failures
    A task that fails unexpectedly is retried (``retries``, default 2); a task whose worker
    dies is rescheduled on another worker by the scheduler. Errors about the data or the
    settings (bci-app's own errors) are the same on every worker: they stop the evaluation
    at once, with the task named. Each task writes nothing shared (its
    MOABB result cache is a temporary folder of its own), and this process keeps exactly
    one result per task key, so a retried task never duplicates or loses rows.
"""

import contextlib
import dataclasses
import functools
import os
import tempfile
import warnings
from pathlib import Path

from .. import __version__
from .._logging import logger
from ..errors import BCIAppError, ConfigError

#: Times a task that raises an error is run again before the evaluation fails.
DEFAULT_RETRIES = 2
#: Seconds allowed to connect to a scheduler.
CONNECT_TIMEOUT = 10.0
#: Seconds allowed for a first worker to join the scheduler.
WORKER_TIMEOUT = 60.0
#: Environment variables a local cluster's workers receive from this process.
FORWARDED_ENV = ("MNE_DATA", "MNE_DATASETS_EEGBCI_PATH", "MOABB_DOWNLOAD_PROVIDER",
                 "MPLBACKEND", "LSLAPICFG")
#: Packages whose versions should match between this process and the workers.
CHECKED_PACKAGES = ("moabb", "mne", "scikit-learn", "pyriemann", "numpy", "scipy")


class ClusterError(BCIAppError, RuntimeError):
    """The Dask cluster cannot be reached, has no usable worker, or lost a task."""


def _distributed():
    try:
        import distributed
    except ImportError as err:
        raise ConfigError(
            "running on a Dask cluster needs dask.distributed, which is not installed: "
            "pip install 'dask[distributed]' (in this environment and on every worker)."
        ) from err
    return distributed


# ---------------------------------------------------------------------------------------
# Connection
# ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def cluster_client(scheduler=None, local_cluster=None, client=None,
                   timeout=CONNECT_TIMEOUT, worker_timeout=WORKER_TIMEOUT):
    """A Dask client on an existing scheduler, a new local cluster, or the one given.

    Parameters
    ----------
    scheduler : str | None
        Address of a running scheduler, e.g. ``"tcp://10.0.0.5:8786"``.
    local_cluster : int | None
        Start a :class:`distributed.LocalCluster` of this many worker processes (one
        thread each, on 127.0.0.1 only), closed on exit.
    client : distributed.Client | None
        Use this client (left open on exit).
    timeout : float
        Seconds to wait for the scheduler.
    worker_timeout : float
        Seconds to wait for a first worker.

    Yields
    ------
    client : distributed.Client
        Checked: at least one worker runs bci-app at this version.
    """
    given = [x is not None for x in (scheduler, local_cluster, client)]
    if sum(given) != 1:
        raise ConfigError("give one of a scheduler address (--scheduler) or a number of "
                          "local workers (--local-cluster).")
    dd = _distributed()
    with contextlib.ExitStack() as stack:
        if client is not None:
            where = f"the scheduler at {client.scheduler.address}"
        elif scheduler is not None:
            where = f"the scheduler at {scheduler}"
            try:
                client = stack.enter_context(dd.Client(scheduler, timeout=timeout))
            except (OSError, ValueError) as err:
                raise ClusterError(
                    f"cannot reach the Dask scheduler at {scheduler} ({err}). Check that a "
                    f"scheduler runs there (`dask scheduler`), that this machine can reach "
                    "its host and port (firewall, tunnel), and that the address has the form "
                    "tcp://HOST:PORT; or run on this machine with --local-cluster N."
                ) from err
        else:
            n_workers = int(local_cluster)
            if n_workers < 1:
                raise ConfigError(f"--local-cluster {local_cluster}: give at least 1 worker.")
            env = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
            cluster = stack.enter_context(dd.LocalCluster(
                n_workers=n_workers, threads_per_worker=1, processes=True,
                host="127.0.0.1", dashboard_address="127.0.0.1:0", env=env))
            client = stack.enter_context(dd.Client(cluster, timeout=timeout))
            where = f"the local cluster at {cluster.scheduler_address}"
            logger.info("local Dask cluster of %d worker(s) at %s (dashboard %s)", n_workers,
                        cluster.scheduler_address, cluster.dashboard_link)
        check_workers(client, where, worker_timeout)
        yield client


def _worker_info():
    """Runs on each worker: versions and data folder it will use."""
    import importlib.metadata
    import socket

    versions = {}
    for name in CHECKED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {"bci_app": __version__, "versions": versions, "host": socket.gethostname(),
            "pid": os.getpid(), "MNE_DATA": os.environ.get("MNE_DATA")}


def check_workers(client, where="the scheduler", timeout=WORKER_TIMEOUT):
    """Wait for a worker and check that every worker can run bci-app's tasks.

    Raises
    ------
    ClusterError
        No worker joined within ``timeout`` s, a worker cannot import bci-app, or runs
        another version of it.
    """
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (TimeoutError, OSError) as err:
        raise ClusterError(
            f"no worker joined {where} within {timeout:g} s. Start workers in an "
            f"environment where bci-app is installed: `dask worker {client.scheduler.address}`."
        ) from err
    try:
        infos = client.run(_worker_info)
    except Exception as err:  # noqa: BLE001 - any failure means the workers cannot run tasks
        raise ClusterError(
            f"the workers of {where} cannot run bci-app tasks ({type(err).__name__}: {err}). "
            f"Install bci-app {__version__} and its dependencies in every worker's "
            "environment."
        ) from err
    mine = _worker_info()
    for address, info in sorted(infos.items()):
        if info["bci_app"] != __version__:
            raise ClusterError(f"worker {address} runs bci-app {info['bci_app']}, this "
                               f"process {__version__}: install the same version everywhere.")
        diff = {k: (v, mine["versions"][k]) for k, v in info["versions"].items()
                if v != mine["versions"][k]}
        if diff:
            logger.warning("worker %s: package versions differ from this process "
                           "(worker, here): %s; results may differ from a local run",
                           address, diff)
        logger.info("worker %s on %s (pid %s): MNE_DATA=%s", address, info["host"],
                    info["pid"], info["MNE_DATA"])
    return infos


def _n_slots(client):
    workers = client.scheduler_info(n_workers=-1)["workers"].values()
    return max(1, sum(int(w.get("nthreads", 1)) for w in workers))


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
    with warnings.catch_warnings(), contextlib.ExitStack() as stack:
        if quiet:
            import mne

            stack.enter_context(mne.utils.use_log_level("WARNING"))
            warnings.filterwarnings("ignore", category=FutureWarning, module="moabb")
            warnings.filterwarnings("ignore", message="Montage name 'standard_1005'")
            warnings.filterwarnings("ignore", message="Creating a dataset without passing")
            warnings.filterwarnings("ignore", message="Convergence not reached")
        yield


class _Refused:
    """What a task returns instead of raising a bci-app error (bad data or settings).

    Such errors are the same on every worker: returned, they are neither retried nor
    logged as failures by the workers, and :func:`run_tasks` raises them here.
    """

    def __init__(self, error):
        self.error = error


def _refusals_returned(func):
    @functools.wraps(func)
    def task(desc):
        try:
            return func(desc)
        except BCIAppError as err:
            return _Refused(err)

    return task


def _resolve(task, subjects):
    from .datasets import resolve_dataset

    return resolve_dataset(task["dataset"], subjects, task["paradigm"], task["data_path"])


@_refusals_returned
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


@_refusals_returned
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


@_refusals_returned
def pseudo_online_task(task):
    """Worker task: pseudo-online evaluation of some models on one subject (or file).

    Parameters
    ----------
    task : dict
        ``config`` (fields of :class:`PseudoOnlineConfig`), ``models``, ``subject``,
        ``quiet``, and either ``recording`` + ``event_map`` (a file the worker can read)
        or ``dataset`` + ``paradigm`` + ``data_path``.

    Returns
    -------
    results : list of (session, predictions, metrics)
        As :func:`~bci_app.evaluation.pseudo_online.evaluate_subject` returns them.
    """
    from .pseudo_online import PseudoOnlineConfig, dataset_sessions, evaluate_subject
    from .pseudo_online import file_session

    with _task_context(task["quiet"]):
        cfg = PseudoOnlineConfig(**task["config"])
        specs = [_load_model(m) for m in task["models"]]
        pipelines = {s.name: s.pipeline for s in specs}
        if task.get("recording"):
            sessions = [("0", file_session(task["recording"], task["event_map"]))]
        else:
            dataset = _resolve(task, [task["subject"]])
            sessions = dataset_sessions(dataset, task["subject"])
        return evaluate_subject(sessions, pipelines, cfg, task["subject"])


# ---------------------------------------------------------------------------------------
# Running tasks
# ---------------------------------------------------------------------------------------


def run_tasks(client, func, tasks, labels, desc, progress=True, retries=DEFAULT_RETRIES):
    """Run ``func(task)`` for every task on the cluster; results in the order of ``tasks``.

    Each task gets a key derived from its description (pure: the same description gives
    the same result), is retried ``retries`` times if it raises an unexpected error, and is
    rescheduled by the scheduler if its worker dies. Exactly one result is kept per task.
    A bci-app error of a task (bad data or settings, the same on any worker) is raised here
    at once, with the task named.

    Parameters
    ----------
    client : distributed.Client
    func : callable
        A module-level function of bci-app (workers import it).
    tasks : list of dict
        Small, picklable descriptions.
    labels : list of str
        A readable name per task, for keys and messages.
    desc : str
        Progress bar label.
    progress : bool
    retries : int

    Returns
    -------
    results : list
    """
    from dask.base import tokenize
    from tqdm import tqdm

    dd = _distributed()
    prefix = func.__name__.replace("_", "-")
    futures = {}
    for i, (task, label) in enumerate(zip(tasks, labels)):
        key = f"bci-app-{prefix}-{label}-{tokenize(func.__name__, task)}"
        futures[client.submit(func, task, key=key, pure=True, retries=retries)] = i
    results, done = [None] * len(tasks), set()
    try:
        with tqdm(total=len(tasks), desc=desc, unit="task", disable=not progress) as bar:
            for future in dd.as_completed(list(futures)):
                i = futures[future]
                if i in done:
                    continue
                try:
                    results[i] = future.result()
                    if isinstance(results[i], _Refused):
                        raise results[i].error
                except dd.KilledWorker as err:
                    raise ClusterError(
                        f"task {labels[i]} was rescheduled after each of its workers died "
                        f"and was given up ({err}). Check the workers' memory limits and "
                        "logs."
                    ) from err
                except BCIAppError as err:
                    raise type(err)(f"{err} (task {labels[i]} on the Dask cluster)") from err
                done.add(i)
                bar.update(1)
    finally:
        client.cancel(list(futures))
    return results


def _grain(grain, n_subjects, n_slots):
    if grain not in ("auto", "subject", "subject-model"):
        raise ConfigError(f"grain {grain!r}: use 'auto', 'subject' or 'subject-model'.")
    if grain == "auto":
        return "subject" if n_subjects >= 2 * n_slots else "subject-model"
    return grain


def _per_subject_tasks(subjects, models, grain):
    """(subject, models) groups in the local run's order: subjects, then models."""
    if grain == "subject":
        return [(s, list(models)) for s in subjects]
    return [(s, [m]) for s in subjects for m in models]


# ---------------------------------------------------------------------------------------
# Offline evaluation
# ---------------------------------------------------------------------------------------


def evaluate_distributed(specs, dataset, subjects=None, paradigm="left-right",
                         evaluation="within-session", out_dir=None, n_jobs=1,
                         random_state=42, fmin=8.0, fmax=35.0, data_path=None,
                         progress=True, scheduler=None, local_cluster=None, client=None,
                         retries=DEFAULT_RETRIES, grain="auto", quiet=True):
    """Evaluate models with MOABB on a Dask cluster; same results as :func:`evaluate_models`.

    Parameters
    ----------
    specs : list of ModelSpec
        Models from :func:`bci_app.decoding.load_models`; their YAML text is sent to the
        workers, which build the pipelines themselves.
    dataset : str
        A dataset name for :func:`~bci_app.evaluation.datasets.resolve_dataset`, resolved
        on the workers from their own MNE data folder.
    subjects : list of int | None
        Subjects (None: all, as the workers see them).
    paradigm, evaluation, n_jobs, random_state, fmin, fmax
        As :func:`~bci_app.evaluation.offline.evaluate_models` (``n_jobs`` per task).
    out_dir : str | Path | None
        Where this process writes ``results.csv``.
    data_path : str | None
        MNE data folder *as seen by the workers* (default: each worker's ``MNE_DATA``).
    progress : bool
        Progress bar of the finished tasks.
    scheduler, local_cluster, client
        Where to run: see :func:`cluster_client` (exactly one).
    retries : int
        Runs again of a task that raises.
    grain : {"auto", "subject", "subject-model"}
        Task per subject, or per (subject, model); ``"auto"`` takes the subject when there
        are at least twice as many subjects as worker threads. Cross-subject: per model.
    quiet : bool
        Keep MNE's and MOABB's chatter off the workers' logs.

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
    with cluster_client(scheduler, local_cluster, client) as cl:
        info, = run_tasks(cl, inspect_dataset_task,
                          [dict(base, subjects=subjects, recording_info=True)],
                          ["inspect"], "dataset", progress=False, retries=retries)
        check_evaluation(evaluation, info["code"], info["n_sessions"], len(info["subjects"]))
        subjects = info["subjects"]
        common = dict(base, evaluation=evaluation, sfreq=info["sfreq"],
                      ch_names=info["ch_names"], n_jobs=int(n_jobs),
                      random_state=random_state)
        if evaluation == "cross-subject":
            groups = [(subjects, [m]) for m in models]
            labels = [m["name"] for m in models]
        else:
            grain = _grain(grain, len(subjects), _n_slots(cl))
            groups = [([s], ms) for s, ms in _per_subject_tasks(subjects, models, grain)]
            labels = [f"S{s[0]}" + (f"-{ms[0]['name']}" if grain != "subject" else "")
                      for s, ms in groups]
        tasks = [dict(common, subjects=list(s), models=ms) for s, ms in groups]
        logger.info("%s evaluation of %d model(s) on %s, subjects %s: %d task(s)",
                    evaluation, len(models), info["code"], subjects, len(tasks))
        outputs = run_tasks(cl, offline_task, tasks, labels,
                            f"{evaluation} {info['code']}", progress, retries)
    parts = []
    if evaluation == "cross-subject":
        parts = [df for out in outputs for _, df in out]
    else:
        # MOABB orders the rows of a subject by pipeline digest; keep that order.
        by_subject = {}
        for (s, _), out in zip(groups, outputs):
            by_subject.setdefault(s[0], []).extend(out)
        for s in subjects:
            parts += [df for _, df in sorted(by_subject[s], key=lambda x: x[0])]
    return finish_results(parts, evaluation, paradigm, out_dir)


# ---------------------------------------------------------------------------------------
# Pseudo-online evaluation
# ---------------------------------------------------------------------------------------


def pseudo_online_distributed(specs, cfg, dataset=None, subjects=None, paradigm="left-right",
                              recording=None, event_map=None, data_path=None, out_dir=None,
                              progress=True, scheduler=None, local_cluster=None,
                              client=None, retries=DEFAULT_RETRIES, grain="auto",
                              quiet=True):
    """Pseudo-online evaluation on a Dask cluster; same outputs as :func:`run_pseudo_online`.

    Parameters
    ----------
    specs : list of ModelSpec
    cfg : PseudoOnlineConfig
    dataset : str | None
        A dataset name, resolved on the workers (their own MNE data folder).
    subjects : list of int | None
        Subjects of ``dataset`` (None: all).
    paradigm : str
        For :func:`~bci_app.evaluation.datasets.resolve_dataset`.
    recording : str | Path | None
        Instead of ``dataset``: a recording file, at this path on every worker (a shared
        file system); one task per model.
    event_map : dict | None
        Annotation renaming of ``recording``.
    data_path : str | None
        MNE data folder as seen by the workers (default: each worker's ``MNE_DATA``).
    out_dir : str | Path | None
        Where this process writes ``predictions.csv``, ``metrics.csv`` and the timelines.
    progress : bool
    scheduler, local_cluster, client, retries, grain, quiet
        As :func:`evaluate_distributed`.

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
    with cluster_client(scheduler, local_cluster, client) as cl:
        if recording is not None:
            recording = str(Path(recording).resolve())
            code, subjects = Path(recording).stem, ["file"]
            base.update(recording=recording, event_map=dict(event_map or {}))
            groups = [("file", [m]) for m in models]
        else:
            base.update(dataset=dataset, paradigm=paradigm, data_path=data_path)
            info, = run_tasks(cl, inspect_dataset_task, [dict(base, subjects=subjects)],
                              ["inspect"], "dataset", progress=False, retries=retries)
            code, subjects = info["code"], info["subjects"]
            groups = _per_subject_tasks(subjects, models, _grain(grain, len(subjects),
                                                                 _n_slots(cl)))
        tasks = [dict(base, subject=s, models=ms) for s, ms in groups]
        labels = [f"S{s}" + (f"-{ms[0]['name']}" if len(ms) < len(models) else "")
                  for s, ms in groups]
        logger.info("pseudo-online evaluation of %d model(s) on %s, subjects %s: %d task(s)",
                    len(models), code, subjects, len(tasks))
        outputs = run_tasks(cl, pseudo_online_task, tasks, labels, "pseudo-online",
                            progress, retries)
    # The local order: subject, then session, then model.
    all_pred, all_metrics = [], []
    for subject in subjects:
        mine = [out for (s, _), out in zip(groups, outputs) if s == subject]
        for k, (session, _, _) in enumerate(mine[0]):
            for out in mine:
                other, pred, metrics = out[k]
                if other != session:
                    raise ClusterError(f"subject {subject}: workers disagree on the sessions "
                                       f"({session!r} vs {other!r}); check their data folders.")
                all_pred.append(pred)
                all_metrics += metrics
        if out_dir is not None:
            plot_subject_timeline(all_pred, subject, code, out_dir)
    return finish_pseudo_online(all_pred, all_metrics, code, out_dir)
