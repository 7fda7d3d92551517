"""The online engine on real LSL streams (loopback): simulator, replay, loss and reconnection.

Every stream here is real (liblsl outlets and inlets on this machine); nothing asserts speed.
Waits use generous deadlines because the machine may be loaded.
"""

import csv
import uuid
from pathlib import Path

import numpy as np
import pytest

from bci_app.acquisition.lsl import use_loopback
from bci_app.acquisition.replay import Replay, read_recording
from bci_app.acquisition.simulation import (
    DEFAULT_CHANNELS,
    make_trial_schedule,
    simulate_mi_raw,
)
from bci_app.acquisition.simulator import SimulatedAmplifier
from bci_app.acquisition.stream import CONNECTED, LOST, EEGInput
from bci_app.decoding.loading import read_model_file
from bci_app.errors import StreamError
from bci_app.online.engine import WindowedDecoder
from bci_app.online.live import OnlineDecoder
from bci_app.online.training import train_decoder
from bci_app.processing.calibration import PseudoOnlineConfig
from bci_app.processing.runs import run_from_raw

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SFREQ = 250.0


@pytest.fixture(scope="module", autouse=True)
def loopback():
    return use_loopback()


def _unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def sim_model():
    """ACM+MDM trained on a simulated calibration run (same montage as the simulator)."""
    spec = read_model_file(PROJECT_ROOT / "models" / "acm_mdm.yml")
    raw = simulate_mi_raw(make_trial_schedule(n_trials_per_class=8, seed=0), skill=1.0,
                          seed=0, artifacts=False)
    cfg = PseudoOnlineConfig(step_s=0.1)
    model, report = train_decoder(spec.pipeline, [run_from_raw(raw)], cfg)
    assert set(report["windows_per_class"]) == {"idle", "left_hand", "right_hand"}
    return model


def test_simulator_to_online_predictions(sim_model, tmp_path, wait_until):
    name = _unique("sim")
    got, statuses = [], []

    def collect(kind, payload):
        if kind == "predictions":
            got.append(payload)
        elif kind == "status":
            statuses.append(payload.status)

    with SimulatedAmplifier(name=name, seed=1, skill=1.0, artifacts=False) as amp:
        eeg = EEGInput(name, channels=list(DEFAULT_CHANNELS), sfreq=SFREQ, timeout=20)
        decoder = WindowedDecoder(sim_model, SFREQ, list(DEFAULT_CHANNELS), 2.0, 0.1,
                                  smoothing=1)
        online = OnlineDecoder(decoder, eeg, log_dir=tmp_path / "log", publish=f"{name}-pred")
        online.subscribe(collect)
        with online:
            from mne_lsl.lsl import StreamInlet

            from bci_app.acquisition.lsl import find_stream

            inlet = StreamInlet(find_stream(f"{name}-pred", "Predictions", 20).sinfo)
            inlet.open_stream(timeout=20)
            assert inlet.get_sinfo().get_channel_names() == [
                "p_idle", "p_left_hand", "p_right_hand", "decision"]
            wait_until(lambda: sum(len(p) for p in got) >= 5, 60, "the first predictions")
            from mne_lsl.lsl import local_clock

            switch = local_clock() + 0.2
            amp.set_label("left_hand", switch)
            wait_until(lambda: sum(len(p) for p in got) and got[-1].times[-1] > switch + 5.0,
                       60, "5 s of imagery")
            published, stamps = inlet.pull_chunk(timeout=2.0)
            published, stamps = np.array(published), np.array(stamps)
        assert online.error is None
    times = np.concatenate([p.times for p in got])
    # The prediction stream carries the same predictions, stamped with their windows' ends.
    assert len(stamps) >= 5
    pos = np.searchsorted(times, stamps - 1e-6)
    assert np.allclose(times[pos], stamps, atol=1e-4)
    smoothed = np.concatenate([p.smoothed for p in got])
    assert np.allclose(published[:, :3], smoothed[pos], atol=1e-6)
    emitted = np.concatenate([p.emitted_lsl for p in got])
    decisions = np.concatenate([p.decisions for p in got])
    assert np.all(np.diff(times) > 0)
    # One window every step: 25 samples apart on the stream's clock.
    assert np.allclose(np.diff(times), 0.1, atol=0.02)
    assert np.all(emitted >= times)  # emitted after its last sample was pushed
    # After 2.5 s of imagery (a full window inside it), the imagined class dominates.
    late = decisions[times > switch + 2.5]
    assert late.size >= 10
    assert np.mean(late == "left_hand") > 0.6, dict(zip(*np.unique(late, return_counts=True)))
    # The log on disk holds every prediction with its timing.
    with open(tmp_path / "log" / "predictions.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(times)
    assert rows[0].keys() >= {"time", "emitted_lsl", "latency_ms", "decision", "p_left_hand"}
    assert np.allclose([float(r["time"]) for r in rows], times, atol=1e-5)
    assert statuses[-1] == "closed"


def test_wrong_channels_and_rate_are_clear_errors():
    name = _unique("sim-ch")
    with SimulatedAmplifier(name=name, ch_names=["C3", "Cz", "C4", "Pz"], seed=2):
        with pytest.raises(StreamError, match=r"lacks channel\(s\) \['FC3'\]"):
            EEGInput(name, channels=["FC3", "C3"], timeout=20).connect()
        with pytest.raises(StreamError, match="runs at 250 Hz but the model was trained at "
                                              "160 Hz"):
            EEGInput(name, sfreq=160.0, timeout=20).connect()
    with pytest.raises(StreamError, match="no stream with name"):
        EEGInput(_unique("absent"), timeout=0.5).connect()


def test_source_killed_and_restarted_marks_a_gap(sim_model, wait_until):
    """The source dies and comes back: the gap is recorded with the timestamps of the last
    sample before it and the first after it, and no window spans it. Checked on the
    stream's own timestamps, not on how soon this thread noticed anything."""
    name = _unique("sim-loss")
    events, received = [], []
    amp = SimulatedAmplifier(name=name, seed=3)
    amp.start()
    eeg = EEGInput(name, channels=list(DEFAULT_CHANNELS), sfreq=SFREQ, timeout=20,
                   reconnect_after=0.5, on_status=events.append)
    decoder = WindowedDecoder(sim_model, SFREQ, list(DEFAULT_CHANNELS), 2.0, 0.1)
    online = OnlineDecoder(decoder, eeg)
    preds = []

    def collect(kind, payload):
        if kind == "predictions":
            preds.append(payload)
        elif kind == "samples":
            received.append(payload.timestamps[-1])

    online.subscribe(collect)
    try:
        online.start()
        wait_until(lambda: len(preds) > 0, 60, "predictions before the loss")
        amp.stop()
        last_pushed = amp.start_time + (amp.samples_pushed - 1) / SFREQ
        wait_until(lambda: any(e.status == LOST for e in events), 60, "the loss report")
        lost = next(e for e in events if e.status == LOST)
        last_received = received[-1]  # nothing arrives once it is lost
        amp.start()
        wait_until(lambda: events[-1].status == CONNECTED and events[-1].gap is not None,
                   60, "the reconnection")
        gap = events[-1].gap
        wait_until(lambda: any(p.times[-1] > gap.end for p in preds), 60, "predictions again")
    finally:
        online.stop()
        amp.stop()
    assert online.error is None
    # (timestamps are clock-synchronised: within a millisecond of the source's on one host)
    # The gap starts at the last sample received before the loss (one the source pushed)...
    assert gap is lost.gap and eeg.gaps == [gap] and gap.reason == "stream lost"
    assert gap.start == last_received <= last_pushed + 1e-3
    # ... it was reported after loss_timeout without samples, never before ...
    assert gap.detected > gap.start + eeg.loss_timeout - 1e-3
    # ... and it ends at the first sample of the restarted source.
    assert gap.end >= amp.start_time - 1e-3 and amp.start_time > gap.detected
    # No window spans the gap: none ends inside it, and the first one after it ends a full
    # window (2 s) after its end.
    times = np.concatenate([p.times for p in preds])
    assert np.all(np.diff(times) > 0)
    assert not np.any((times > gap.start) & (times < gap.end))
    after = times[times > gap.start]
    assert after.size and after[0] >= gap.end + 2.0 - 1.5 / SFREQ


def _replay_and_decode(raw, model, name, n_expected, timeout, wait_until):
    """Replay ``raw`` through PlayerLSL and decode it online; return chunks and predictions."""
    chunks, preds = [], []

    def collect(kind, payload):
        if kind == "samples":
            chunks.append(payload)
        elif kind == "predictions":
            preds.append(payload)

    ch_names = list(raw.ch_names)
    sfreq = raw.info["sfreq"]
    with Replay(raw, name=name, chunk_size=8) as replay:
        eeg = EEGInput(name, channels=ch_names, sfreq=sfreq, timeout=20)
        decoder = WindowedDecoder(model, sfreq, ch_names, 2.0, 0.25, smoothing=3)
        online = OnlineDecoder(decoder, eeg)
        online.subscribe(collect)
        with online:
            replay.wait(timeout)
            wait_until(lambda: sum(len(p) for p in preds) >= n_expected, 60,
                       f"{n_expected} predictions")
        assert online.error is None
    return chunks, preds


def _offset_in(data, first_block):
    """Sample index of ``first_block`` (n_channels, n) in ``data`` (exact match)."""
    n = first_block.shape[1]
    hits = [k for k in range(data.shape[1] - n + 1)
            if np.array_equal(data[:, k:k + n], first_block)]
    assert len(hits) == 1, f"{len(hits)} matches of the first received samples"
    return hits[0]


def _check_replay_equals_sweep(raw, model, name, wait_until):
    data = raw.get_data()
    chunks, preds = _replay_and_decode(raw, model, name, n_expected=20,
                                       timeout=raw.times[-1] + 30, wait_until=wait_until)
    received = np.concatenate([c.data for c in chunks], axis=1)
    offset = _offset_in(data, chunks[0].data[:, :8])
    # Every sample arrived once, in order, unchanged (volts, float64).
    assert np.array_equal(received, data[:, offset:offset + received.shape[1]])
    online = type(preds[0]).concatenate(preds, preds[0].classes)
    sweep = WindowedDecoder(model, raw.info["sfreq"], list(raw.ch_names), 2.0, 0.25,
                            smoothing=3).sweep(data[:, offset:])
    n = len(online)
    assert n >= 20 and len(sweep) >= n
    # Same windows (same last samples), same probabilities, same decisions.
    assert np.array_equal(online.last, sweep.last[:n])
    assert np.allclose(online.proba, sweep.proba[:n], rtol=1e-7, atol=1e-10)
    assert np.array_equal(online.decisions, sweep.decisions[:n])
    return offset, n


def test_replay_of_a_file_equals_the_sweep(sim_model, tmp_path, wait_until):
    """Replay a recording file through PlayerLSL: the online engine gives, window for window,
    the pseudo-online sweep of the same samples (one engine, not two)."""
    raw = simulate_mi_raw(make_trial_schedule(n_trials_per_class=1, rest=(2.0, 2.0),
                                              imagery=3.0, seed=4), seed=4)
    path = tmp_path / "sim_raw.fif"
    raw.save(path)
    raw = read_recording(path)
    offset, n = _check_replay_equals_sweep(raw, sim_model, _unique("replay"), wait_until)
    assert offset >= 0


@pytest.mark.realdata
def test_replay_of_real_edf_equals_the_sweep(mne_data, wait_until):
    """The same on the real PhysioNet EDF (S001R04), cropped to 14 s to keep the test short."""
    cfg = PseudoOnlineConfig(step_s=0.25)
    event_map = {"T1": "left_hand", "T2": "right_hand", "T0": "rest"}
    folder = mne_data / "MNE-eegbci-data" / "files" / "eegmmidb" / "1.0.0" / "S001"
    train = read_recording(folder / "S001R08.edf", event_map)
    spec = read_model_file(PROJECT_ROOT / "models" / "acm_mdm.yml")
    model, _ = train_decoder(spec.pipeline, [run_from_raw(train)], cfg)
    test = read_recording(folder / "S001R04.edf", event_map)
    test.crop(0, 14.0)
    _check_replay_equals_sweep(test, model, _unique("replay-edf"), wait_until)


def test_read_recording_checks_the_file_and_the_event_map(tmp_path):
    from bci_app.errors import DataError

    raw = simulate_mi_raw(make_trial_schedule(n_trials_per_class=1, seed=5), seed=5)
    raw.rename_channels({"C3": "c3."})  # spelt as in PhysioNet's EDF files
    path = tmp_path / "rec_raw.fif"
    raw.save(path)
    got = read_recording(path, {"left_hand": "T1"})
    assert "C3" in got.ch_names and "T1" in set(got.annotations.description)
    with pytest.raises(DataError, match=r"rec_raw.fif: the event map names annotations "
                                         r"\['T9'\] that the recording does not have"):
        read_recording(path, {"T9": "left_hand"})
    with pytest.raises(DataError, match="no such recording file"):
        read_recording(tmp_path / "absent.edf")
    (tmp_path / "bad.edf").write_text("not an EDF")
    with pytest.raises(DataError, match="MNE cannot read this file"):
        read_recording(tmp_path / "bad.edf")
