"""A run that must not be recorded is refused by the session layer, for ``bci-app session``
and the GUI alike, before anything is created: the subject's affected side, a decoder of
other classes, a replay, no signal."""

import uuid
from types import SimpleNamespace

import numpy as np
import pytest

from bci_app.errors import BCIAppError, ConfigError, StreamError
from bci_app.protocol import load_protocol
from bci_app.session import EEGSource, RecordedStream, RecordingStore, RunOrchestrator
from bci_app.session.headless import check_run_inputs, record_run
from bci_app.session.orchestrator import (
    check_decoder_classes,
    check_subject_side,
    probe_stream,
    resolve_protocol,
)

DECODER = SimpleNamespace(name="MDM", classes=["idle", "left_hand", "right_hand"])


def test_the_protocol_is_resolved_for_the_subjects_affected_side():
    assert resolve_protocol("hand_vs_rest", "right").classes == ("right_hand", "rest")
    assert resolve_protocol("hand_vs_rest").classes == ("left_hand", "rest")  # the file's
    protocol, _ = check_run_inputs("hand_vs_rest", affected_hand="right", time_scale=0.5)
    assert protocol.classes == ("right_hand", "rest")
    assert protocol.timing.imagery_s == load_protocol("hand_vs_rest").timing.imagery_s / 2


def test_a_protocol_for_the_other_hand_than_the_subjects_is_refused():
    left = load_protocol("hand_vs_rest")
    with pytest.raises(ConfigError, match="cues the left hand, but the affected side of "
                                          "subject 7 is right"):
        check_subject_side(left, "right", "subject 7")
    check_subject_side(left, "left")
    check_subject_side(left, None)  # side not given: the file's
    check_subject_side(load_protocol("left_right_hand"), "right")  # both hands cued


def test_an_online_protocol_of_other_classes_than_the_decoder_is_refused():
    with pytest.raises(ConfigError) as refused:
        check_decoder_classes(load_protocol("hand_vs_rest_online", "right"), DECODER,
                              "m.bcimodel")
    text = str(refused.value)
    assert "cues right_hand, but the decoder MDM (m.bcimodel) was trained on left_hand, " \
           "right_hand" in text
    assert "Train a decoder on calibration runs of right_hand" in text
    assert "(left_right_hand_online)" in text and "(hand_vs_rest_online)" not in text
    check_decoder_classes(load_protocol("left_right_hand_online"), DECODER)
    # Idle names are no task class: "rest" cued, "idle" decided.
    check_decoder_classes(load_protocol("hand_vs_rest_online", "left"),
                          SimpleNamespace(name="x", classes=["idle", "left_hand"]))


@pytest.mark.parametrize("source, error, words", [
    ({"replay": "sub-01_ses-01_task-x_run-01_eeg.vhdr"}, BCIAppError,
     "replays a recording (sub-01_ses-01_task-x_run-01_eeg.vhdr)"),
    ({"signal": lambda: "the stream is lost"}, StreamError,
     "no EEG signal from stream 'amp' (the stream is lost): check the amplifier"),
    ({"simulator": SimpleNamespace(is_running=False)}, StreamError,
     "the simulated amplifier is stopped"),
])
def test_a_run_that_must_not_be_recorded_is_refused_before_anything_exists(
        tmp_path, source, error, words):
    store = RecordingStore(tmp_path / "recordings")
    store.create_subject("01")
    session = store.open_session("01", "01")
    eeg = EEGSource(RecordedStream("eeg", "amp", "eeg", "amp-1"), **source)
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        RunOrchestrator(session, load_protocol("left_right_hand"), eeg)
    assert session.runs == [] and session.next_run() == 1
    assert not session.runs_dir.exists() and not list(session.source_dir.rglob("*.xdf"))


def test_bci_app_session_refuses_a_replayed_stream(tmp_path):
    """``bci-app session --stream`` on a ``bci-app replay``: refused, nothing recorded."""
    from bci_app.acquisition.lsl import find_stream
    from bci_app.acquisition.replay import Replay
    from bci_app.acquisition.simulation import make_trial_schedule, simulate_mi_raw

    raw = simulate_mi_raw(make_trial_schedule(n_trials_per_class=2, seed=0), seed=0,
                          artifacts=False)
    name = f"replayed-{uuid.uuid4().hex[:6]}"
    root = tmp_path / "recordings"
    with Replay(raw, name=name, chunk_size=10, repeat=np.inf):
        assert probe_stream(find_stream(name, "eeg", 20)) == (True, None)
        with pytest.raises(BCIAppError, match=f"stream '{name}' replays a recording"):
            record_run("left_right_hand", root, "01", "01", simulate=False, eeg_stream=name,
                       time_scale=0.1)
    session = RecordingStore(root).open_session("01", "01", create=False)
    assert session.runs == [] and not list(root.rglob("*.xdf"))


def test_a_simulated_amplifiers_stream_is_no_replay_and_flows():
    from bci_app.acquisition.lsl import find_stream
    from bci_app.acquisition.simulator import SimulatedAmplifier

    name = f"probe-sim-{uuid.uuid4().hex[:6]}"
    with SimulatedAmplifier(name=name, seed=1, artifacts=False):
        assert probe_stream(find_stream(name, "eeg", 20)) == (False, None)
