"""Step 1, Patient & session: subjects, sessions, validation, amplifier choice."""

import csv

from bci_app.gui.controller import MONTAGES, SIMULATED
from bci_app.session import RecordingStore, Session, Subject


def test_subject_and_session_are_created_and_reopened(window, qtbot, shot):
    view = window.show_step("Patient & session")
    view.subject_id.setText("P012")
    view.age.setValue(64)
    view.side.setCurrentText("right")
    view.notes.setPlainText("ischaemic stroke, 3 months")
    view.save_subject_button.click()
    view.new_session_button.click()
    session = window.controller.session
    # The GUI holds the core's session, not a model of its own.
    assert isinstance(session, Session) and session.label == "01"
    assert isinstance(window.controller.store, RecordingStore)
    assert "P012" in window.windowTitle()
    root = window.controller.store.root
    with open(root / "participants.tsv", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert len(rows) == 1
    assert {k: rows[0][k] for k in ("participant_id", "age", "affected_side", "notes")} == {
        "participant_id": "sub-P012", "age": "64", "affected_side": "right",
        "notes": "ischaemic stroke, 3 months"}
    # The session is opened in the recordings store (its log says so).
    assert session.entries()[0]["event"] == "session_created"
    assert session.participant == Subject("P012", 64, affected_side="right",
                                          notes="ischaemic stroke, 3 months")
    # A second session, then reopen the first through the form.
    view.new_session_button.click()
    assert window.controller.session.label == "02"
    view.session_box.setCurrentText("01")
    view.open_session_button.click()
    assert window.controller.session.label == "01"
    # Loading the subject fills the form.
    view.subject_id.clear()
    view.subject_box.setCurrentText("P012")
    view.open_subject_button.click()
    assert view.subject_id.text() == "P012" and view.age.value() == 64
    assert view.side.currentText() == "right"
    # The simulated amplifier offers its montages; a real stream, the amplifier's.
    view.stream_box.setCurrentIndex(view.stream_box.findData(SIMULATED))
    assert [view.montage_box.itemText(i) for i in range(view.montage_box.count())] == \
        list(MONTAGES)
    shot(window, "1_patient_session")


def test_invalid_subject_id_is_refused_with_the_field_named(window, qtbot):
    view = window.show_step("Patient & session")
    view.subject_id.setText("P 12-x")
    view.save_subject_button.click()
    assert window.controller.store.subjects() == []
    from PySide6 import QtWidgets

    dialogs = [w for w in window.findChildren(QtWidgets.QMessageBox) if w.isVisible()]
    assert dialogs and "Subject ID" in dialogs[-1].text()
    for d in dialogs:
        d.close()


def test_subject_form_keeps_the_fields_it_does_not_show(window):
    """The form shows age, affected side and notes: saving it changes only those."""
    store = window.controller.store
    store.create_subject("A1", age=30, sex="F", hand="L", affected_side="left")
    view = window.show_step("Patient & session")
    assert view.side.currentText() == "n/a"  # not given until the operator chooses
    view.refresh_subjects()
    view.subject_box.setCurrentText("A1")
    view.open_subject_button.click()
    assert (view.age.value(), view.side.currentText()) == (30, "left")
    view.age.setValue(31)
    view.notes.setPlainText("note 2")
    view.save_subject_button.click()
    subj = RecordingStore(store.root).subject("A1")
    assert (subj.age, subj.sex, subj.hand, subj.notes) == (31, "F", "L", "note 2")
    view.subject_id.setText("B2")
    view.side.setCurrentText("n/a")
    view.save_subject_button.click()
    assert store.subject("B2").affected_side == "n/a"
    assert [view.subject_box.itemText(i) for i in range(view.subject_box.count())] == \
        ["A1", "B2"]
