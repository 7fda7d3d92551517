"""Step 1, Patient & session: the session's EEG settings (power line, reference,
amplifier), saved with the session as ``bci-app session --line-freq ...`` saves them."""

import json

from PySide6 import QtWidgets


def _dialogs(window):
    return [w for w in window.findChildren(QtWidgets.QMessageBox) if w.isVisible()]


def test_eeg_settings_are_saved_with_the_session(window):
    view = window.show_step("Patient & session")
    # No session open: nothing to save them with.
    assert not view.line_freq_box.isEnabled()
    view.subject_id.setText("E01")
    view.save_subject_button.click()
    view.new_session_button.click()
    session = window.controller.session
    assert view.line_freq_box.isEnabled() and view.line_freq_box.currentData() is None
    view.line_freq_box.setCurrentIndex(view.line_freq_box.findData(60.0))
    view.line_freq_box.activated.emit(view.line_freq_box.currentIndex())
    reference = view._eeg_edits["eeg_reference"]
    reference.setText("  linked mastoids ")
    reference.editingFinished.emit()
    assert not [d.text() for d in _dialogs(window)]
    saved = json.loads((session.derivatives / "session.json").read_text())
    assert (saved["line_freq"], saved["eeg_reference"]) == (60.0, "linked mastoids")
    assert session.eeg_settings["amplifier_model"] is None  # empty: the stream says it
    assert session.entries()[-1]["event"] == "eeg_settings"
    # Another session starts without them; reopening the first shows them again.
    view.new_session_button.click()
    assert view.line_freq_box.currentData() is None and reference.text() == ""
    view.session_box.setCurrentText("01")
    view.open_session_button.click()
    assert view.line_freq_box.currentData() == 60.0
    assert reference.text() == "linked mastoids"
