"""Evaluations split into tasks: the same results whether the tasks run in this process or
on a Dask cluster, and a killed worker loses nothing.

A LocalCluster of 2 worker processes on 127.0.0.1 runs the tasks; SyntheticMI keeps it fast.
"""

import os
import signal
import socket
import sys
import threading

import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

from bci_app.cli import main  # noqa: E402
from bci_app.decoding.loading import load_models  # noqa: E402
from bci_app.errors import ConfigError  # noqa: E402
from bci_app.evaluation.datasets import resolve_dataset  # noqa: E402
from bci_app.evaluation.distributed import (  # noqa: E402
    ClusterError,
    cluster_client,
    evaluate_distributed,
    pseudo_online_distributed,
)
from bci_app.evaluation.executors import (  # noqa: E402
    DaskExecutor,
    LocalExecutor,
    make_executor,
)
from bci_app.evaluation.offline import evaluate_models  # noqa: E402
from bci_app.evaluation.pseudo_online import run_pseudo_online  # noqa: E402
from bci_app.processing.calibration import PseudoOnlineConfig  # noqa: E402

MODELS = ["TS+LR", "MDM"]
pytestmark = pytest.mark.filterwarnings("ignore:Creating a dataset without passing data")


@pytest.fixture(scope="module")
def specs():
    from pathlib import Path

    return load_models(Path(__file__).resolve().parents[2] / "models", names=MODELS)


@pytest.fixture(scope="module")
def cluster(dask_cluster):
    """Two worker processes (one thread each) on loopback (tests/conftest.py)."""
    return dask_cluster


@pytest.fixture(scope="module")
def local_within(specs):
    """The local within-session evaluation of subjects 1 and 2 (the reference of the runs
    on the cluster). A subject's rows do not depend on the other subjects evaluated with it
    (folds and seeds are per subject and session): :func:`_subject` keeps one's."""
    return evaluate_models(specs, resolve_dataset("SyntheticMI", [1, 2]),
                           evaluation="within-session", progress=False)


def _subject(results, subject):
    """The rows of one subject."""
    return results[results["subject"].astype(str) == str(subject)]


def _same_rows(local, remote):
    """Same columns, rows and order; MOABB's measured fit time aside."""
    assert list(local.columns) == list(remote.columns)
    pd.testing.assert_frame_equal(local.drop(columns="time").reset_index(drop=True),
                                  remote.drop(columns="time").reset_index(drop=True),
                                  check_exact=False, rtol=1e-6)


@pytest.mark.parametrize("evaluation,grain", [("within-session", "subject-model"),
                                              ("within-session", "subject"),
                                              ("cross-subject", "auto")])
def test_evaluate_on_cluster_equals_local_run(cluster, specs, local_within, tmp_path,
                                              evaluation, grain):
    local = local_within if evaluation == "within-session" else evaluate_models(
        specs, resolve_dataset("SyntheticMI", [1, 2]), evaluation=evaluation, progress=False)
    remote = evaluate_distributed(specs, "SyntheticMI", [1, 2], evaluation=evaluation,
                                  client=cluster, grain=grain, out_dir=tmp_path,
                                  progress=False)
    assert len(remote) == len(MODELS) * 2 * 2  # models x subjects x sessions
    _same_rows(local, remote)
    _same_rows(local, pd.read_csv(tmp_path / "results.csv", dtype={"subject": str,
                                                                  "session": str})
               .astype(local.dtypes.to_dict()))


def test_pseudo_online_on_cluster_equals_local_run(cluster, specs, tmp_path):
    cfg = PseudoOnlineConfig(step_s=0.5)
    local_pred, local_metrics = run_pseudo_online(
        specs, resolve_dataset("SyntheticMI", [2, 3]), cfg, out_dir=tmp_path / "local",
        progress=False)
    pred, metrics = pseudo_online_distributed(specs, cfg, dataset="SyntheticMI",
                                              subjects=[2, 3], client=cluster,
                                              out_dir=tmp_path / "dask", progress=False)
    pd.testing.assert_frame_equal(local_pred, pred)
    pd.testing.assert_frame_equal(local_metrics, metrics)
    for name in ("predictions.csv", "metrics.csv"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes()
    assert (tmp_path / "dask" / "timeline_S3.png").stat().st_size > 10_000


def test_local_executor_gives_the_local_run(specs, local_within, tmp_path):
    """The task path in this process: the rows of evaluate_models, the files of
    run_pseudo_online (what `bci-app evaluate/pseudo-online` run without a cluster)."""
    tasks = evaluate_distributed(specs, "SyntheticMI", [1], executor=LocalExecutor(),
                                 progress=False)
    assert len(tasks) == len(MODELS) * 2  # models x sessions
    _same_rows(_subject(local_within, 1), tasks)
    cfg = PseudoOnlineConfig(step_s=0.5)
    run_pseudo_online(specs, resolve_dataset("SyntheticMI", [2]), cfg,
                      out_dir=tmp_path / "local", progress=False)
    pseudo_online_distributed(specs, cfg, dataset="SyntheticMI", subjects=[2],
                              out_dir=tmp_path / "tasks", progress=False)  # default: here
    for name in ("predictions.csv", "metrics.csv"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "tasks" / name).read_bytes()


def test_executors_are_built_from_where_the_work_runs(cluster, specs, local_within):
    assert isinstance(make_executor(), LocalExecutor)
    with pytest.raises(ConfigError, match="give one of a scheduler address"):
        make_executor(scheduler="tcp://127.0.0.1:1", local_cluster=2)
    with pytest.raises(ConfigError, match="an executor or a cluster"):
        evaluate_distributed(specs, "SyntheticMI", [1], executor=LocalExecutor(),
                             client=cluster)
    executor = make_executor(client=cluster)
    assert isinstance(executor, DaskExecutor) and executor.client is None
    one = specs[:1]  # one model is enough to see the connection held over two evaluations
    with executor:  # held open over two evaluations: one connection
        first = evaluate_distributed(one, "SyntheticMI", [1], executor=executor,
                                     progress=False)
        assert executor.client is cluster and executor.n_slots == 2
        second = evaluate_distributed(one, "SyntheticMI", [1], executor=executor,
                                      progress=False)
        assert executor.client is cluster
    assert executor.client is None and cluster.status == "running"  # a given client stays
    _same_rows(first, second)
    local = _subject(local_within, 1)
    _same_rows(local[local["pipeline"] == one[0].name], first)


class KillFirstTask(distributed.WorkerPlugin):
    """Kills its worker process (SIGKILL) shortly after the first task starts, once."""

    def __init__(self, marker, prefix, delay=0.3):
        self.marker, self.prefix, self.delay = str(marker), prefix, delay

    def transition(self, key, start, finish, **kwargs):
        if finish != "executing" or not str(key).startswith(self.prefix):
            return
        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:  # already done, by this worker or another
            return
        os.write(fd, f"{key}\n{os.getpid()}".encode())
        os.close(fd)
        threading.Timer(self.delay, os.kill, (os.getpid(), signal.SIGKILL)).start()


def test_worker_killed_mid_task_gives_complete_results(cluster, specs, local_within,
                                                       tmp_path):
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers lack this module
    marker = tmp_path / "killed"
    pids_before = set(cluster.run(os.getpid).values())
    cluster.register_plugin(KillFirstTask(marker, "bci-app-offline-task"), name="kill-once")
    try:
        remote = evaluate_distributed(specs, "SyntheticMI", [1, 2], client=cluster,
                                      grain="subject-model", progress=False)
    finally:
        cluster.unregister_worker_plugin("kill-once")
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    key, pid = marker.read_text().splitlines()
    assert int(pid) in pids_before  # a worker did die in the middle of a task
    assert int(pid) not in set(cluster.run(os.getpid).values())
    # The scheduler's story of the killed task in this run (the same pure task ran in an
    # earlier test; each run ends with its result released: memory -> forgotten).
    runs, current = [], []
    for s in cluster.story(key):
        if s[0] == "scheduler":
            current.append((s[2], s[3]))
            if current[-1] == ("memory", "forgotten"):
                runs.append(current)
                current = []
    story = runs[-1]
    assert ("processing", "released") in story  # lost with its worker, then run again
    assert story.count(("processing", "memory")) == 1
    rows = remote[["pipeline", "subject", "session"]]
    assert len(remote) == len(MODELS) * 2 * 2 and not rows.duplicated().any()
    _same_rows(local_within, remote)


def test_cli_runs_on_a_scheduler_or_a_local_cluster(cluster, tmp_path, models_dir, capsys):
    common = ["--dataset", "SyntheticMI", "--subjects", "2", "--models", str(models_dir),
              "--only", "TS+LR", "--no-progress"]
    address = cluster.scheduler.address
    assert main(["evaluate", *common, "--out", str(tmp_path / "ev"),
                 "--scheduler", address]) == 0
    results = pd.read_csv(tmp_path / "ev" / "results.csv")
    assert len(results) == 2 and set(results["dataset"]) == {"SyntheticMI"}
    assert "SyntheticMI left-right, within-session" in capsys.readouterr().out
    assert main(["pseudo-online", *common, "--step", "0.5", "--out", str(tmp_path / "po"),
                 "--local-cluster", "1"]) == 0
    assert len(pd.read_csv(tmp_path / "po" / "metrics.csv")) == 2  # two sessions
    assert (tmp_path / "po" / "timeline_S2.png").is_file()


def test_cli_cluster_options_are_exclusive(capsys):
    with pytest.raises(SystemExit) as err:
        main(["evaluate", "--scheduler", "tcp://127.0.0.1:8786", "--local-cluster", "2"])
    assert err.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_unreachable_scheduler_is_named_in_the_error():
    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(ClusterError, match=f"cannot reach the Dask scheduler at {address}"):
        with cluster_client(scheduler=address, timeout=1):
            pass


def test_worker_side_data_error_reaches_the_client(cluster, specs):
    with pytest.raises(ConfigError, match=r"no subject\(s\) \[42\].*task inspect on the Dask"):
        evaluate_distributed(specs, "SyntheticMI", [42], client=cluster, progress=False)
