"""The cue cycle of `bci-app simulate --auto`, driving a real simulated amplifier over real
LSL (kept on loopback), at a tenth of a second's scale.

The cycle is known in advance: rest, then each class in turn with rest between, stamped from
the first poll by the given durations; and the amplifier, seeded, must stream exactly what its
generator gives with the class switched at the first sample stamped at or after each cue.
"""

import time

import numpy as np
import pytest

# The simulator's own test tools: its stream received, and regenerated chunk by chunk.
from test_simulator import SFREQ, _receive_until, _replay, _unique

from bci_app.acquisition.cues import CueCycle
from bci_app.acquisition.lsl import find_stream
from bci_app.acquisition.simulator import SimulatedAmplifier
from bci_app.errors import ConfigError

REST_S, IMAGERY_S = 0.2, 0.3
CLASSES = ["left_hand", "right_hand"]


def _open_inlet(name, timeout=20.0):
    from mne_lsl.lsl import StreamInlet

    inlet = StreamInlet(find_stream(name, None, timeout=timeout).sinfo)
    inlet.open_stream(timeout=timeout)
    return inlet


def test_plan_and_bad_settings():
    amp = SimulatedAmplifier(name=_unique("cues"))
    assert CueCycle(amp, CLASSES, REST_S, IMAGERY_S).plan == [
        ("rest", REST_S), ("left_hand", IMAGERY_S), ("rest", REST_S),
        ("right_hand", IMAGERY_S)]
    assert CueCycle(amp, ["feet"], 1.0, 2.0).plan == [("rest", 1.0), ("feet", 2.0)]
    assert CueCycle(amp, [], 1.0, 2.0).plan == [("rest", 1.0)]
    with pytest.raises(ConfigError, match=r"unknown class\(es\) \['tongue'\]"):
        CueCycle(amp, ["left_hand", "tongue"], REST_S, IMAGERY_S)
    with pytest.raises(ConfigError, match="> 0 s"):
        CueCycle(amp, CLASSES, 0.0, IMAGERY_S)


def test_late_polls_keep_the_schedule():
    """Cues are stamped by the schedule, not by when they are polled."""
    amp = SimulatedAmplifier(name=_unique("cues"))
    cues = CueCycle(amp, CLASSES, REST_S, IMAGERY_S)
    assert cues.poll(now=100.0) == [(100.0, "rest")]
    assert cues.poll(now=100.1) == []
    late = cues.poll(now=101.1)
    assert [m for _, m in late] == ["left_hand", "rest", "right_hand", "rest"]
    np.testing.assert_allclose([t for t, _ in late], [100.2, 100.5, 100.7, 101.0])
    assert cues.poll(now=101.2 + 1e-9) == [(pytest.approx(101.2), "left_hand")]


def test_cycle_drives_the_amplifier_and_publishes_its_markers():
    from mne_lsl.lsl import local_clock

    seed, n_cues = 5, 7  # rest, left, rest, right, rest, left, rest
    amp = SimulatedAmplifier(name=_unique("cues"), seed=seed, artifacts=False)
    with amp, CueCycle(amp, CLASSES, REST_S, IMAGERY_S) as cues:
        eeg, markers = _open_inlet(amp.name), _open_inlet(cues.name)
        try:
            # The whole cycle sent ~1 s ahead of the stream: every switch is in the future
            # of the samples pushed, however loaded the machine.
            start = local_clock() + 1.0
            sent = cues.poll(now=start)
            sent += cues.poll(now=start + 3 * (REST_S + IMAGERY_S) + 0.01)
            assert len(sent) == n_cues
            got, stamps = [], []
            deadline = time.monotonic() + 60.0
            while len(got) < n_cues and time.monotonic() < deadline:
                values, ts = markers.pull_chunk(timeout=0.2)
                got += [v[0] for v in values]
                stamps += list(ts)
            last = int((sent[-1][0] - amp.start_time) * SFREQ) + 100
            index, data, _ = _receive_until(eeg, amp, last, timeout=60.0)
        finally:
            eeg._del()
            markers._del()
    expected = ["rest", "left_hand", "rest", "right_hand", "rest", "left_hand", "rest"]
    assert [m for _, m in sent] == got == expected
    durations = [REST_S, IMAGERY_S] * 3
    np.testing.assert_allclose(np.diff(stamps), durations, atol=1e-9)
    np.testing.assert_allclose(stamps, [t for t, _ in sent], atol=1e-9)
    # Each switch at the first sample stamped at or after its cue, as the amplifier stamps
    # sample k at start_time + k / sfreq.
    times = amp.start_time + np.arange(index[-1] + 1) / SFREQ
    switches = {int(np.searchsorted(times, t, side="left")): None if m == "rest" else m
                for t, m in sent}
    assert index[0] < min(switches) and max(switches) <= index[-1]
    np.testing.assert_allclose(data, _replay(seed, index[-1] + 1, switches,
                                             artifacts=False)[:, index],
                               rtol=1e-5, atol=1e-12)
