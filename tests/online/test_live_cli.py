"""`bci-app train`, `bci-app online` and `bci-app replay` on real LSL streams (loopback)."""

import json
import uuid

import pytest

from bci_app.acquisition.lsl import use_loopback
from bci_app.acquisition.simulation import make_trial_schedule, simulate_mi_raw
from bci_app.acquisition.simulator import SimulatedAmplifier
from bci_app.cli import main
from bci_app.decoding.persistence import load_model


@pytest.fixture(scope="module", autouse=True)
def loopback():
    return use_loopback()


@pytest.fixture(scope="module")
def sim_model_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "sim.bcimodel"
    assert main(["train", "--model", "acm_mdm", "--simulated", "--trials", "6", "--seed", "2",
                 "--out", str(out)]) == 0
    return out


def test_train_saves_a_model_with_its_settings(sim_model_file):
    trained = load_model(sim_model_file)
    assert trained.name == "ACM+MDM"
    assert trained.classes == ["idle", "left_hand", "right_hand"]
    assert trained.sfreq == 250.0 and len(trained.ch_names) == 22
    assert trained.step_s == 0.1 and trained.window_s == 2.0
    assert "SelectChannels" in trained.pipeline_file
    assert trained.trained_on["simulated"]["trials_per_class"] == 6
    assert set(trained.trained_on["windows_per_class"]) == {"idle", "left_hand", "right_hand"}


def test_online_decodes_the_simulator_and_logs(sim_model_file, tmp_path, capsys):
    name = f"cli-sim-{uuid.uuid4().hex[:8]}"
    with SimulatedAmplifier(name=name, seed=4):
        code = main(["online", "--model", str(sim_model_file), "--stream", name,
                     "--duration", "5", "--log", str(tmp_path / "log"), "--timeout", "60"])
    assert code == 0
    out = capsys.readouterr().out
    assert f"decoding '{name}'" in out and "windows from" in out
    summary = json.loads((tmp_path / "log" / "summary.json").read_text())
    # One 2-s window (500 samples) every 0.1 s (25 samples) of what was received: how many
    # samples arrive in 5 s depends on the machine, the windows they make do not.
    samples, window, step = summary["samples"], 500, 25
    assert samples >= window and summary["gaps"] == 0
    assert summary["windows"] == (samples - window) // step + 1
    assert summary["latency_p50_ms"] > 0
    lines = (tmp_path / "log" / "predictions.csv").read_text().splitlines()
    assert len(lines) == summary["windows"] + 1
    assert "connected" in (tmp_path / "log" / "events.csv").read_text()


def test_online_bad_inputs_are_clear_errors(sim_model_file, tmp_path, capsys):
    assert main(["online", "--model", str(tmp_path / "missing.bcimodel")]) == 1
    assert "missing.bcimodel" in capsys.readouterr().err
    assert main(["online", "--stream", "x"]) == 2
    assert "--model FILE.bcimodel is required" in capsys.readouterr().err
    name = f"cli-sim-{uuid.uuid4().hex[:8]}"
    with SimulatedAmplifier(name=name, ch_names=["C3", "Cz", "C4"], seed=5):
        assert main(["online", "--model", str(sim_model_file), "--stream", name,
                     "--timeout", "20", "--log", str(tmp_path / "log")]) == 1
    err = capsys.readouterr().err
    assert "lacks channel(s)" in err and name in err
    assert main(["train", "--model", "acm_mdm", "--simulated", "--out",
                 str(tmp_path / "model.pkl")]) == 2
    assert "ends in .bcimodel" in capsys.readouterr().err
    assert main(["train", "--model", "no_such_model", "--simulated", "--out",
                 str(tmp_path / "m.bcimodel")]) == 1
    assert "no model of that name" in capsys.readouterr().err


def test_replay_cli_publishes_eeg_and_markers(tmp_path, replay_until_one_pass):
    """`bci-app replay --loop` in its own process: the EEG stream, and the annotations as
    markers. It loops until this test has connected and seen one whole pass (however long
    connecting takes on a loaded machine), then stops on Ctrl-C (SIGINT) with code 0."""
    from bci_app.acquisition.lsl import find_stream

    raw = simulate_mi_raw(make_trial_schedule(n_trials_per_class=1, rest=(0.5, 0.5),
                                              imagery=1.0, seed=1), seed=1)
    path = tmp_path / "rec_raw.fif"
    raw.save(path)
    one_pass = ["idle" if d == "rest" else str(d) for d in raw.annotations.description]
    name = f"cli-replay-{uuid.uuid4().hex[:8]}"

    def check_eeg(name):
        eeg = find_stream(name, "eeg", timeout=60)
        assert eeg.n_channels == 22 and eeg.sfreq == 250.0

    got, out, err, code = replay_until_one_pass(
        [str(path), "--name", name, "--event-map", "rest=idle", "--loop"], name, one_pass,
        before_pull=check_eeg)
    assert code == 0, err
    assert "replay ended" in out
    # The markers are the annotations (renamed by the event map), in order, pass after pass.
    assert replay_until_one_pass.holds(got, one_pass), (got, one_pass)
    assert set(got) <= {"idle", "left_hand", "right_hand"}
