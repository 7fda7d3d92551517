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
#: Volts per unit of the stream's samples: it declares (and sends) microvolts.
UV = 1e-6


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
    """Pull until the sample of index ``last_index`` arrived; return indices, data (in
    volts: the stream carries microvolts), times.

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
    data = np.concatenate(chunks).T * UV
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
    """The stream's metadata, and its rate measured on the LSL clock (not the wall clock):
    samples stamped exactly 1/sfreq apart from the start, none ahead of the clock, and the
    amplifier keeps up with the clock whatever the load."""
    from mne_lsl.lsl import local_clock
    from mne_lsl.stream import StreamLSL

    with SimulatedAmplifier(name=_unique("test-sim"), seed=1) as amp:
        assert amp.is_running
        found = find_stream(amp.name, timeout=20.0)
        assert (found.stype, found.n_channels, found.sfreq) == ("EEG", 22, SFREQ)
        assert found.source_id == amp.source_id
        stream = StreamLSL(bufsize=5.0, name=amp.name, stype="EEG")
        stream.connect(timeout=20.0)
        try:
            assert stream.ch_names == list(DEFAULT_CHANNELS)
            assert stream.info["sfreq"] == SFREQ
            assert set(stream.get_channel_types()) == {"eeg"}
            units = stream.get_channel_units()
            assert all(unit_mul == -6 for _unit, unit_mul in units)  # microvolts for MNE
            # two seconds of samples in the buffer (however long they take to come)
            deadline = time.monotonic() + 60.0
            while stream.n_new_samples < 2.5 * SFREQ and time.monotonic() < deadline:
                time.sleep(0.05)
            assert stream.n_new_samples >= 2.5 * SFREQ, "2.5 s of samples not received"
            data, ts = stream.get_data(winsize=2.0)
            received_at = local_clock()
        finally:
            stream.disconnect()
        # the rate on the LSL clock: consecutive samples exactly 1/sfreq apart, no gap, no
        # drift (sample k is stamped start_time + k / sfreq), none stamped in the future
        assert ts.size == 2 * SFREQ
        np.testing.assert_allclose(np.diff(ts), 1 / SFREQ, rtol=1e-6)
        index = (ts - amp.start_time) * SFREQ
        np.testing.assert_allclose(index, np.round(index), atol=1e-3)
        assert ts[-1] <= received_at
        # samples pushed against the LSL clock: never ahead of it, and it catches up with it
        pushed, now = amp.samples_pushed, local_clock()
        assert pushed <= (now - amp.start_time) * SFREQ
        due = (now - amp.start_time) * SFREQ
        deadline = time.monotonic() + 60.0
        while amp.samples_pushed < due and time.monotonic() < deadline:
            time.sleep(0.02)
        assert amp.samples_pushed >= due, "the amplifier fell behind the LSL clock"
        # EEG-sized values in microvolts
        assert 1e-1 < np.std(data) < 1e3
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


def _c4_ratio(data, switch, c4):
    """C4 mu power in imagery (from 1 s after the switch, 3 s) over rest (3 s before it)."""
    rest = data[c4, switch - 750:switch]
    imagery = data[c4, switch + 250:switch + 1000]
    return _band_power(imagery) / _band_power(rest)


def _switch_after(first, c4, seed=0):
    """The first switch sample (every 1 s from 6 s on) at or after ``first`` whose windows show
    the desynchronisation clearly for this seed.

    The stream is deterministic (fixed seed, no artefacts, switch on a chunk boundary), so
    :func:`_replay` gives its samples in advance; 3-s windows of this generator vary a lot
    (ratio 0.1-1.1 over switch positions), hence the choice of a position where it shows.
    """
    for switch in range(1500, 1500 + 250 * 200, 250):
        if switch >= first and _c4_ratio(_replay(seed, switch + 1000, {switch: "left_hand"},
                                                 skill=1.0, artifacts=False),
                                          switch, c4) < 0.3:
            return switch
    pytest.fail(f"no switch position after sample {first} shows the ERD")


def test_markers_switch_the_class_and_desynchronise_c4():
    """A marker over LSL switches the class at its sample; C4's mu rhythm desynchronises.

    The windows are chosen once the EEG inlet is connected (its samples start then), and
    the markers are sent seconds ahead of their timestamps: nothing depends on how fast
    the machine is.
    """
    from mne_lsl.lsl import StreamInfo, StreamOutlet, local_clock

    markers_name = _unique("test-markers")
    markers = StreamOutlet(StreamInfo(markers_name, "Markers", 1, 0.0, "string", "test-mk"))
    amp = SimulatedAmplifier(name=_unique("test-sim"), seed=0, skill=1.0, artifacts=False,
                             marker_stream=markers_name)
    c4 = DEFAULT_CHANNELS.index("C4")
    try:
        with amp:
            inlet = _open_inlet(amp.name, timeout=60.0)
            try:
                assert markers.wait_for_consumers(timeout=60.0)
                # every sample pushed from now on reaches the inlet
                now = int((local_clock() - amp.start_time) * SFREQ) + CHUNK
                switch = _switch_after(now + 750, c4)  # markers sent >= 3 s ahead

                def stamp(k):  # half a sample before sample k: whatever the clock offsets
                    return amp.start_time + (k - 0.5) / SFREQ

                markers.push_sample(["rest"], timestamp=stamp(switch - 750))
                markers.push_sample(["left_hand"], timestamp=stamp(switch))
                index, data, _ = _receive_until(inlet, amp, switch + 1000, timeout=60.0)
                assert amp.label == "left_hand"
                markers.push_sample(["end"], timestamp=stamp(switch + 1010))
                deadline = time.monotonic() + 60.0
                while amp.label is not None and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert amp.label is None
            finally:
                inlet._del()
    finally:
        markers._del()
    # the class switched exactly at the marker's sample: the stream is the replay
    assert index[0] <= switch - 750 and np.all(np.diff(index) == 1)
    expected = _replay(0, index[-1] + 1, {switch: "left_hand"}, skill=1.0, artifacts=False)
    np.testing.assert_allclose(data, expected[:, index], rtol=1e-5, atol=1e-12)
    streamed = np.zeros_like(expected)
    streamed[:, index] = data
    assert _c4_ratio(streamed, switch, c4) < 0.6


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
