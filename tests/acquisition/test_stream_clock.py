"""The clock of a stream (regularisation, discontinuities, duplicates, rate, local clock) on
timestamps built by hand, where every answer is known: the true acquisition time of each
sample, where samples are missing, where the clock jumps.

The same faults on real LSL streams are in ``tests/faults/test_streams.py``.
"""

import numpy as np
import pytest

from bci_app.acquisition.clock import StreamClock

T0 = 5000.0


def _feed(clock, stamps, arrivals, chunk=10):
    """Push ``stamps`` chunk by chunk, as an input does (the samples a push leaves are pushed
    with the next chunk). Returns the timestamps delivered and the discontinuities as
    (index of the first sample after it, Discontinuity)."""
    out, breaks = [], []
    pending_t, pending_a = np.empty(0), np.empty(0)
    delivered = 0
    for k in range(0, stamps.size, chunk):
        ts = np.concatenate([pending_t, stamps[k:k + chunk]])
        arr = np.concatenate([pending_a, arrivals[k:k + chunk]])
        taken, times, jump = clock.push(ts, arr)
        if jump is not None:
            breaks.append((delivered, jump))
        out.append(times)
        delivered += taken
        pending_t, pending_a = ts[taken:], arr[taken:]
    while pending_t.size:
        taken, times, jump = clock.push(pending_t, pending_a)
        if jump is not None:
            breaks.append((delivered, jump))
        out.append(times)
        delivered += taken
        pending_t, pending_a = pending_t[taken:], pending_a[taken:]
    return np.concatenate(out), breaks


def _arrivals(true, chunk=10, delay=0.002):
    """Each chunk arrives ``delay`` after its last sample was acquired."""
    last = np.minimum((np.arange(true.size) // chunk + 1) * chunk, true.size) - 1
    return true[last] + delay


def test_jitter_of_50_ms_is_removed_without_discontinuities():
    rng = np.random.default_rng(1)
    true = T0 + np.arange(5000) / 250.0
    stamps = true + rng.uniform(-0.05, 0.05, true.size)
    clock = StreamClock(250.0)
    out, breaks = _feed(clock, stamps, _arrivals(true))
    assert breaks == []
    assert np.all(np.diff(out) > 0)
    assert np.max(np.abs(out[500:] - true[500:])) < 0.01  # after 2 s of fit
    assert clock.n_out_of_order == np.count_nonzero(np.diff(stamps) <= 0)
    assert clock.measured_rate == pytest.approx(250.0, abs=0.5)
    # robust sd (1.4826 x median absolute deviation) of uniform ±50 ms: 1.4826 x 25 ms
    assert clock.jitter == pytest.approx(0.037, abs=0.004)
    assert clock.on_local_clock


def test_missing_samples_are_one_discontinuity_where_they_are():
    true = T0 + np.arange(3000) / 250.0
    true[1500:] += 0.5  # 0.5 s of samples never sent
    clock = StreamClock(250.0)
    out, breaks = _feed(clock, true.copy(), _arrivals(true))
    assert len(breaks) == 1
    index, jump = breaks[0]
    assert index == 1500 and jump.reason == "discontinuity"
    assert (jump.start, jump.end) == pytest.approx((true[1499], true[1500]), abs=1e-9)
    assert np.allclose(out, true, atol=1e-9, rtol=0)


def test_missing_samples_inside_a_chunk_end_it_there():
    true = T0 + np.arange(3000) / 250.0
    true[1505:] += 0.5  # in the middle of a chunk of 10
    clock = StreamClock(250.0)
    _, breaks = _feed(clock, true.copy(), _arrivals(true))
    assert [index for index, _ in breaks] == [1505]


@pytest.mark.parametrize("jump", [10.0, -10.0, -0.5])
def test_a_clock_jump_is_a_discontinuity_and_leaves_the_local_clock(jump):
    true = T0 + np.arange(3000) / 250.0
    arrivals = _arrivals(true)  # the samples go on arriving as before
    stamps = true.copy()
    stamps[1500:] += jump
    clock = StreamClock(250.0)
    _feed(clock, stamps[:1500], arrivals[:1500])
    assert clock.on_local_clock
    _, breaks = _feed(clock, stamps[1500:], arrivals[1500:])
    assert len(breaks) == 1 and breaks[0][0] == 0
    assert breaks[0][1].reason == "clock jump"
    assert breaks[0][1].end - breaks[0][1].start == pytest.approx(jump + 1 / 250.0)
    assert not clock.on_local_clock


def test_rate_off_the_declared_one_is_measured_and_followed():
    true = T0 + np.arange(160 * 8) / 160.0  # declared 250 Hz, delivers 160 Hz
    clock = StreamClock(250.0)
    out, breaks = _feed(clock, true.copy(), _arrivals(true))
    assert breaks == []
    assert clock.measured_rate == pytest.approx(160.0, rel=1e-9)
    assert np.allclose(out[20:], true[20:], atol=1e-9, rtol=0)  # from the third chunk on


def test_rate_is_not_reported_before_five_seconds():
    true = T0 + np.arange(160 * 4) / 160.0
    clock = StreamClock(250.0)
    _feed(clock, true.copy(), _arrivals(true))
    assert clock.measured_rate is None


def test_duplicates_are_dropped_but_not_samples_sharing_a_timestamp():
    clock = StreamClock(250.0)
    stamps = T0 + np.arange(30) / 250.0
    data = np.vstack([np.arange(30.0), -np.arange(30.0)])
    assert clock.drop_duplicates(stamps[:20], data[:, :20]).all()
    # The last chunk again (a resend), then the next one.
    again = clock.drop_duplicates(stamps[10:30], data[:, 10:30])
    assert np.array_equal(again, np.arange(10, 30) >= 20)
    assert clock.n_duplicates == 10
    # A new sample stamped like the previous one is kept (its timestamp is repaired).
    same_time = clock.drop_duplicates(np.array([stamps[29]]), np.array([[99.0], [1.0]]))
    assert same_time.all() and clock.n_duplicates == 10


def test_a_step_back_within_the_tolerance_is_repaired():
    true = T0 + np.arange(1000) / 250.0
    stamps = true.copy()
    stamps[500:510] -= 0.03  # one chunk stamped 30 ms early
    clock = StreamClock(250.0)
    out, breaks = _feed(clock, stamps, _arrivals(true))
    assert breaks == []
    assert clock.n_out_of_order == 1
    assert np.all(np.diff(out) > 0)


def test_without_dejitter_the_received_timestamps_are_kept_and_gaps_still_found():
    rng = np.random.default_rng(2)
    true = T0 + np.arange(3000) / 250.0
    true[2000:] += 1.0
    stamps = true + rng.uniform(-0.02, 0.02, true.size)
    clock = StreamClock(250.0, dejitter=False)
    out, breaks = _feed(clock, stamps.copy(), _arrivals(true))
    assert np.array_equal(out, stamps)
    assert [(index, jump.reason) for index, jump in breaks] == [(2000, "discontinuity")]


def test_a_replay_stamped_ahead_of_its_arrival_is_not_on_the_local_clock():
    # A player stamps the last sample of each chunk of 10 at 160 Hz one chunk ahead of the
    # time it sends it: the samples arrive 62.5 ms before their timestamps.
    true = T0 + np.arange(1600) / 160.0
    clock = StreamClock(160.0)
    _feed(clock, true.copy(), _arrivals(true, delay=-10 / 160.0))
    assert not clock.on_local_clock
    live = StreamClock(160.0)
    _feed(live, true.copy(), _arrivals(true, delay=0.002))
    assert live.on_local_clock


def test_a_new_stretch_after_reset_has_no_discontinuity():
    true = T0 + np.arange(1000) / 250.0
    clock = StreamClock(250.0)
    _feed(clock, true[:500].copy(), _arrivals(true)[:500])
    clock.reset()  # e.g. the stream was lost; it comes back 60 s later
    out, breaks = _feed(clock, true[500:] + 60.0, _arrivals(true)[500:] + 60.0)
    assert breaks == [] and np.allclose(out, true[500:] + 60.0, atol=1e-9, rtol=0)
