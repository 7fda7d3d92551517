"""Shared fixtures: the real EEG beside the project, and a clean environment for MOABB."""

import os
import shutil
import time
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_MNE_DATA = PROJECT_ROOT.parent / "shared" / "data" / "mne_data"
PHYSIONET_DIR = SHARED_MNE_DATA / "MNE-eegbci-data" / "files" / "eegmmidb" / "1.0.0"

os.environ.setdefault("MOABB_DOWNLOAD_PROVIDER", "upstream")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# One BLAS/OpenMP thread per process (set before numpy is first imported; inherited by the
# processes the tests start; a value set by the user wins). The suite shares small machines
# with other work, where OpenBLAS's spinning worker threads, oversubscribed, make the
# numerical tests several times slower (a simulated `bci-app train` beside two busy
# processes on 2 cores: 25-50 s with 2 threads, 9-12 s with 1). The online decoder and
# the GUI's training limit themselves to one thread for the same reason.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

# Keep every LSL stream of the tests on this machine, before any outlet/inlet exists.
from bci_app.acquisition.lsl import use_loopback  # noqa: E402

use_loopback()

from bci_app.resources import HOME_ENV, shipped_dir  # noqa: E402


def physionet_available(subjects=(1,), runs=(4, 8, 12)):
    """True when the PhysioNet EDF files of these subjects/runs are beside the project."""
    return all((PHYSIONET_DIR / f"S{s:03d}" / f"S{s:03d}R{r:02d}.edf").is_file()
               for s in subjects for r in runs)


@pytest.fixture
def mne_data(monkeypatch):
    """The shared MNE data folder, or skip when it is absent (as in a fresh clone)."""
    if not physionet_available((1, 2)):
        pytest.skip(f"real EEG not found in {SHARED_MNE_DATA} (absent in a fresh clone)")
    monkeypatch.setenv("MNE_DATA", str(SHARED_MNE_DATA))
    monkeypatch.setenv("MNE_DATASETS_EEGBCI_PATH", str(SHARED_MNE_DATA))
    return SHARED_MNE_DATA


@pytest.fixture(autouse=True, scope="session")
def _user_data_folder(tmp_path_factory):
    """An empty user data folder: the developer's own models/protocols never enter a test."""
    os.environ[HOME_ENV] = str(tmp_path_factory.mktemp("bci-app-home"))
    yield


@pytest.fixture(scope="session")
def wait_until():
    """``wait_until(predicate, timeout=60.0, what="a condition", interval=0.02,
    pause=time.sleep)``: check ``predicate`` every ``interval`` s until it is true, or fail
    the test naming ``what``.

    Waits are for events, never for a fixed time; the deadline is generous because the
    machine may be loaded (it only bounds a failing test). ``pause`` is how to spend the
    interval (e.g. processing Qt events instead of sleeping)."""
    def wait(predicate, timeout=60.0, what="a condition", interval=0.02, pause=time.sleep):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            pause(interval)
        pytest.fail(f"timed out after {timeout} s waiting for {what}")

    return wait


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory):
    """A copy of the shipped models: tests never write into the source tree (MOABB's parser
    leaves lock files beside the files it reads)."""
    folder = tmp_path_factory.mktemp("models") / "models"
    shutil.copytree(shipped_dir("models"), folder)
    return folder


@pytest.fixture(scope="session")
def dask_cluster():
    """A client of a Dask LocalCluster: two worker processes (one thread each) on loopback,
    sharing this environment. One for the whole run: each worker process imports bci-app,
    MNE and MOABB once, whichever test module sends it tasks (skipped without the
    ``cluster`` extra)."""
    distributed = pytest.importorskip("distributed",
                                      reason="the cluster extra is not installed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address="127.0.0.1:0") as lc, \
            distributed.Client(lc) as client:
        yield client


def _holds(seq, part):
    """True if ``part`` appears in ``seq`` as a contiguous run."""
    return any(seq[k:k + len(part)] == part for k in range(len(seq) - len(part) + 1))


@pytest.fixture(scope="session")
def replay_until_one_pass():
    """``replay_until_one_pass(argv, name, one_pass, timeout)``: run ``bci-app replay``
    (``argv``, with ``--loop``) in its own process, pull the markers of its
    ``<name>-annotations`` stream until ``one_pass`` (a list of markers) was received whole,
    then stop it with Ctrl-C (SIGINT). Returns (markers received, stdout, stderr, exit code).
    ``before_pull(name)`` runs once the process is started (e.g. to check its EEG stream)."""
    import signal
    import subprocess
    import sys

    from mne_lsl.lsl import StreamInlet, resolve_streams

    def run(argv, name, one_pass, timeout=120, before_pull=None):
        app = subprocess.Popen([sys.executable, "-m", "bci_app", "replay", *argv],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ))
        got = []
        try:
            if before_pull is not None:
                before_pull(name)
            # Connect as soon as the marker stream appears (not after a resolve round of
            # 0.5 s): the first pass is then usually received whole, not the second.
            (markers,) = resolve_streams(timeout=60, name=f"{name}-annotations") or [None]
            assert markers is not None, f"no stream {name}-annotations within 60 s"
            inlet = StreamInlet(markers)
            inlet.open_stream(timeout=60)
            try:
                deadline = time.monotonic() + timeout
                while not _holds(got, one_pass) and time.monotonic() < deadline:
                    values, _ = inlet.pull_chunk(timeout=0.2)
                    got += [v[0] for v in values]
            finally:
                inlet._del()
            assert app.poll() is None, app.communicate()[1]
            app.send_signal(signal.SIGINT)
            out, err = app.communicate(timeout=60)
        finally:
            if app.poll() is None:
                app.kill()
                app.communicate()
        return got, out, err, app.returncode

    run.holds = _holds
    return run
