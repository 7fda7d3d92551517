"""The patient's course in the GUI, and the clinical report as HTML and PDF.

Three simulated sessions of one patient are recorded into the window's store (as
``bci-app session`` leaves them: tests/session/test_course.py), the first two with their
report. The operator then opens the third, enters sex, handedness and the operator in the
forms, creates its report in 'Report' (HTML and PDF, by Qt's PDF writer offscreen) and looks
at 'Patient course': three rows, with each session's date and scores.
"""

import pytest

from bci_app.session.course import SUMMARY_NAME, local_time, read_summary
from bci_app.session.report import build_report
from tests.session.test_course import (
    COURSE,
    record_simulated_session,
    train_simulated_model,
)


@pytest.fixture(scope="module")
def trained():
    return train_simulated_model()


def test_course_view_shows_three_sessions_and_the_report_is_a_pdf_too(
        window, qtbot, trained, shot):
    store = window.controller.store
    store.create_subject("P07", age=58, affected_side="right")
    sessions = [record_simulated_session(store, "P07", started, skill, trained, seed=10 * k,
                                         operator="")
                for k, (started, skill) in enumerate(COURSE)]
    for session in sessions[:2]:
        build_report(session)

    form = window.show_step("Patient & session")
    form.refresh_subjects()
    form.subject_box.setCurrentText("P07")
    form.open_subject_button.click()
    # Sex and handedness are real fields of the form, saved to participants.tsv.
    form.sex.setCurrentIndex(form.sex.findText("female"))
    form.hand.setCurrentIndex(form.hand.findText("left"))
    form.save_subject_button.click()
    subject = store.subject("P07")
    assert (subject.sex, subject.hand, subject.age, subject.affected_side) == (
        "F", "L", 58, "right")
    form.operator.setText("Dr. A. Smith")
    form.session_box.setCurrentText("03")
    course = window.views["Patient course"]
    with qtbot.waitSignal(course.loaded, timeout=60000):
        form.open_session_button.click()
    session = window.controller.session
    assert session.label == "03" and session.operator == "Dr. A. Smith"
    assert course.table.rowCount() == 2  # the third session has no report yet
    assert "Without a report yet: ses-03" in course.status.text()

    report = window.show_step("Report")
    with qtbot.waitSignal(course.loaded, timeout=120000):  # the report, then the course
        report.create_button.click()
    assert report.path == session.report_path
    pdf = session.report_path.with_suffix(".pdf")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and data.count(b"/Subtype /Image") >= 3  # confusion, timeline, course
    assert report.pdf_button.isEnabled()
    summary = read_summary(session.derivatives / SUMMARY_NAME)
    assert summary["paths"] == {"report": str(session.report_path), "pdf": str(pdf)}
    assert summary["operator"] == "Dr. A. Smith"
    html = session.report_path.read_text(encoding="utf-8")
    for text in ("<td class=\"l\">female</td>", "<td class=\"l\">left</td>",
                 "<td class=\"l\">Dr. A. Smith</td>", "<td class=\"l\">right side affected"):
        assert text in html

    window.show_step("Patient course")
    assert course.table.rowCount() == 3
    header = [course.table.horizontalHeaderItem(c).text()
              for c in range(course.table.columnCount())]
    cells = [[course.table.item(r, c).text() for c in range(len(header))]
             for r in range(3)]
    assert [row[0] for row in cells] == ["ses-01", "ses-02", "ses-03"]
    assert [row[1] for row in cells] == [local_time(s, seconds=False) for s, _ in COURSE]
    column = header.index("nMCC (chance)")
    for row, s in zip(cells, sessions):
        scores = read_summary(s.derivatives / SUMMARY_NAME)["scores"]
        assert row[column].startswith(f"{scores['nmcc']:.2f} (")
    assert course.table.item(2, 0).font().bold()  # the open session
    assert not course.plot.pixmap().isNull()
    shot(window, "course_view")
