"""The window as the operator handles it: it keeps its size from step to step, the patient
window never covers it, the training view never freezes to read the pipeline files, and
every score column and the r² map's colour scale are in view."""

import threading

import pytest
from PySide6 import QtCore, QtWidgets

from bci_app.gui.app import STEPS

LONG_PATH = ("/home/therapist/recordings/sub-P0001/ses-03/eeg/"
             "sub-P0001_ses-03_task-leftRightHandCalibration_run-04_eeg.vhdr")


def test_the_window_keeps_its_size_whatever_the_steps_show(window):
    app = QtWidgets.QApplication.instance()
    window.resize(1100, 760)
    app.processEvents()
    size = window.size()
    for name in STEPS:
        window.show_step(name)
        app.processEvents()
        assert window.size() == size, name
        page = window.stack.currentWidget()  # everything in view: no step scrolls
        assert page.verticalScrollBar().maximum() == 0, name
        assert page.horizontalScrollBar().maximum() == 0, name
    # The longest messages the run, training and replay steps show fit their width: no
    # step scrolls sideways.
    online, calibration = window.views["Online"], window.views["Calibration"]
    messages = {
        online.score_label: "Run accuracy: windows 64 % (1234); trials 17/20 (85 %); no "
                            "decision (bad signal): 12 windows\nChance: windows 55 % "
                            "(majority), 34 % (shuffled); trials 50 % (majority), 49 % "
                            "(shuffled)",
        online.model_label: f"Decoder: ACM+TS+SVM(grid) (idle, left_hand, right_hand; "
                            f"window 2 s) from {LONG_PATH}",
        online.panel.state_label: f"Run 4 complete; saved as {LONG_PATH}",
        calibration.panel.state_label: f"Run 4 complete; saved as {LONG_PATH}",
        window.views["Training"].model_label: f"Model for online runs: {LONG_PATH}",
    }
    for name in ("Calibration", "Training", "Online"):
        for label, text in messages.items():
            label.setText(text)
        window.show_step(name)
        app.processEvents()
        assert window.size() == size, name
        assert window.stack.currentWidget().horizontalScrollBar().maximum() == 0, name
    # Whatever a step shows (any label as long as a path), the window does not grow: the
    # step scrolls inside it.
    for name in STEPS:
        view = window.views[name]
        for label in view.findChildren(QtWidgets.QLabel):
            label.setText(f"Run 4 complete; saved as {LONG_PATH}")
        window.show_step(name)
        app.processEvents()
        assert window.size() == size, name


@pytest.fixture
def screen():
    from PySide6 import QtGui

    screens = QtGui.QGuiApplication.screens()
    assert len(screens) == 1  # the offscreen platform: one screen, as a single monitor
    return screens[0].availableGeometry()


def _apart(win):
    return not win.frameGeometry().intersects(win.patient.frameGeometry())


def test_the_patient_window_is_placed_beside_the_operators_window(window, screen):
    app = QtWidgets.QApplication.instance()
    window.setMinimumSize(300, 300)  # the offscreen screen is small
    window.setGeometry(screen.left() + 2, screen.top() + 2, screen.width() // 2,
                       screen.height() - 40)
    app.processEvents()
    window.patient.show_on(None, fullscreen=True)  # full screen would cover the operator
    app.processEvents()
    assert not window.patient.isFullScreen()
    assert _apart(window), (window.frameGeometry(), window.patient.frameGeometry())
    assert screen.contains(window.patient.frameGeometry())
    assert window.patient.placement == "beside the operator's window"
    assert window.patient.width() >= 300


def test_an_operator_window_filling_the_screen_makes_room(window, screen):
    app = QtWidgets.QApplication.instance()
    window.setMinimumSize(300, 300)  # a small screen: the steps scroll
    window.setGeometry(screen.adjusted(2, 2, -2, -2))
    app.processEvents()
    window.patient.show_on(0, fullscreen=False)
    app.processEvents()
    assert _apart(window), (window.frameGeometry(), window.patient.frameGeometry())
    assert screen.contains(window.frameGeometry())
    assert screen.contains(window.patient.frameGeometry())
    assert "made narrower" in window.patient.placement


@pytest.fixture
def held_pipelines(monkeypatch):
    """The pipeline files read slowly (as on a first start, when reading them imports the
    decoding libraries): the reading waits for ``gate``; ``on_gui_thread`` records, per
    reading, whether it ran on the GUI thread."""
    from bci_app.gui.controller import SessionController

    read = SessionController.available_pipelines
    held = type("Held", (), {})()
    held.gate, held.on_gui_thread = threading.Event(), []

    def slow(self):
        held.on_gui_thread.append(threading.current_thread() is threading.main_thread())
        held.gate.wait(30)
        return read(self)

    monkeypatch.setattr(SessionController, "available_pipelines", slow)
    yield held
    held.gate.set()


def test_training_never_waits_on_the_gui_thread_for_the_pipeline_files(
        held_pipelines, window, qtbot, simulated_run, wait_until):
    from bci_app.session import Subject

    c = window.controller
    c.save_subject(Subject("T01"))
    simulated_run(c.new_session("T01"), trials=8, seed=0)
    view = window.show_step("Training")  # returns while the files are being read
    assert held_pipelines.on_gui_thread == [False]
    assert view.loading and not view.pipelines.isEnabled()
    assert "Reading the pipeline files" in view.pipelines.item(0).text()
    view.set_checked(["MDM", "CSP+LDA"])  # chosen before they are read ...
    view.window.setValue(1.0)
    view.train_button.click()  # ... and training asked for: both wait for them
    assert "training starts once they are read" in view.status.text()
    with qtbot.waitSignal(c.trainingFinished, timeout=120000) as done:
        held_pipelines.gate.set()
    assert sorted(s["pipeline"] for s in done.args[0].scores) == ["CSP+LDA", "MDM"]
    assert held_pipelines.on_gui_thread == [False]
    qtbot.wait(50)
    # Every score column is in view at the window's size: none behind a scroll bar, and
    # the step itself does not scroll.
    page = window.stack.currentWidget()
    assert page.verticalScrollBar().maximum() == 0
    assert page.horizontalScrollBar().maximum() == 0
    table = view.table
    assert table.horizontalScrollBar().maximum() == 0
    for column in range(table.columnCount()):
        right = table.columnViewportPosition(column) + table.columnWidth(column)
        assert 0 <= table.columnViewportPosition(column) and right <= \
            table.viewport().width(), table.horizontalHeaderItem(column).text()
        assert table.columnWidth(column) >= \
            table.horizontalHeader().sectionSizeHint(column) - 1
    # The r² map has its colour scale, symmetric around 0 at the map's largest |r²|.
    r2 = done.args[0].r2
    lim = float(abs(r2["values"]).max())
    low, high = view.r2_bar.levels()
    assert (low, high) == pytest.approx((-lim, lim))
    assert tuple(view.r2_image.getLevels()) == pytest.approx((-lim, lim))
    assert view.r2_bar.scene() is view.r2_plot.scene() and view.r2_bar.isVisible()
    assert view.r2_bar.getAxis("left").label.toPlainText().strip() == "signed r²"
    assert QtCore.QRectF(view.r2_bar.sceneBoundingRect()).width() > 0


def test_on_a_screen_too_small_for_both_the_operators_window_stays_as_it_is(window, screen):
    app = QtWidgets.QApplication.instance()
    window.setGeometry(screen.adjusted(2, 2, -2, -2))  # 800 px: less than 640 + 320
    app.processEvents()
    size = window.size()
    window.patient.show_on(None, fullscreen=True)
    app.processEvents()
    assert window.size() == size
    assert _apart(window) and not window.patient.isFullScreen()
    assert "too small" in window.patient.placement


def test_a_long_protocol_name_does_not_push_the_score_columns_out_of_view(qtbot):
    from bci_app.gui.views.common import PROTOCOL_COLUMN_PX, fit_column

    table = QtWidgets.QTableWidget(2, 4)
    long = "Affected hand vs rest (clinical online, feedback, long variant for a test)"
    for r, cells in enumerate([("ses-01", long, "0.85", "21.8"), ("ses-02", "short", "0.9", "3")]):
        for c, text in enumerate(cells):
            table.setItem(r, c, QtWidgets.QTableWidgetItem(text))
    table.resizeColumnsToContents()
    assert table.columnWidth(1) > PROTOCOL_COLUMN_PX  # as it was: the name's full width
    fit_column(table, 1, PROTOCOL_COLUMN_PX)
    assert table.columnWidth(1) == PROTOCOL_COLUMN_PX
    assert table.item(0, 1).toolTip() == long  # the full name is one hover away
    narrow = table.columnWidth(0)
    fit_column(table, 0, PROTOCOL_COLUMN_PX)  # a column narrower than the cap is left alone
    assert table.columnWidth(0) == narrow and table.item(0, 0).toolTip() == ""
