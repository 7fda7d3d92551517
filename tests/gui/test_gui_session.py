"""Step 1, Patient & session: subjects, sessions, validation, amplifier choice."""

import csv

from bci_app.gui.controller import MONTAGES, SIMULATED
from bci_app.gui.services import SessionStore, Subject


def test_subject_and_session_are_created_and_reopened(window, qtbot, shot):
    view = window.show_step("Patient & session")
    view.subject_id.setText("P012")
    view.age.setValue(64)
    view.side.setCurrentText("right")
    view.notes.setPlainText("ischaemic stroke, 3 months")
    view.save_subject_button.click()
    view.new_session_button.click()
    session = window.controller.session
    assert session is not None and session.label == "01"
    assert "P012" in window.windowTitle()
    root = window.controller.store.root
    with open(root / "participants.tsv", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert len(rows) == 1
    assert {k: rows[0][k] for k in ("participant_id", "age", "affected_side", "notes")} == {
        "participant_id": "sub-P012", "age": "64", "affected_side": "right",
        "notes": "ischaemic stroke, 3 months"}
    # The session is opened in the recordings store (its log says so).
    assert session.rec.entries()[0]["event"] == "session_created"
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


def test_store_round_trip(tmp_path):
    from bci_app.session import RecordingStore

    store = SessionStore(tmp_path)
    store.save_subject(Subject("A1", 30, "left", "note"))
    session = store.new_session("A1")
    run = session.new_run("calibration", "Left vs right", seed=3, n_trials=4)
    session.save_run(run)
    again = store.open_session("A1", session.label)
    assert [r.index for r in again.runs] == [run.index] == [1]
    assert again.next_run() == 2
    assert again.subject.affected_side == "left"
    # Subjects live in the recordings store's participants.tsv; updates keep other fields.
    RecordingStore(tmp_path).update_subject("A1", sex="F")
    store.save_subject(Subject("A1", 31, "left", "note 2"))
    subj = RecordingStore(tmp_path).subject("A1")
    assert (subj.age, subj.sex, subj.notes) == (31, "F", "note 2")
    assert store.sessions("A1") == ["01"] and store.new_session("A1").label == "02"
