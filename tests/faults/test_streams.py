"""EEG streams as they really arrive: jittery, duplicated, backwards, off-rate, ambiguous, late.

Every source here is a real LSL outlet on this machine (loopback) pushing chunks with
timestamps made by hand, read by a real :class:`~bci_app.acquisition.stream.EEGInput`.
Channel 0 of each source carries the sample's index, so the test knows which samples
arrived, how often, and when each was truly acquired (``t0 + index / rate``).
Known answers: no gap for jitter or backward steps, one rate warning naming both rates,
duplicates dropped and counted exactly, the stream chosen by its source id, latency only
where the clocks allow it, and no "lost" for a late reader or a late acquisition thread
while a stream that really stops is reported lost. Nothing asserts speed; waits are
generous because the machine may be loaded.
"""

import threading
import time
import uuid

import numpy as np
import pytest

from bci_app.acquisition.lsl import find_stream, use_loopback
from bci_app.acquisition.stream import LOST, WARNING, EEGInput
from bci_app.errors import StreamError


@pytest.fixture(scope="module", autouse=True)
def loopback():
    return use_loopback()


def _unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class _Source:
    """A real LSL outlet pushing ``n_samples`` in real time with hand-made timestamps.

    Parameters
    ----------
    sfreq : float
        Declared rate.
    rate : float | None
        Samples really produced per second (default: ``sfreq``).
    stamp : callable | None
        ``stamp(index, true_times, chunk_number) -> timestamps`` (default: the true times).
    resend : callable | None
        ``resend(chunk_number) -> bool``: push that chunk a second time (same samples, same
        timestamps).
    """

    def __init__(self, name, sfreq=250.0, rate=None, chunk=10, n_samples=1000, n_channels=2,
                 source_id=None, stamp=None, resend=None):
        from mne_lsl.lsl import StreamInfo, StreamOutlet, local_clock

        info = StreamInfo(name, "eeg", n_channels, sfreq, "float32", source_id or name)
        info.set_channel_names(["index"] + [f"x{k}" for k in range(1, n_channels)])
        info.set_channel_types("eeg")
        info.set_channel_units("volts")
        self.outlet = StreamOutlet(info, chunk_size=chunk)
        self.rate = float(rate or sfreq)
        self.chunk, self.n_samples, self.n_channels = chunk, n_samples, n_channels
        self.stamp, self.resend = stamp, resend
        self.pushed = 0  # samples pushed (resent ones not counted)
        self.resent = 0  # samples pushed a second time
        self.stamps = []  # the timestamps pushed, in order, resent chunks included
        self.t0 = None
        self._local_clock = local_clock
        self._stop = threading.Event()
        self._thread = None

    def true_time(self, index):
        return self.t0 + np.asarray(index, dtype=float) / self.rate

    def push_due(self):
        """Push every chunk whose last sample is due by now (the source's real time)."""
        if self.t0 is None:
            self.t0 = self._local_clock()
        while self.pushed + self.chunk <= self.n_samples:
            index = self.pushed + np.arange(self.chunk)
            true = self.true_time(index)
            if true[-1] > self._local_clock():
                return
            k = self.pushed // self.chunk
            stamps = true if self.stamp is None else np.asarray(self.stamp(index, true, k))
            data = np.zeros((self.chunk, self.n_channels), dtype=np.float32)
            data[:, 0] = index
            data[:, 1:] = np.sin(index)[:, None]
            times = 2 if self.resend is not None and self.resend(k) else 1
            for _ in range(times):
                self.outlet.push_chunk(data, timestamp=stamps)
                self.stamps.extend(stamps)
            self.resent += (times - 1) * self.chunk
            self.pushed += self.chunk

    def start(self):
        def loop():
            while not self._stop.is_set() and self.pushed < self.n_samples:
                self.push_due()
                self._stop.wait(0.005)

        self.t0 = self._local_clock()
        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def close(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self.outlet._del()


def _input(name, events, **kwargs):
    kwargs.setdefault("stype", "eeg")
    eeg = EEGInput(name, timeout=20, unit_scale=1.0, on_status=events.append, **kwargs)
    return eeg


def _read_all(eeg, source, timeout=60.0, on_chunk=None):
    """Read until the source's last sample has arrived; the chunks read (each also passed to
    ``on_chunk`` as soon as read)."""
    chunks = []
    deadline = time.monotonic() + timeout
    last = source.n_samples - 1
    while time.monotonic() < deadline:
        chunk = eeg.read(timeout=0.1)
        if chunk is not None:
            chunks.append(chunk)
            if on_chunk is not None:
                on_chunk(chunk)
            if chunk.data[0, -1] >= last:
                return chunks
    pytest.fail(f"timed out after {timeout} s waiting for sample {last} of {eeg.name!r}")

def _read_source(name, source, events, **options):
    """An EEGInput on ``name`` (``options``), ``source`` started once it is connected;
    every chunk read until the source ends. Returns (eeg, chunks); both are closed."""
    eeg = _input(name, events, **options)
    try:
        eeg.connect()
        source.start()
        chunks = _read_all(eeg, source)
    finally:
        eeg.close()
        source.close()
    return eeg, chunks



def _indices(chunks):
    return np.concatenate([c.data[0] for c in chunks]).round().astype(int)


def _timestamps(chunks):
    return np.concatenate([c.timestamps for c in chunks])


def _warnings(events, word):
    return [e for e in events if e.status == WARNING and word in e.message]


def test_jitter_of_50_ms_is_regularised_without_gaps():
    """±50 ms of jitter on every timestamp (about every other one steps back; taken for gaps
    they would leave no window ever complete): no gap, monotonic timestamps within a few ms
    of the true acquisition times, the out-of-order timestamps counted and reported once."""
    rng = np.random.default_rng(7)
    name = _unique("jitter")
    events = []
    source = _Source(name, n_samples=1500,
                     stamp=lambda index, true, k: true + rng.uniform(-0.05, 0.05, true.size))
    eeg, chunks = _read_source(name, source, events)
    index = _indices(chunks)
    stamps = _timestamps(chunks)
    assert np.array_equal(index, np.arange(index[0], 1500))  # every sample once, in order
    assert eeg.gaps == [] and all(c.gap is None for c in chunks)
    assert np.all(np.diff(stamps) > 0)
    # Regularised: after two seconds of fit, within 15 ms of the true times (the jitter
    # was up to 50 ms each way).
    settled = index >= 500
    error = stamps[settled] - source.true_time(index[settled])
    assert np.max(np.abs(error)) < 0.015
    # The backward steps of the pushed timestamps (from the first sample read on) are
    # counted, and reported once.
    pushed = np.asarray(source.stamps)[index[0]:]
    assert eeg.n_out_of_order == np.count_nonzero(np.diff(pushed) <= 0) > 100
    assert len(_warnings(events, "out of order")) == 1
    assert eeg.jitter > 0.02  # uniform ±50 ms: sd 29 ms


def test_backward_steps_are_repaired_not_gaps():
    """Every fifth chunk is stamped 30 ms early (a backward step at its start): no gap,
    monotonic timestamps, each step counted."""
    name = _unique("backward")
    events = []
    source = _Source(name, n_samples=1000,
                     stamp=lambda index, true, k: true - 0.03 if k % 5 == 4 else true)
    eeg, chunks = _read_source(name, source, events)
    index = _indices(chunks)
    assert np.array_equal(index, np.arange(index[0], 1000))
    assert eeg.gaps == []
    assert np.all(np.diff(_timestamps(chunks)) > 0)
    first_chunk = -(-index[0] // 10)  # chunks wholly read
    expected = sum(1 for k in range(max(first_chunk, 1), 100) if k % 5 == 4)
    assert eeg.n_out_of_order == expected
    assert len(_warnings(events, "out of order")) == 1


def test_stream_declared_250_hz_delivering_160_hz_gives_one_rate_warning():
    name = _unique("offrate")
    events = []
    source = _Source(name, sfreq=250.0, rate=160.0, n_samples=160 * 8)
    eeg, chunks = _read_source(name, source, events)
    warnings = _warnings(events, "Hz")
    assert len(warnings) == 1
    message = warnings[0].message
    assert name in message and "250 Hz" in message and "160.0 Hz" in message
    assert eeg.measured_rate == pytest.approx(160.0, abs=0.5)
    # The rate fault is reported, not turned into gaps, and the timestamps follow the real
    # rate.
    assert eeg.gaps == []
    index = _indices(chunks)
    settled = index >= 320
    error = _timestamps(chunks)[settled] - source.true_time(index[settled])
    assert np.max(np.abs(error)) < 0.005


def test_duplicated_chunks_are_dropped_and_counted():
    """A driver resends every seventh chunk (same samples, same timestamps): each sample
    is delivered once, the resent ones are counted exactly and reported once."""
    name = _unique("dups")
    events = []
    source = _Source(name, n_samples=1000, resend=lambda k: k % 7 == 3)
    eeg, chunks = _read_source(name, source, events)
    index = _indices(chunks)
    assert np.array_equal(index, np.arange(index[0], 1000))  # each sample once
    first_chunk = -(-index[0] // 10)
    expected = 10 * sum(1 for k in range(first_chunk, 100) if k % 7 == 3)
    assert eeg.n_duplicates == expected > 0
    assert eeg.gaps == []
    assert len(_warnings(events, "duplicate")) == 1


@pytest.mark.parametrize("jump", [10.0, -10.0])
def test_latency_is_unavailable_after_a_clock_jump(jump):
    """The source's clock jumps by 10 s after 3 s: one gap ("clock jump"), latency
    measured before it (on this machine's clock) and unavailable (NaN) after it."""
    name = _unique("clockjump")
    events = []
    source = _Source(name, n_samples=1250,
                     stamp=lambda index, true, k: true + jump if k >= 75 else true)
    eeg = _input(name, events)
    seen = {}  # sample index -> (chunk.local_clock, timestamp, latency_of as it was read)
    at = 1e6  # any time of decision: the latency is at - timestamp, or NaN
    try:
        eeg.connect()
        source.start()

        def note(chunk):
            latency = eeg.latency_of(chunk.timestamps, at)
            for i, ts, lat in zip(chunk.data[0].round().astype(int), chunk.timestamps, latency):
                seen[i] = (chunk.local_clock, ts, lat)

        _read_all(eeg, source, on_chunk=note)
    finally:
        eeg.close()
        source.close()
    assert len(eeg.gaps) == 1
    gap = eeg.gaps[0]
    assert gap.reason == "clock jump"
    assert gap.end - gap.start == pytest.approx(jump + 1 / 250, abs=0.02)
    before = [seen[i] for i in seen if 400 <= i < 750]  # settled, before the jump
    after = [seen[i] for i in seen if i >= 750]
    assert before and all(local for local, _, _ in before)
    assert all(lat == at - ts for _, ts, lat in before)
    assert after and not any(local for local, _, _ in after)
    assert all(np.isnan(lat) for _, _, lat in after)


@pytest.mark.parametrize("chunk_size", [1, 10])
def test_latency_of_a_replay_is_unavailable(chunk_size, wait_until):
    """A replay's timestamps are made at replay time, the last sample of each chunk one
    chunk ahead of now: a latency from them would be negative. It is reported as
    unavailable, also with chunks of one sample (6 ms ahead: the stream's description
    says it is a replay)."""
    import mne

    from bci_app.acquisition.replay import Replay

    sfreq = 160.0
    rng = np.random.default_rng(0)
    raw = mne.io.RawArray(rng.standard_normal((4, int(sfreq * 30))) * 1e-5,
                          mne.create_info(["C3", "Cz", "C4", "Pz"], sfreq, "eeg"),
                          verbose="error")
    name = _unique("replay-latency")
    chunks = []
    with Replay(raw, name=name, chunk_size=chunk_size):
        eeg = EEGInput(name, stype=None, timeout=20)
        try:
            eeg.connect()

            def enough():
                chunk = eeg.read(timeout=0.1)
                if chunk is not None:
                    chunks.append(chunk)
                return sum(c.timestamps.size for c in chunks) >= 3 * sfreq

            wait_until(enough, 60, "3 s of the replay")
        finally:
            eeg.close()
    # (the timestamps the player makes are on this machine's clock, but ahead of arrival)
    late = [c for c in chunks if c.timestamps[0] > chunks[0].timestamps[0] + 1.0]
    assert late and not any(c.local_clock for c in late)
    assert np.all(np.isnan(eeg.latency_of(late[-1].timestamps)))
    assert eeg.gaps == []


def test_same_name_streams_are_chosen_by_source_id():
    from mne_lsl.lsl import StreamInfo, StreamOutlet

    name = _unique("twin")
    outlets = []
    for source_id, n_channels in (("amp-A", 2), ("amp-B", 3)):
        info = StreamInfo(name, "eeg", n_channels, 250.0, "float32", source_id)
        info.set_channel_names([f"C{k}" for k in range(n_channels)])
        info.set_channel_types("eeg")
        outlets.append(StreamOutlet(info))
    try:
        found = find_stream(name, "eeg", timeout=20, source_id="amp-B")
        assert (found.source_id, found.n_channels) == ("amp-B", 3)
        with pytest.raises(StreamError) as info:
            EEGInput(name, timeout=5).connect()
        message = str(info.value)
        assert "amp-A" in message and "amp-B" in message
        assert found.hostname in message and "source_id" in message
        eeg = EEGInput(name, source_id="amp-B", timeout=20).connect()
        try:
            assert eeg.description.source_id == "amp-B" and len(eeg.ch_names) == 3
        finally:
            eeg.close()
    finally:
        for outlet in outlets:
            outlet._del()


def _pump(eeg, source, seconds, chunks):
    """Push what is due and read, on time, for ``seconds`` (one thread: source and reader
    run together, as on a machine where neither is held up)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        source.push_due()
        chunk = eeg.read(timeout=0.2)
        if chunk is not None:
            chunks.append(chunk)


def test_reader_held_up_with_its_source_is_not_a_loss():
    """The machine stalls for a second: neither the source nor the reader runs. The reader
    wakes first and finds nothing new: that is our own lateness, not a lost stream."""
    name = _unique("stall-reader")
    events, chunks = [], []
    source = _Source(name, n_samples=250 * 60)
    eeg = _input(name, events)
    try:
        eeg.connect()
        _pump(eeg, source, 1.5, chunks)
        time.sleep(1.0)  # nobody runs
        first = eeg.read(timeout=0)  # the reader wakes first
        chunks.extend([first] if first is not None else [])
        _pump(eeg, source, 1.0, chunks)
    finally:
        eeg.close()
        source.outlet._del()
    assert [e for e in events if e.status == LOST] == []
    assert eeg.gaps == []
    index = _indices(chunks)
    assert np.array_equal(index, np.arange(index[0], index[-1] + 1))


def test_acquisition_held_up_while_the_stream_flows_is_not_a_loss():
    """The thread that pulls from the inlet is held up for 1.5 s (a callback in that thread
    sleeps) while the source keeps streaming: the samples are waiting in the inlet, the
    stream is not lost."""
    name = _unique("stall-acq")
    events, chunks = [], []
    source = _Source(name, n_samples=250 * 6)
    eeg = _input(name, events)
    stalled = threading.Event()

    def stall_once(data, timestamps, info):
        if not stalled.is_set():
            stalled.set()
            time.sleep(1.5)
        return data, timestamps

    try:
        eeg.connect()
        source.start()
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            chunk = eeg.read(timeout=0.05)
            chunks.extend([chunk] if chunk is not None else [])
        eeg.stream.add_callback(stall_once)
        chunks.extend(_read_all(eeg, source))
    finally:
        eeg.close()
        source.close()
    assert stalled.is_set()
    assert [e for e in events if e.status == LOST] == []
    assert eeg.gaps == []
    index = _indices(chunks)
    assert np.array_equal(index, np.arange(index[0], 250 * 6))


def test_stream_that_really_stops_is_lost(wait_until):
    """The source stops pushing (its outlet stays): reported lost, once, from the last
    sample received."""
    name = _unique("stops")
    events, chunks = [], []
    source = _Source(name, n_samples=250 * 60)
    eeg = _input(name, events)
    try:
        eeg.connect()
        _pump(eeg, source, 1.5, chunks)

        def lost():
            chunk = eeg.read(timeout=0.05)
            chunks.extend([chunk] if chunk is not None else [])
            return any(e.status == LOST for e in events)

        wait_until(lost, 60, "the loss report")
    finally:
        eeg.close()
        source.outlet._del()
    losses = [e for e in events if e.status == LOST]
    assert len(losses) == 1
    assert losses[0].gap.start == chunks[-1].timestamps[-1]
    assert losses[0].gap.detected > losses[0].gap.start + eeg.loss_timeout - 1e-3
