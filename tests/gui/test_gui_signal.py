"""Step 2, Signal check: traces, quality indicators, bad channels, lost stream (the ring
buffer and the quality statistics are tested without Qt in tests/processing)."""

import numpy as np
from PySide6 import QtCore


def test_traces_quality_and_bad_channels(connected, qtbot, shot, wait_until):
    win, c = connected, connected.controller
    view = win.show_step("Signal check")
    panel = view.panel
    wait_until(lambda: panel.traces.frames > 5 and panel.last_quality is not None,
               what="traces and quality")
    assert len(panel.quality.status) == len(c.acq.ch_names)
    # The simulated amplifier hums at 50 Hz (3 µV), the mains of the settings: seen in the
    # spectrum, flagged on every channel (test_the_mains_line_seen_in_the_spectrum_is_flagged).
    assert set(panel.quality.status) == {"line noise"}
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


def test_the_mains_line_seen_in_the_spectrum_is_flagged(connected, qtbot, wait_until):
    from bci_app.gui.palette import QUALITY_COLOURS

    win, c = connected, connected.controller
    panel = win.show_step("Signal check").panel
    # No power line frequency in the settings (session, site): both 50 and 60 Hz are
    # looked at.
    assert c.mains_frequencies() == (50.0, 60.0)
    wait_until(lambda: panel.last_quality is not None, what="the channel quality")
    assert panel.mains_label.text() == \
        "Line noise looked for at 50 and 60 Hz (power line not set)"
    q = panel.last_quality
    # The 50 Hz peak of the spectrum drawn (the mean of the good channels) stands a decade
    # and more above the bins around it, and every channel is flagged with its mains level.
    freqs, psd = panel.spectrum.curve.getData()
    around = (abs(freqs - 50) > 3) & (abs(freqs - 50) <= 15)
    assert psd[freqs == 50.0][0] > 10 * np.median(psd[around])
    assert set(q["status"]) == {"line noise"}
    item = panel.quality.item(0)
    assert "line noise" in item.text() and "mains" in item.text()
    assert item.foreground().color().name() == QUALITY_COLOURS["line noise"].lower()
    # A session recorded where the power line is at 60 Hz (its EEG settings, 'Patient &
    # session'): the simulator's 50 Hz is not the mains, and is not flagged.
    c.session.set_eeg_settings(line_freq=60)
    assert c.mains_frequencies() == (60.0,)
    wait_until(lambda: set(panel.quality.status) == {"good"}, what="good channels at 60 Hz")
    assert panel.mains_label.text() == "Line noise looked for at 60 Hz (power line)"
    c.session.set_eeg_settings(line_freq=50)
    wait_until(lambda: set(panel.quality.status) == {"line noise"}, what="flagged at 50 Hz")
