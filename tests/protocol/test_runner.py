"""Schedules, the clock-driven runner, and its markers over real LSL (kept on loopback).

The LSL tests use a protocol scaled down to tenths of a second. Nothing asserts speed: waits
are for events, with generous deadlines (the machine may be loaded), and what is checked is
what reached the consumers (which markers, stamped when) and which simulated samples carry
which class, never how fast they got there.
"""

import threading
import time
import uuid
from collections import Counter

import numpy as np
import pytest

from bci_app.acquisition.simulator import SimulatedAmplifier, default_marker_map
from bci_app.errors import ConfigError
from bci_app.processing.labels import sample_codes
from bci_app.processing.runs import Run
from bci_app.protocol import (
    Protocol,
    ProtocolRunner,
    Timing,
    build_schedule,
    load_protocol,
    marker_annotations,
)

TIMING = Timing(baseline_s=2.0, fixation_s=1.0, cue_s=0.5, imagery_s=3.0, iti_min_s=1.0,
                iti_max_s=2.0)


def _protocol(classes=("left_hand", "right_hand"), trials=4, timing=TIMING, **kwargs):
    return Protocol(name="test", run_type=kwargs.pop("run_type", "calibration"),
                    classes=list(classes), trials_per_class=trials, timing=timing, **kwargs)


def _unique(prefix):
    # Unique names: other processes on the machine may run the same tests.
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class FakeClock:
    def __init__(self, now=100.0):
        self.now = now

    def __call__(self):
        return self.now


# -- schedules ---------------------------------------------------------------------------
def _imagery(steps):
    return [s for s in steps if s.state == "imagery"]


def test_schedule_structure():
    steps = build_schedule(_protocol(trials=3), seed=0)
    assert [s.marker for s in steps[:7]] == [
        "run_start", "baseline", "fixation", steps[3].marker, steps[4].marker, "idle",
        "fixation"]
    assert steps[3].marker == f"cue_{steps[3].label}" and steps[4].marker == steps[4].label
    assert steps[-1].state == "end" and steps[-1].marker == "run_end"
    # contiguous: each step starts where the previous one ends
    for a, b in zip(steps[1:], steps[2:]):
        assert b.onset_s == pytest.approx(a.onset_s + a.duration_s, abs=1e-6)
    for s in steps:
        if s.state == "iti":
            assert 1.0 <= s.duration_s <= 2.0
        if s.state in ("fixation", "iti"):
            assert s.label is None and s.trial is not None  # the class is not revealed
        if s.state in ("cue", "imagery"):
            assert s.label in ("left_hand", "right_hand")
    assert [s.trial for s in _imagery(steps)] == list(range(6))
    assert not any(s.feedback for s in steps)


def test_schedule_is_reproducible_and_block_randomised():
    p = _protocol(classes=("left_hand", "right_hand", "feet"), trials=10)
    a, b = build_schedule(p, seed=7), build_schedule(p, seed=7)
    assert a == b
    assert a != build_schedule(p, seed=8)
    order = [s.label for s in _imagery(a)]
    for k in range(0, len(order), 3):  # every block of 3 holds each class once
        assert sorted(order[k:k + 3]) == ["feet", "left_hand", "right_hand"]
    assert len(set(tuple(order[k:k + 3]) for k in range(0, 30, 3))) > 1  # shuffled
    # the protocol's own seed is used when none is given
    seeded = _protocol(trials=5, seed=3)
    assert build_schedule(seeded) == build_schedule(seeded, seed=3)


def test_full_and_no_randomisation():
    full = [s.label for s in _imagery(build_schedule(
        _protocol(trials=20, randomisation="full"), seed=1))]
    assert Counter(full) == {"left_hand": 20, "right_hand": 20}
    blocks_ok = all(sorted(full[k:k + 2]) == ["left_hand", "right_hand"]
                    for k in range(0, 40, 2))
    assert not blocks_ok  # not block-balanced (for this seed)
    none = [s.label for s in _imagery(build_schedule(
        _protocol(trials=3, randomisation="none"), seed=1))]
    assert none == ["left_hand", "right_hand"] * 3


def test_optional_phases_and_feedback():
    timing = Timing(0.0, 0.0, 0.0, 2.0, 1.0, 1.0)
    steps = build_schedule(_protocol(trials=1, timing=timing, run_type="online"), seed=0)
    assert [s.state for s in steps] == ["start", "imagery", "iti", "imagery", "iti", "end"]
    assert [s.feedback for s in steps] == [False, True, False, True, False, False]
    assert steps[-1].onset_s == pytest.approx(6.0)
    p = _protocol(trials=2, timing=Timing(2.0, 1.0, 0.5, 3.0, 1.5, 1.5))
    assert build_schedule(p)[-1].onset_s == pytest.approx(p.total_duration())


def test_custom_markers_and_rest_class():
    p = load_protocol("hand_vs_rest", affected_hand="right")
    steps = build_schedule(p, seed=2)
    assert {s.marker for s in _imagery(steps)} == {"right_hand", "rest"}
    assert {s.marker for s in steps if s.state == "cue"} == {"cue_right_hand", "cue_rest"}
    coded = _protocol(markers={"left_hand": "769", "right_hand": "770"})
    assert {s.marker for s in _imagery(build_schedule(coded, seed=0))} == {"769", "770"}
    with pytest.raises(ConfigError, match="Protocol"):
        build_schedule({"classes": ["left_hand"]})


def test_simulator_follows_the_marker_scheme():
    """Replayed through the simulator's marker map: the class is on exactly during imagery."""
    p = _protocol(classes=("left_hand", "right_hand", "feet"), trials=3)
    sim = {k.lower(): v for k, v in default_marker_map().items()}
    label = None
    for step in build_schedule(p, seed=4):
        label = sim.get(step.marker.lower(), label)  # unknown markers are ignored
        assert label == (step.label if step.state == "imagery" else None), step


def test_annotations_from_markers_label_task_and_idle():
    """Markers -> annotations -> the pseudo-online evaluation's per-sample codes."""
    p = _protocol(classes=("left_hand", "right_hand"), trials=2)
    steps = build_schedule(p, seed=5)
    t0 = 1000.0
    events = [(t0 + s.onset_s, s.marker) for s in steps]
    sfreq, end = 100.0, t0 + steps[-1].onset_s
    for idle in (None, "idle"):
        annotations = marker_annotations(events, origin=t0, end=end,
                                         class_of_marker=p.class_of_marker, idle=idle)
        assert [a[2] for a in annotations if a[2] in p.classes] == \
            [s.label for s in _imagery(steps)]
        assert all(a[1] == pytest.approx(3.0) for a in annotations if a[2] in p.classes)
        run = Run(np.zeros((1, int((end - t0) * sfreq))), sfreq, ["C3"], annotations)
        codes = sample_codes(run, ["idle", "left_hand", "right_hand"])
        for s in steps[1:-1]:  # not the zero-length start and end
            a, b = int(round(s.onset_s * sfreq)), int(round((s.onset_s + s.duration_s) * sfreq))
            expected = {"imagery": ["idle", "left_hand", "right_hand"].index(s.label or "idle"),
                        "baseline": 0, "iti": 0}.get(s.state, 0 if idle else -1)
            assert set(codes[a + 1:b - 1]) <= {expected}, (idle, s)  # +-1: rounding


# -- the runner, on a simulated clock ------------------------------------------------------
def test_poll_walks_the_schedule_with_scheduled_timestamps():
    clock = FakeClock(100.0)
    runner = ProtocolRunner(_protocol(trials=2), outlet_name=None, clock=clock, seed=3)
    seen = []
    runner.subscribe(lambda *args: seen.append(args))
    with pytest.raises(RuntimeError, match="begin"):
        runner.poll()
    assert runner.begin() == 100.0
    assert [t.marker for t in runner.poll()] == ["run_start", "baseline"]
    assert runner.state == "baseline" and runner.trial is None
    assert runner.poll(101.0) == []
    # a late poll sends every step due, each stamped with its scheduled time
    first_imagery = next(s for s in runner.schedule if s.state == "imagery")
    late = runner.poll(100.0 + first_imagery.onset_s + 0.25)
    assert [t.state for t in late] == ["fixation", "cue", "imagery"]
    assert [t.timestamp for t in late] == [100.0 + s.onset_s for s in runner.schedule[2:5]]
    assert [t.lateness for t in late] == pytest.approx([1.75, 0.75, 0.25])
    assert runner.state == "imagery" and runner.label == first_imagery.label
    assert runner.trial == 0
    assert seen[-1] == ("imagery", 0, first_imagery.label, 100.0 + first_imagery.onset_s)
    rest = runner.poll(100.0 + runner.schedule[-1].onset_s)
    assert rest[-1].marker == "run_end" and runner.is_finished and runner.wait(0)
    assert runner.poll(1e9) == []
    assert runner.events == [(100.0 + s.onset_s, s.marker) for s in runner.schedule]
    assert len(seen) == len(runner.schedule)
    assert runner.seed == 3 and runner.end_time == 100.0 + runner.schedule[-1].onset_s
    with pytest.raises(RuntimeError, match="already started"):
        runner.begin()


def test_pause_repeats_the_interrupted_trial_and_shifts_the_schedule():
    clock = FakeClock(0.0)
    runner = ProtocolRunner(_protocol(trials=2), outlet_name=None, clock=clock, seed=1)
    runner.begin(at=10.0)
    imagery = next(i for i, s in enumerate(runner.schedule) if s.state == "imagery")
    t_img = 10.0 + runner.schedule[imagery].onset_s
    runner.poll(t_img + 1.0)
    assert runner.state == "imagery"
    assert [t.marker for t in runner.pause(t_img + 1.0)] == ["pause"]
    assert runner.events[-2:] == [(t_img + 1.0, "idle"), (t_img + 1.0, "pause")]
    assert runner.pause(t_img + 2.0) == [] and runner.is_paused
    assert runner.poll(t_img + 100.0) == []  # nothing is sent while paused
    resumed = runner.resume(t_img + 60.0)
    assert [t.state for t in resumed] == ["resumed"] and not runner.is_paused
    # the interrupted trial 0 starts again from its fixation, iti_min_s after the resume
    restart = t_img + 60.0 + TIMING.iti_min_s
    assert runner.poll(restart - 0.01) == []
    again = runner.poll(restart + TIMING.fixation_s + TIMING.cue_s)
    assert [(t.state, t.trial) for t in again] == [
        ("fixation", 0), ("cue", 0), ("imagery", 0)]
    assert again[0].timestamp == pytest.approx(restart)
    assert runner.repeated_trials == [0]
    end = runner.end_time
    assert end == pytest.approx(restart + runner.schedule[-1].onset_s
                                - runner.schedule[imagery - 2].onset_s)
    runner.poll(end)
    assert runner.is_finished and not runner.aborted
    markers = [m for _, m in runner.events]
    assert Counter(markers)["fixation"] == 5  # 4 trials + the repeated one


def test_abort_during_imagery_ends_the_class_period():
    clock = FakeClock(0.0)
    runner = ProtocolRunner(_protocol(trials=2), outlet_name=None, clock=clock, seed=1)
    runner.begin(at=0.0)
    imagery = next(s for s in runner.schedule if s.state == "imagery")
    runner.poll(imagery.onset_s + 0.5)
    out = runner.abort(imagery.onset_s + 0.5)
    assert [t.marker for t in out] == ["run_aborted"] and runner.aborted
    assert [m for _, m in runner.events[-3:]] == [imagery.marker, "idle", "run_aborted"]
    assert runner.is_finished and runner.abort() == [] and runner.poll(1e6) == []


def test_subscriber_errors_do_not_stop_the_run():
    runner = ProtocolRunner(_protocol(trials=1), outlet_name=None, clock=FakeClock(0.0))
    runner.subscribe(lambda *args: 1 / 0)
    runner.begin(at=0.0)
    assert len(runner.poll(1e6)) == len(runner.schedule)
    assert runner.is_finished
    with pytest.raises(ConfigError):
        runner.subscribe("not callable")
    with pytest.raises(ConfigError):
        ProtocolRunner("left_right_hand")


def test_thread_mode_with_an_injected_clock():
    """The thread reads the injected clock (here: real time, shifted)."""
    offset = 5000.0
    runner = ProtocolRunner(_protocol(trials=1).scaled(0.05), outlet_name=None,
                            clock=lambda: time.monotonic() + offset, seed=0)
    states = []
    runner.subscribe(lambda state, trial, label, ts: states.append(state))
    runner.start()
    assert runner.t0 > offset
    assert runner.wait(timeout=60.0)
    runner.stop()
    assert states == [s.state for s in runner.schedule]


# -- real LSL ------------------------------------------------------------------------------
DEADLINE = 60.0  # seconds: generous, the machine may be loaded


def _short_protocol(imagery_s=0.4):
    timing = Timing(baseline_s=0.3, fixation_s=0.15, cue_s=0.15, imagery_s=imagery_s,
                    iti_min_s=0.25, iti_max_s=0.35)
    return _protocol(trials=2, timing=timing)


def _open_marker_inlet(name, timeout=DEADLINE):
    from mne_lsl.lsl import StreamInlet, resolve_streams

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sinfos = resolve_streams(timeout=0.5, name=name)
        if sinfos:
            assert sinfos[0].stype == "Markers" and sinfos[0].dtype == "string"
            inlet = StreamInlet(sinfos[0])
            inlet.open_stream(timeout=timeout)
            return inlet
    pytest.fail(f"marker stream {name!r} not found within {timeout} s")


def _pull_until(inlet, last_marker, timeout=DEADLINE):
    """Every (timestamp, marker) the inlet gets, until ``last_marker`` (or the deadline)."""
    received = []
    deadline = time.monotonic() + timeout
    while (not received or received[-1][1] != last_marker) and time.monotonic() < deadline:
        sample, ts = inlet.pull_sample(timeout=0.2)
        if ts is not None:
            received.append((ts, sample[0]))
    return received


def test_markers_over_lsl_drive_the_simulated_amplifier(wait_until):
    """End to end: runner -> LSL marker outlet -> (inlet, simulated amplifier).

    The simulator applies a class from the first sample at or after the marker's timestamp
    that it has not pushed yet. Which samples are already pushed when a marker arrives
    depends on the machine's load, so each switch is checked against the samples pushed at
    that moment: exactly at the marker's sample when it arrived in time, never before it,
    and no later than the next chunk otherwise.
    """
    from mne_lsl.lsl import local_clock

    name = _unique("test-protocol")
    # imagery long enough (200 samples) that a class period survives a late marker thread
    runner = ProtocolRunner(_short_protocol(imagery_s=0.8), outlet_name=name, seed=11)
    amp = SimulatedAmplifier(name=_unique("test-sim"), seed=0, marker_stream=name)
    # Observe the simulator (its real threads do the work): the markers it handles, with
    # the number of samples pushed once each was applied, and the class of every sample.
    arrivals, generated = [], []
    handle, generate = amp.handle_marker, amp._generator.generate

    def observed_handle(marker, timestamp=None):
        applied = handle(marker, timestamp)
        arrivals.append((timestamp, marker, amp.samples_pushed))
        return applied

    def observed_generate(n_samples, label=None):
        generated.append((n_samples, label))
        return generate(n_samples, label)

    amp.handle_marker, amp._generator.generate = observed_handle, observed_generate
    received = []
    try:
        runner.open_outlet()
        amp.start()
        assert runner.wait_for_consumers(timeout=DEADLINE)  # the simulator's marker inlet
        inlet = _open_marker_inlet(name)
        try:
            runner.start(at=local_clock() + 0.3)
            assert runner.wait(timeout=DEADLINE)
            received = _pull_until(inlet, "run_end")
        finally:
            inlet._del()
        # The simulator got every marker and pushed the samples past the end of the run.
        wait_until(lambda: len(arrivals) == len(runner.schedule), DEADLINE,
                   "the simulator's markers", interval=0.01)
        end_sample = (runner.end_time - amp.start_time) * amp.sfreq
        wait_until(lambda: amp.samples_pushed > end_sample + amp.chunk_size, DEADLINE,
                   "the samples after the run", interval=0.01)
    finally:
        runner.stop()
        amp.stop()
    assert runner.error is None and amp.error is None
    # every marker arrives, in order, stamped with its scheduled time
    assert [m for _, m in received] == [s.marker for s in runner.schedule]
    scheduled = [runner.t0 + s.onset_s for s in runner.schedule]
    np.testing.assert_allclose([ts for ts, _ in received], scheduled, rtol=0, atol=1e-6)
    # sent when due, never before (how late is a benchmark's business, not a test's)
    assert all(t.emitted_at >= t.timestamp for t in runner.transitions)
    # the simulator's inlet got the same markers (clock-synchronised on this machine)
    assert [m for _, m, _ in arrivals] == [s.marker for s in runner.schedule]
    np.testing.assert_allclose([ts for ts, _, _ in arrivals], scheduled, rtol=0, atol=1e-3)
    # the class of each simulated sample follows the markers
    labels = [label for n, label in generated for _ in range(n)]
    sim = {k.lower(): v for k, v in default_marker_map().items()}
    switches = []  # (first sample at/after the marker, samples pushed once applied, label)
    for ts, marker, pushed in arrivals:
        if marker.lower() in sim:
            k = int(np.ceil((ts - amp.start_time) * amp.sfreq - 1e-6))
            switches.append((k, pushed, sim[marker.lower()]))
    for (k, pushed, label), nxt in zip(switches, switches[1:] + [(len(labels), 0, None)]):
        applied = max(k, pushed + amp.chunk_size)  # applied by then, whatever the load
        assert set(labels[applied:nxt[0]]) <= {label}, (k, pushed, label)
    changes = [s for s in range(1, len(labels)) if labels[s] != labels[s - 1]]
    for s in changes:  # each change is due to a marker: at its sample, or in the next chunk
        assert any(label == labels[s] and k <= s <= max(k, pushed + amp.chunk_size)
                   for k, pushed, label in switches), (s, labels[s])
    classes = [labels[s] for s in changes if labels[s] is not None]
    assert classes == [s.label for s in runner.schedule if s.state == "imagery"]


def test_stream_metadata_and_abort_over_lsl():
    """stop() during imagery: consumers get ``idle`` then ``run_aborted``, the last markers
    sent before the outlet is closed."""
    from mne_lsl.lsl import local_clock

    name = _unique("test-protocol")
    protocol = _short_protocol(imagery_s=30.0)  # stopped during the first imagery period
    runner = ProtocolRunner(protocol, outlet_name=name, seed=5)
    imagery = threading.Event()
    runner.subscribe(lambda state, *_: imagery.set() if state == "imagery" else None)
    try:
        runner.open_outlet()
        inlet = _open_marker_inlet(name)
        try:
            sinfo = inlet.get_sinfo(timeout=DEADLINE)
            assert (sinfo.name, sinfo.stype, sinfo.n_channels, sinfo.sfreq) == (
                name, "Markers", 1, 0.0)
            assert sinfo.source_id == runner.source_id
            xml = sinfo.as_xml
            assert "<seed>5</seed>" in xml and "left_hand,right_hand" in xml
            runner.start(at=local_clock())
            assert imagery.wait(DEADLINE)
            runner.stop()  # aborts the run in progress, then closes the outlet
            received = _pull_until(inlet, "run_aborted")
        finally:
            inlet._del()
    finally:
        runner.stop()
    first = runner.schedule[4]
    assert first.state == "imagery"
    assert [m for _, m in received] == [
        "run_start", "baseline", "fixation", f"cue_{first.label}", first.marker, "idle",
        "run_aborted"]
    assert received == runner.events  # each with the timestamp the runner gave it
    assert runner.aborted and runner.is_finished
