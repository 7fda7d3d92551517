"""The online decoder in its own process: same decisions, its own pid, clear start errors."""

import os
import uuid
from pathlib import Path

import numpy as np
import pytest

from bci_app.acquisition.lsl import use_loopback
from bci_app.acquisition.simulation import make_trial_schedule, simulate_mi_raw
from bci_app.acquisition.simulator import SimulatedAmplifier
from bci_app.decoding.loading import read_model_file
from bci_app.errors import StreamError
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
