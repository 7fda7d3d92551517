"""Step 2, Signal check: traces, quality indicators, bad channels, lost stream (the ring
buffer and the quality statistics are tested without Qt in tests/processing)."""

from PySide6 import QtCore


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
