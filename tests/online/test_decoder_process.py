"""The online decoder in its own process: same decisions, its own pid, clear start errors."""

import os
import signal
import uuid
from pathlib import Path

import numpy as np
import pytest

from bci_app.acquisition.lsl import use_loopback
from bci_app.acquisition.simulation import make_trial_schedule, simulate_mi_raw
from bci_app.acquisition.simulator import SimulatedAmplifier
from bci_app.decoding.loading import read_model_file
from bci_app.errors import ConfigError, StreamError
from bci_app.online.process import DecoderProcess
from bci_app.online.train_model import train_model
from bci_app.processing.calibration import PseudoOnlineConfig
from bci_app.processing.runs import run_from_raw

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", autouse=True)
def loopback():
    return use_loopback()


@pytest.fixture(scope="module")
def trained():
    """MDM on a simulated calibration run (the simulator's montage and rate)."""
    raw = simulate_mi_raw(make_trial_schedule(n_trials_per_class=6, seed=0), skill=1.0,
                          seed=0, artifacts=False)
    return train_model(read_model_file(PROJECT_ROOT / "models" / "mdm.yml"),
                       [run_from_raw(raw)], PseudoOnlineConfig(window_s=1.0, step_s=0.1))


def test_the_decoder_runs_in_its_own_process_and_reports_every_decision(trained, tmp_path,
                                                                       wait_until):
    name = f"proc-sim-{uuid.uuid4().hex[:6]}"
    got, statuses = [], []

    def collect(kind, payload):
        (got if kind == "predictions" else statuses).append(payload)

    with SimulatedAmplifier(name=name, seed=1, skill=1.0, artifacts=False) as amp:
        decoder = DecoderProcess(trained, name, log_dir=tmp_path / "log",
                                 publish=f"{name}-pred", timeout=20)
        decoder.subscribe(collect)
        with decoder:
            assert decoder.pid is not None and decoder.pid != os.getpid()
            wait_until(lambda: sum(len(p) for p in got) >= 20, 120, "20 decisions")
        assert decoder.error is None
    times = np.concatenate([p.times for p in got])
    summary = decoder.summary()
    # Every decision the child made reached the parent, in order, one per step.
    assert summary["windows"] == times.size and np.all(np.diff(times) > 0)
    assert np.allclose(np.diff(times), 0.1, atol=0.02)
    assert {p.classes.tolist() == ["idle", "left_hand", "right_hand"] for p in got} == {True}
    with open(tmp_path / "log" / "predictions.csv") as fh:
        assert sum(1 for _ in fh) == times.size + 1  # its log, header + one row each
    assert statuses[-1].status == "closed"
    assert amp.error is None


def test_a_missing_stream_is_a_clear_error_from_the_child(trained):
    decoder = DecoderProcess(trained, f"no-such-stream-{uuid.uuid4().hex[:6]}", timeout=1.0)
    with pytest.raises(StreamError, match="no-such-stream"):
        decoder.start()
    assert not decoder.is_running


def test_a_prepared_process_loads_the_model_before_its_run_then_decodes_it(trained, wait_until):
    """Started ahead (no stream yet), the process is ready before the run; the run's start
    hands it the stream: the same process decodes it, and it serves that one run only."""
    decoder = DecoderProcess(trained, timeout=20).prepare()
    try:
        assert decoder.wait_ready(120), decoder.error
        prepared_pid = decoder.pid
        assert prepared_pid is not None and prepared_pid != os.getpid()
        assert decoder.serves(trained) and not decoder.serves(None)
        other = train_model(read_model_file(PROJECT_ROOT / "models" / "mdm.yml"),
                            [run_from_raw(simulate_mi_raw(
                                make_trial_schedule(n_trials_per_class=6, seed=1),
                                skill=1.0, seed=1, artifacts=False))],
                            PseudoOnlineConfig(window_s=1.0, step_s=0.1))
        assert not decoder.serves(other)  # never a run of another model
        name = f"ahead-sim-{uuid.uuid4().hex[:6]}"  # the run's stream exists only now
        got = []
        decoder.subscribe(lambda kind, payload: got.append(payload)
                          if kind == "predictions" else None)
        with SimulatedAmplifier(name=name, seed=1, skill=1.0, artifacts=False):
            decoder.start(eeg_name=name, publish=f"{name}-pred")
            assert decoder.pid == prepared_pid  # no new process for the run
            assert not decoder.serves(trained)  # one run per process
            wait_until(lambda: sum(len(p) for p in got) >= 5, 120, "5 decisions")
            decoder.stop()
        assert decoder.error is None and decoder.summary()["windows"] >= 5
        with pytest.raises(ConfigError, match="already served a run"):
            decoder.start(eeg_name=name)
    finally:
        decoder.stop()


def test_a_prepared_process_that_died_before_its_run_is_a_clear_error(trained, wait_until):
    decoder = DecoderProcess(trained, timeout=5).prepare()
    try:
        assert decoder.wait_ready(120), decoder.error
        pid = decoder.pid
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: decoder.error is not None, 30, "the death to be seen")
        assert not decoder.serves(trained) and not decoder.is_ready
        with pytest.raises(StreamError, match=rf"decoder process {pid} ended unexpectedly "
                                              r"before its run \(exit code -9\)"):
            decoder.start(eeg_name="any-stream")
        assert not decoder.is_running
    finally:
        decoder.stop()


def test_a_discarded_process_ends_without_error(trained, wait_until):
    decoder = DecoderProcess(trained, timeout=5).prepare()
    process = decoder._process
    decoder.discard()  # at once, even while it is still loading
    wait_until(lambda: not process.is_alive(), 30, "the discarded process to end")
    assert not decoder.serves(trained) and decoder.error is None
    with pytest.raises(ConfigError, match="discarded"):
        decoder.start(eeg_name="any-stream")


def test_the_decoder_process_loads_its_model_libraries_and_no_gui_or_moabb(trained, tmp_path):
    """What the child loads before its run (its start cost): the model's libraries, never
    Qt, pyqtgraph, MOABB, nor the application's GUI, evaluation or session layers."""
    import pickle
    import subprocess
    import sys

    (tmp_path / "model.pkl").write_bytes(pickle.dumps(trained))
    code = ("import pickle, sys\n"
            "from bci_app.online.process import _load\n"
            f"_load(pickle.loads(open({str(tmp_path / 'model.pkl')!r}, 'rb').read()))\n"
            "print(' '.join(sorted(sys.modules)))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = set(done.stdout.split())
    assert {"sklearn", "pyriemann", "mne_lsl.lsl", "bci_app.online.live"} <= loaded
    heavy = sorted(m for m in loaded if m.split(".")[0] in ("PySide6", "pyqtgraph", "moabb")
                   or m.startswith(("bci_app.gui", "bci_app.evaluation", "bci_app.session")))
    assert heavy == []
