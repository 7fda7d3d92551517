"""The simulated amplifier, streaming over real LSL kept on the loopback interface.

Waits for data use generous deadlines (the machine may be loaded); nothing asserts latency.
"""

import time
import uuid

import numpy as np
import pytest
from scipy.signal import welch

from bci_app.acquisition.lsl import find_stream, use_loopback
from bci_app.acquisition.simulation import DEFAULT_CHANNELS, MIEEGGenerator
from bci_app.acquisition.simulator import SimulatedAmplifier, default_marker_map
from bci_app.errors import ConfigError, StreamError

SFREQ = 250.0
CHUNK = 10


@pytest.fixture(scope="module", autouse=True)
def loopback():
    """Keep every stream of this module on this machine (before any LSL operation)."""
    return use_loopback()


def _unique(prefix):
    # Unique names: other processes on the machine may run the same tests.
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _open_inlet(name, timeout=20.0):
    from mne_lsl.lsl import StreamInlet

    inlet = StreamInlet(find_stream(name, timeout=timeout).sinfo)
    inlet.open_stream(timeout=timeout)
    return inlet


def _receive_until(inlet, amp, last_index, timeout):
    """Pull until the sample of index ``last_index`` arrived; return indices, data, times.

    The sample index is recovered from the timestamp: the amplifier stamps sample ``k`` at
    ``start_time + k / sfreq``.
    """
    chunks, stamps = [], []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data, ts = inlet.pull_chunk(timeout=0.2)
        if len(ts):
            chunks.append(np.array(data))  # copies: the inlet reuses its buffers
            stamps.append(np.array(ts))
            if (ts[-1] - amp.start_time) * amp.sfreq >= last_index - 0.5:
                break
    else:
        pytest.fail(f"sample {last_index} not received within {timeout} s")
    data = np.concatenate(chunks).T
    ts = np.concatenate(stamps)
    index = np.round((ts - amp.start_time) * amp.sfreq).astype(int)
    return index, data, ts


def _replay(seed, n_samples, switches, **kwargs):
    """What the amplifier generates, chunk by chunk, with label switches at sample indices."""
    gen = MIEEGGenerator(sfreq=SFREQ, seed=seed, **kwargs)
    label, pieces, switches = None, [], sorted(switches.items())
    for start in range(0, n_samples, CHUNK):
        pos = start
        for at, new_label in switches:
            if start <= at < start + CHUNK:
                if at > pos:
                    pieces.append(gen.generate(at - pos, label))
                    pos = at
                label = new_label
        pieces.append(gen.generate(start + CHUNK - pos, label))
    return np.concatenate(pieces, axis=1)[:, :n_samples]


def test_stream_metadata_and_rate():
    from mne_lsl.stream import StreamLSL

    with SimulatedAmplifier(name=_unique("test-sim"), seed=1) as amp:
        assert amp.is_running
        found = find_stream(amp.name, timeout=20.0)
        assert (found.stype, found.n_channels, found.sfreq) == ("eeg", 22, SFREQ)
        assert found.source_id == amp.source_id
        stream = StreamLSL(bufsize=5.0, name=amp.name, stype="eeg")
        stream.connect(timeout=20.0)
        try:
            assert stream.ch_names == list(DEFAULT_CHANNELS)
            assert stream.info["sfreq"] == SFREQ
            assert set(stream.get_channel_types()) == {"eeg"}
            units = stream.get_channel_units()
            assert all(unit_mul == 0 for _unit, unit_mul in units)  # volts, no scaling
            deadline = time.monotonic() + 20.0
            while stream.n_new_samples == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            stream.get_data()  # resets n_new_samples
            t0 = time.monotonic()
            time.sleep(2.5)
            n_new = stream.n_new_samples
            elapsed = time.monotonic() - t0
            data, ts = stream.get_data(winsize=2.0)
        finally:
            stream.disconnect()
        # samples received over ~2.5 s: the nominal rate, within a generous tolerance
        assert 0.7 * SFREQ < n_new / elapsed < 1.3 * SFREQ
        # consecutive samples 1/sfreq apart, EEG-sized values in volts
        np.testing.assert_allclose(np.diff(ts), 1 / SFREQ, rtol=1e-6)
        assert 1e-7 < np.std(data) < 1e-3
    assert not amp.is_running


def test_streams_exactly_the_generator_with_set_label_at_its_timestamp():
    from mne_lsl.lsl import local_clock

    seed = 5
    amp = SimulatedAmplifier(name=_unique("test-sim"), seed=seed, artifacts=False)
    with amp:
        inlet = _open_inlet(amp.name)
        try:
            # A switch ~1 s ahead, in the middle of a chunk (sample k is the first at or
            # after the timestamp): it must split that chunk exactly there.
            ahead = (local_clock() - amp.start_time + 1.0) * SFREQ
            k = int(np.ceil(ahead / CHUNK)) * CHUNK + 6
            amp.set_label("feet", timestamp=amp.start_time + (k - 0.5) / SFREQ)
            index, data, ts = _receive_until(inlet, amp, k + 250, timeout=60.0)
        finally:
            inlet._del()
        assert amp.label == "feet"
    assert index[0] < k <= index[-1]
    expected = _replay(seed, index[-1] + 1, {k: "feet"}, artifacts=False)
    # no drift: sample k is stamped start_time + k / sfreq
    np.testing.assert_allclose(ts, amp.start_time + index / SFREQ, rtol=0, atol=1e-6)
    assert np.all(np.diff(index) == 1)
    np.testing.assert_allclose(data, expected[:, index], rtol=1e-5, atol=1e-12)
    # and the class does change the signal from sample k on (before k's chunk, the same
    # random draws; splitting a chunk reorders the draws of that chunk only)
    unchanged = _replay(seed, index[-1] + 1, {}, artifacts=False)
    before = k - k % CHUNK
    np.testing.assert_allclose(expected[:, :before], unchanged[:, :before])
    assert not np.allclose(expected[:, k + 100:], unchanged[:, k + 100:])


def _band_power(x, fmin=8.0, fmax=13.0):
    freqs, psd = welch(x, SFREQ, nperseg=int(SFREQ))
    return psd[(freqs >= fmin) & (freqs <= fmax)].mean()


def test_markers_switch_the_class_and_desynchronise_c4():
    from mne_lsl.lsl import StreamInfo, StreamOutlet, local_clock

    markers_name = _unique("test-markers")
    markers = StreamOutlet(StreamInfo(markers_name, "Markers", 1, 0.0, "string", "test-mk"))
    # Fixed seed, no artefacts, and switches at chunk boundaries: the random draws do not
    # depend on when the marker arrives, so the result is reproducible (C4 ratio 0.13-0.18
    # for any delay of the switch up to 10 chunks and any rest window start in 3-4 s).
    amp = SimulatedAmplifier(name=_unique("test-sim"), seed=0, skill=1.0, artifacts=False,
                             marker_stream=markers_name)
    c4 = DEFAULT_CHANNELS.index("C4")
    switch = 1500  # 6 s
    try:
        with amp:
            inlet = _open_inlet(amp.name)
            try:
                assert markers.wait_for_consumers(timeout=30.0)

                def push_at(marker, k):
                    # half a sample before sample k: on a chunk boundary, whatever the clocks
                    ts = amp.start_time + (k - 0.5) / SFREQ
                    time.sleep(max(0.0, ts - 0.3 - local_clock()))
                    markers.push_sample([marker], timestamp=ts)

                push_at("rest", 500)
                push_at("left_hand", switch)
                index, data, _ = _receive_until(inlet, amp, 2500, timeout=60.0)
                assert amp.label == "left_hand"
                push_at("end", 2510)
                deadline = time.monotonic() + 20.0
                while amp.label is not None and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert amp.label is None
            finally:
                inlet._del()
    finally:
        markers._del()
    rest = data[c4, (index >= 750) & (index < switch)]
    imagery = data[c4, (index >= switch + 250) & (index < 2500)]
    assert rest.size >= 2 * SFREQ, "the EEG inlet connected too late (> 4 s)"
    assert imagery.size == 750
    assert _band_power(imagery) < 0.6 * _band_power(rest)


def test_stop_is_idempotent_and_removes_the_stream():
    amp = SimulatedAmplifier(name=_unique("test-sim"), seed=2)
    amp.stop()  # before start: nothing to do
    amp.start()
    with pytest.raises(StreamError, match="already running"):
        amp.start()
    find_stream(amp.name, timeout=20.0)
    deadline = time.monotonic() + 20.0
    while amp.samples_pushed == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert amp.samples_pushed > 0 and amp.samples_pushed % CHUNK == 0
    amp.stop()
    amp.stop()
    assert not amp.is_running
    assert amp.error is None
    with pytest.raises(StreamError, match=amp.name):
        find_stream(amp.name, timeout=0.5)
    # it can start again
    with amp:
        assert amp.is_running
    assert not amp.is_running


def test_marker_mapping():
    amp = SimulatedAmplifier(name=_unique("test-sim"), seed=0,
                             marker_map={"769": "left_hand", "770": "right_hand",
                                         "Cue-Feet": "feet", "pause": None})
    assert amp.handle_marker("left_hand", timestamp=0.0)
    assert amp.handle_marker(769.0, timestamp=0.0)  # numeric marker -> "769"
    assert amp.handle_marker("cue-feet", timestamp=0.0)  # case-insensitive
    assert amp.handle_marker(" REST ", timestamp=0.0)
    assert amp.handle_marker("pause", timestamp=0.0)
    assert not amp.handle_marker("trial_start", timestamp=0.0)  # ignored
    assert [label for _, _, label in amp._events] == [
        "left_hand", "left_hand", "feet", None, None]
    assert default_marker_map()["right_hand"] == "right_hand"
    assert default_marker_map()["idle"] is None


def test_invalid_configuration():
    with pytest.raises(ConfigError, match="not a class"):
        SimulatedAmplifier(marker_map={"x": "tongue"})
    with pytest.raises(ConfigError, match="chunk_size"):
        SimulatedAmplifier(chunk_size=0)
    with pytest.raises(ConfigError, match="name"):
        SimulatedAmplifier(name="")
    with pytest.raises(ConfigError):
        SimulatedAmplifier(ch_names=["C3", "NotAChannel"])
    with pytest.raises(ConfigError, match="unknown class"):
        SimulatedAmplifier().set_label("tongue")
