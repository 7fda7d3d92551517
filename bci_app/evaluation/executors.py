"""Where the tasks of an evaluation run: in this process, or on a Dask cluster.

An evaluation (:mod:`bci_app.evaluation.distributed`) is split into independent tasks: a
module-level function of bci-app and a small, picklable description (a dict). An executor
runs them and returns their results in the order of the tasks:

:class:`LocalExecutor`
    In this process, one task after the other (the default).
:class:`DaskExecutor`
    On the workers of a Dask cluster (``dask.distributed``): an existing scheduler, a new
    cluster of local worker processes, or a client given by the caller.

Both take the same tasks and give the same results; :func:`make_executor` builds one from
the command line's ``--scheduler`` / ``--local-cluster``. An executor is a context manager:
the cluster is connected (or started) on entry and closed on exit; entering it again while
it is open reuses the connection, so a caller may hold it open over several evaluations.

A task that fails on bad data or settings (a bci-app error, the same wherever it runs)
returns a :class:`Refused` instead of raising (see :func:`returns_refusals`): a cluster
neither retries it nor logs it as a failure, and the executor raises the error here.
"""

import contextlib
import functools
import os

from .. import __version__
from .._logging import logger
from ..errors import BCIAppError, ConfigError, DataError
from .local_data import no_network

#: Times a task that raises an error is run again before the evaluation fails.
DEFAULT_RETRIES = 2
#: Seconds allowed to connect to a scheduler.
CONNECT_TIMEOUT = 10.0
#: Seconds allowed for a first worker to join the scheduler.
WORKER_TIMEOUT = 60.0
#: Environment variables a local cluster's workers receive from this process (and every
#: ``MNE_DATASETS_<SIGN>_PATH``: where MOABB finds each dataset).
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


def _check_one_place(scheduler, local_cluster, client):
    if sum(x is not None for x in (scheduler, local_cluster, client)) != 1:
        raise ConfigError("give one of a scheduler address (--scheduler) or a number of "
                          "local workers (--local-cluster).")


class Refused:
    """What a task returns instead of raising a bci-app error (bad data or settings).

    Such errors are the same on every worker: returned, they are neither retried nor
    logged as failures by the workers, and the executor raises them in this process.
    """

    def __init__(self, error):
        self.error = error


def returns_refusals(func):
    """Decorate a task function: a bci-app error it raises is returned as :class:`Refused`.

    The task runs with the network shut for its thread
    (:func:`~bci_app.evaluation.local_data.no_network`): the files of its subjects were
    checked when it resolved its dataset, and if anything still tried to fetch one, the
    task is refused with a DataError instead of downloading.
    """
    @functools.wraps(func)
    def task(desc):
        try:
            with no_network() as attempts:
                try:
                    return func(desc)
                except Exception as err:
                    if attempts and not isinstance(err, BCIAppError):
                        raise DataError(
                            f"reading the data tried to reach the network ({attempts[0]}): "
                            "a file of the dataset is missing under the MNE data folder "
                            f"({type(err).__name__}: {err}); bci-app never downloads data. "
                            "Put the dataset's files there, or use --subjects to keep "
                            "those that are.") from err
                    raise
        except BCIAppError as err:
            return Refused(err)

    return task


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
    _check_one_place(scheduler, local_cluster, client)
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
            env = {k: v for k, v in os.environ.items() if k in FORWARDED_ENV or
                   (k.startswith("MNE_DATASETS_") and k.endswith("_PATH"))}
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
                    if isinstance(results[i], Refused):
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



# ---------------------------------------------------------------------------------------
# Executors
# ---------------------------------------------------------------------------------------


class LocalExecutor:
    """Runs the tasks in this process, one after the other.

    Attributes
    ----------
    n_slots : int
        Tasks run at once: 1.
    """

    n_slots = 1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __repr__(self):
        return "LocalExecutor()"

    def map(self, func, tasks, labels, desc, progress=True):
        """Run ``func(task)`` for every task; the results in the order of ``tasks``.

        Parameters
        ----------
        func : callable
            A task function (see :func:`returns_refusals`).
        tasks : list of dict
        labels : list of str
            A readable name per task (for :class:`DaskExecutor`'s messages; unused here).
        desc : str
            Progress bar label.
        progress : bool

        Returns
        -------
        results : list
        """
        from tqdm import tqdm

        results = []
        for task in tqdm(tasks, desc=desc, unit="task", disable=not progress):
            result = func(task)
            if isinstance(result, Refused):
                raise result.error
            results.append(result)
        return results


class DaskExecutor:
    """Runs the tasks on a Dask cluster (see :func:`cluster_client`, :func:`run_tasks`).

    Parameters
    ----------
    scheduler : str | None
        Address of a running scheduler, e.g. ``"tcp://10.0.0.5:8786"``.
    local_cluster : int | None
        Start a cluster of this many local worker processes (closed with the executor).
    client : distributed.Client | None
        Use this client (left open).
    retries : int
        Runs again of a task that raises an unexpected error.
    timeout, worker_timeout : float
        Seconds to wait for the scheduler, and for a first worker.

    Exactly one of ``scheduler``, ``local_cluster`` and ``client``. The cluster is connected
    (or started) when the executor is entered, and closed when the outermost ``with`` ends.

    Attributes
    ----------
    client : distributed.Client | None
        While the executor is open.
    """

    def __init__(self, scheduler=None, local_cluster=None, client=None,
                 retries=DEFAULT_RETRIES, timeout=CONNECT_TIMEOUT,
                 worker_timeout=WORKER_TIMEOUT):
        _check_one_place(scheduler, local_cluster, client)
        self._place = {"scheduler": scheduler, "local_cluster": local_cluster,
                       "client": client}
        self.retries = int(retries)
        self.timeout, self.worker_timeout = timeout, worker_timeout
        self.client = None
        self._stack = None
        self._depth = 0

    def __repr__(self):
        place = {k: v for k, v in self._place.items() if v is not None}
        return f"DaskExecutor({', '.join(f'{k}={v!r}' for k, v in place.items())})"

    def __enter__(self):
        if self._depth == 0:
            with contextlib.ExitStack() as stack:
                self.client = stack.enter_context(cluster_client(
                    **self._place, timeout=self.timeout, worker_timeout=self.worker_timeout))
                self._stack = stack.pop_all()
        self._depth += 1
        return self

    def __exit__(self, *exc):
        self._depth -= 1
        if self._depth == 0:
            stack, self._stack, self.client = self._stack, None, None
            stack.close()
        return False

    def _open_client(self):
        if self.client is None:
            raise RuntimeError("a DaskExecutor runs tasks inside `with executor:` only.")
        return self.client

    @property
    def n_slots(self):
        """Tasks the cluster runs at once: its worker threads."""
        return _n_slots(self._open_client())

    def map(self, func, tasks, labels, desc, progress=True):
        """Run ``func(task)`` for every task on the cluster: :func:`run_tasks`."""
        return run_tasks(self._open_client(), func, tasks, labels, desc, progress,
                         self.retries)


def make_executor(scheduler=None, local_cluster=None, client=None, retries=DEFAULT_RETRIES):
    """The executor of where the work runs: a Dask cluster if one is named, else here.

    Parameters
    ----------
    scheduler, local_cluster, client
        At most one: see :class:`DaskExecutor`. None of them: a :class:`LocalExecutor`.
    retries : int
        Of a :class:`DaskExecutor`.

    Returns
    -------
    executor : LocalExecutor | DaskExecutor
    """
    if scheduler is None and local_cluster is None and client is None:
        return LocalExecutor()
    return DaskExecutor(scheduler, local_cluster, client, retries=retries)
