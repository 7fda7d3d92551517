"""Step 2, Signal check: ring buffer, quality indicators, traces, bad channels, lost stream."""

import numpy as np

from PySide6 import QtCore

from bci_app.processing.buffers import RingBuffer
from bci_app.processing.quality import channel_quality


def test_ring_buffer_keeps_the_latest_samples_in_order():
    buf = RingBuffer(2, 10)
    data = np.arange(26, dtype=float).reshape(2, 13)
    buf.write(data[:, :7])
    buf.write(data[:, 7:])
    assert buf.count == 13
    np.testing.assert_array_equal(buf.latest(10), data[:, 3:])
    np.testing.assert_array_equal(buf.latest(4), data[:, 9:])
    buf.write(np.zeros((2, 25)))
    assert buf.latest(10).shape == (2, 10) and not buf.latest(10).any()


def test_channel_quality_flags_flat_noisy_and_line_noise():
    sfreq, n = 250.0, 500
    t = np.arange(n) / sfreq
    rng = np.random.default_rng(0)
    good = 10e-6 * rng.standard_normal(n)
    data = np.stack([good, 1e-8 * rng.standard_normal(n), 300e-6 * rng.standard_normal(n),
                     good + 40e-6 * np.sin(2 * np.pi * 50 * t)])
    q = channel_quality(data, sfreq)
    assert q["status"] == ["good", "flat", "noisy", "line noise"]


def test_traces_quality_and_bad_channels(connected, qtbot, shot, wait_until):
    win, c = connected, connected.controller
    view = win.show_step("Signal check")
    panel = view.panel
    wait_until(lambda: panel.traces.frames > 5 and panel.last_quality is not None,
               what="traces and quality")
    assert len(panel.quality.status) == len(c.acq.ch_names)
    assert all(s == "good" for s in panel.quality.status)
    assert panel.traces.paints > 0
    # Tick C3 as bad: excluded from the traces and stored with the session.
    panel.quality.item(c.acq.ch_names.index("C3")).setCheckState(
        QtCore.Qt.CheckState.Checked)
    assert c.bad_channels == ["C3"]
    assert c.session.meta["bad_channels"] == ["C3"]
    assert "C3" in panel.traces.bad
    panel.filter_box.setCurrentText("8-30 Hz (mu/beta)")
    qtbot.wait(600)
    shot(win, "2_signal_check")


def test_lost_stream_shows_a_banner_until_it_is_back(connected, qtbot, shot, wait_until):
    win, c = connected, connected.controller
    win.show_step("Signal check")
    amp = c.amplifier
    amp.stop()
    wait_until(lambda: win.banner.isVisible(), what="the signal-lost banner")
    assert "Signal lost" in win.banner.text()
    shot(win, "2_signal_lost_banner")
    amp.start()
    wait_until(lambda: not win.banner.isVisible(), what="the reconnection")
    assert c.acq.eeg.status == "connected"
