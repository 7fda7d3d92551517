"""What the signal check tells the operator when samples stop: a source held up for a moment
is not a lost amplifier, a lost one is, and the channel quality never says "good" while
nothing arrives. The sources are real LSL outlets on this machine; nothing asserts speed."""

import threading
import uuid

import numpy as np
import pytest

CHANNELS = ["C3", "Cz", "C4"]
SFREQ = 250.0


class _HeldUpSource:
    """A real LSL outlet producing EEG in real time (10-sample chunks, timestamps one sample
    apart on the LSL clock) whose pushing can be held up (:meth:`hold`), as a source starved
    of CPU is: the samples it owes are pushed when it is let go, with their own timestamps
    (nothing is missing), or never (:meth:`stop`)."""

    def __init__(self, name):
        from mne_lsl.lsl import StreamInfo, StreamOutlet, local_clock

        info = StreamInfo(name, "EEG", len(CHANNELS), SFREQ, "float32", name)
        info.set_channel_names(CHANNELS)
        info.set_channel_types("eeg")
        info.set_channel_units("microvolts")
        self.outlet = StreamOutlet(info, chunk_size=10)
        self.clock = local_clock
        self.pushed = 0
        self.held = threading.Event()
        self._stop = threading.Event()
        self._rng = np.random.default_rng(0)
        self.t0 = self.clock()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        while not self._stop.is_set():
            if not self.held.is_set():
                due = int((self.clock() - self.t0) * SFREQ) // 10 * 10
                while self.pushed < due:
                    index = self.pushed + np.arange(10)
                    data = (10.0 * self._rng.standard_normal((10, len(CHANNELS))))
                    self.outlet.push_chunk(data.astype(np.float32),
                                           timestamp=self.t0 + index / SFREQ)
                    self.pushed += 10
            self._stop.wait(0.01)

    def hold(self):
        self.held.set()

    def let_go(self):
        self.held.clear()

    def stop(self):
        self._stop.set()
        self._thread.join(5)

    def close(self):
        self.stop()
        self.outlet._del()


@pytest.fixture
def source():
    src = _HeldUpSource(f"held-up-{uuid.uuid4().hex[:8]}")
    yield src
    src.close()


def _connect(window, qtbot, name):
    from bci_app.session import Subject

    c = window.controller
    c.save_subject(Subject("T01"))
    c.new_session("T01")
    with qtbot.waitSignal(c.sourceReady, timeout=60000):
        c.open_source(name)
    return c


def test_a_source_held_up_for_a_moment_is_not_a_lost_signal(window, qtbot, source,
                                                          wait_until, monkeypatch):
    from bci_app.online import monitor

    # The stream declares a loss after 0.5 s without samples; the operator is told after
    # LOSS_ALARM_S. Here 4 s, so that a hold of 1.5 s (as CPU contention can cause) is
    # well between the two on any machine.
    monkeypatch.setattr(monitor, "LOSS_ALARM_S", 4.0)
    c = _connect(window, qtbot, source.outlet.get_sinfo().name)
    window.show_step("Signal check")
    statuses, stream_events = [], []
    c.statusChanged.connect(lambda status, message: statuses.append((status, message)))
    c.acq.eeg.subscribe(lambda event: stream_events.append(event.status))
    wait_until(lambda: c.acq.samples > SFREQ, what="a second of samples")
    source.hold()
    wait_until(lambda: "lost" in stream_events, what="the stream declaring the loss")
    qtbot.wait(1000)  # the source is held up for 1.5 s or more in all
    assert not window.banner.isVisible()
    source.let_go()
    wait_until(lambda: "connected" in stream_events[stream_events.index("lost"):],
               what="the samples coming back")
    wait_until(lambda: any("delayed" in m for s, m in statuses), what="the delay reported")
    # Never a loss for the operator: no "lost" status, no red banner; the status bar said
    # samples were awaited, then that they came late, with almost nothing missing.
    assert [s for s, _ in statuses if s == "lost"] == []
    assert not window.banner.isVisible()
    delayed = next(m for s, m in statuses if "delayed" in m)
    # The samples owed came with their own timestamps: nothing is missing (the timestamps
    # of the last sample before and the first after are one sample, 4 ms, apart).
    assert delayed.endswith("; no sample missing): not a loss."), delayed
    # A source that does not come back is lost, and the operator is told so.
    source.stop()
    wait_until(lambda: window.banner.isVisible(), timeout=30, what="the signal-lost banner")
    assert "Signal lost" in window.banner.text()
    assert c.acq.eeg.status == "lost"


def test_the_channel_list_never_shows_good_on_a_stream_that_stopped(window, qtbot, source,
                                                                    wait_until):
    c = _connect(window, qtbot, source.outlet.get_sinfo().name)
    view = window.show_step("Signal check")
    panel = view.panel
    wait_until(lambda: panel.last_quality is not None
               and set(panel.quality.status) == {"good"}, what="good channels")
    # The operator goes to another step; the amplifier stops sending meanwhile.
    window.show_step("Training")
    source.stop()
    wait_until(lambda: c.acq.raw_buffer.age() is not None and c.acq.raw_buffer.age() > 1.5,
               what="no sample for 1.5 s")
    # Back to the signal check: at once "no signal", never the "good" it last showed.
    window.show_step("Signal check")
    assert panel.quality.status == ["no signal"] * len(CHANNELS)
    assert all("no signal" in panel.quality.item(i).text() for i in range(len(CHANNELS)))
