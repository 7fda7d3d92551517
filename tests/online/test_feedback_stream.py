"""Feedback out: the simple LSL stream an FES device, robot or game follows.

The contract (bci_app.online.feedback, README "Feedback out"): stream ``bci-app-feedback`` of
type ``Feedback``, channels value (signed, toward a class), class (decision code),
confidence; one sample per decision stamped with its window's last sample; no decision is
(0, -2, 0); the run ends with (0, -3, 0). Checked on known numbers, then read by a real LSL
inlet on loopback while a simulated recording (imagery of the left hand, then a flat
stretch: no decision) is decoded online.
"""

import uuid
from pathlib import Path

import mne
import numpy as np
import pytest

from bci_app.acquisition.lsl import use_loopback
from bci_app.acquisition.replay import Replay
from bci_app.acquisition.simulation import (
    DEFAULT_CHANNELS,
    make_trial_schedule,
    simulate_mi_raw,
)
from bci_app.acquisition.stream import EEGInput
from bci_app.decoding.loading import read_model_file
from bci_app.online.engine import Predictions, WindowedDecoder
from bci_app.online.feedback import (
    ARTIFACT_CODE,
    END_CODE,
    FEEDBACK_CHANNELS,
    FEEDBACK_NAME,
    FEEDBACK_TYPE,
    IDLE_CODE,
    feedback_values,
)
from bci_app.online.live import OnlineDecoder
from bci_app.online.training import train_decoder
from bci_app.processing.calibration import PseudoOnlineConfig
from bci_app.processing.quality import FLAT_STRETCH_S
from bci_app.processing.runs import run_from_raw

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SFREQ = 250.0
WINDOW_S, STEP_S = 2.0, 0.25
IMAGERY = (1.0, 14.0)  # s of the recording: left-hand imagery
FLAT = (9.0, 11.5)     # s of the recording: every channel at 0 V (no decision)


@pytest.fixture(scope="module", autouse=True)
def loopback():
    return use_loopback()


def _pred(smoothed, decisions, classes):
    n = len(decisions)
    smoothed = np.asarray(smoothed, dtype=float)
    return Predictions(times=np.arange(n, dtype=float), last=np.arange(n), proba=smoothed,
                       smoothed=smoothed, labels=np.asarray(decisions),
                       decisions=np.asarray(decisions), classes=np.asarray(classes),
                       emitted=np.zeros(n))


def test_feedback_values_follow_the_contract():
    nan = np.nan
    # Two task classes and an idle class: value = p(right) - p(left).
    got = feedback_values(_pred([[0.2, 0.1, 0.7], [0.6, 0.3, 0.1], [nan, nan, nan]],
                                ["right_hand", "idle", "artifact"],
                                ["idle", "left_hand", "right_hand"]))
    assert np.allclose(got, [[0.6, 2, 0.7], [-0.2, 0, 0.6], [0.0, ARTIFACT_CODE, 0.0]])
    # Idle decided by the threshold (no idle class): its confidence is the largest p.
    got = feedback_values(_pred([[0.55, 0.45], [0.2, 0.8]], ["idle", "right_hand"],
                                ["left_hand", "right_hand"]))
    assert np.allclose(got, [[-0.1, IDLE_CODE, 0.55], [0.6, 1, 0.8]])
    # Affected hand vs rest: +1 toward the hand, -1 toward rest.
    got = feedback_values(_pred([[0.1, 0.9], [0.7, 0.3]], ["left_hand", "idle"],
                                ["idle", "left_hand"]))
    assert np.allclose(got, [[0.8, 1, 0.9], [-0.4, 0, 0.7]])
    assert got.dtype == np.float32


@pytest.fixture(scope="module")
def model():
    """ACM+MDM (idle a class) trained on a simulated calibration run."""
    raw = simulate_mi_raw(make_trial_schedule(n_trials_per_class=8, seed=0), skill=1.0,
                          seed=0, artifacts=False)
    spec = read_model_file(PROJECT_ROOT / "models" / "acm_mdm.yml")
    fitted, _ = train_decoder(spec.pipeline, [run_from_raw(raw)],
                              PseudoOnlineConfig(step_s=0.1))
    return fitted


def _recording():
    """Left-hand imagery, every channel at 0 V during FLAT."""
    raw = simulate_mi_raw([(None, IMAGERY[0]), ("left_hand", IMAGERY[1] - IMAGERY[0])],
                          skill=1.0, seed=7, artifacts=False)
    data = raw.get_data()
    data[:, int(FLAT[0] * SFREQ):int(FLAT[1] * SFREQ)] = 0.0
    out = mne.io.RawArray(data, raw.info, verbose="error")
    out.set_annotations(raw.annotations)
    return out


def test_a_device_reads_the_feedback_of_an_online_run(model, wait_until):
    from mne_lsl.lsl import StreamInlet, resolve_streams

    name = f"feedback-{uuid.uuid4().hex[:8]}"
    raw = _recording()
    preds, chunks = [], []
    with Replay(raw, name=name, chunk_size=10) as replay:
        eeg = EEGInput(name, channels=list(DEFAULT_CHANNELS), sfreq=SFREQ, timeout=20)
        decoder = WindowedDecoder(model, SFREQ, list(DEFAULT_CHANNELS), WINDOW_S, STEP_S,
                                  smoothing=2)
        online = OnlineDecoder(decoder, eeg, publish=f"{name}-p", feedback=f"{name}-fb")
        online.subscribe(lambda kind, payload: {"predictions": preds, "samples": chunks}
                         .get(kind, []).append(payload))
        with online:
            # The device finds the stream (one query: returns once it answers) and
            # follows it from here on (an inlet gets the samples pushed once it is open).
            found = resolve_streams(timeout=30, name=f"{name}-fb")
            assert len(found) == 1 and found[0].stype == FEEDBACK_TYPE
            inlet = StreamInlet(found[0])
            inlet.open_stream(timeout=20)
            info = inlet.get_sinfo(timeout=20)
            replay.wait(raw.times[-1] + 60)
            n_total = int((raw.times[-1] - WINDOW_S) / STEP_S)
            wait_until(lambda: sum(len(p) for p in preds) >= n_total - 8, 60,
                       "the windows of the run")
        # stopped: the end sample was pushed before the stream closed
        samples, stamps = inlet.pull_chunk(timeout=2.0)
        inlet._del()
    samples, stamps = np.asarray(samples), np.asarray(stamps)
    assert info.get_channel_names() == list(FEEDBACK_CHANNELS)
    assert info.desc.child_value("classes") == "idle,left_hand,right_hand"
    assert (info.desc.child_value("negative"), info.desc.child_value("positive")) == (
        "left_hand", "right_hand")
    assert info.desc.child_value("end_code") == str(END_CODE)
    assert info.source_id.startswith(f"{name}-fb-")
    assert FEEDBACK_NAME == "bci-app-feedback"

    # The last sample closes the run; the others are the decisions, one each.
    assert samples[-1].tolist() == [0.0, END_CODE, 0.0]
    body, body_t = samples[:-1], stamps[:-1]
    pred = Predictions.concatenate(preds, preds[0].classes)
    pos = np.searchsorted(pred.times, body_t - 1e-6)
    assert len(body) >= 10 and np.allclose(pred.times[pos], body_t, atol=1e-4)
    assert np.array_equal(pos, np.arange(pos[0], pos[0] + len(pos)))  # none missing
    assert np.allclose(body, feedback_values(pred)[pos], atol=1e-6)

    # Each window's end in seconds of the recording: the first samples received are found
    # in the recording, the others follow at the stream's rate.
    data, first = raw.get_data(), chunks[0]
    hits = [k for k in range(int(FLAT[0] * SFREQ))
            if np.array_equal(data[:, k:k + 8], first.data[:, :8])]
    assert len(hits) == 1
    ends = (hits[0] + np.round((body_t - first.timestamps[0]) * SFREQ)) / SFREQ
    # Every window holding a flat stretch is no decision (quality.FLAT_STRETCH_S).
    flat = (ends > FLAT[0] + FLAT_STRETCH_S + 0.05) & \
        (ends < FLAT[1] + WINDOW_S - FLAT_STRETCH_S - 0.05)
    assert flat.sum() >= 10
    assert (body[flat] == [0.0, ARTIFACT_CODE, 0.0]).all()
    # Imagery of the left hand before the flat stretch: the value moves toward the left.
    clear = (ends > IMAGERY[0] + WINDOW_S + 1.0) & (ends < FLAT[0])
    assert clear.sum() >= 5
    assert np.mean(body[clear, 0] < 0) > 0.7, body[clear]
    assert (body[ends < FLAT[0], 1] != ARTIFACT_CODE).all()
