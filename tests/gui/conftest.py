"""Fixtures of the GUI tests: a main window on a temporary store, screenshots, waits."""

import functools
import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: Screenshots of the views (kept after the run; the folder is git-ignored).
ARTIFACTS = Path(os.environ.get("BCI_GUI_ARTIFACTS", PROJECT_ROOT / "artifacts" / "gui"))


@pytest.fixture
def artifacts_dir():
    """Folder of the screenshots (``artifacts/gui``, or ``$BCI_GUI_ARTIFACTS``)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def shot():
    """``shot(widget, name)`` saves a PNG of the widget under ``artifacts/gui``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def save(widget, name):
        from PySide6 import QtWidgets

        QtWidgets.QApplication.processEvents()
        path = ARTIFACTS / f"{name}.png"
        assert widget.grab().save(str(path)), f"screenshot {path} not saved"
        return path

    return save


@pytest.fixture
def window(qtbot, tmp_path):
    """The main window on a store in ``tmp_path`` (closed, threads stopped, at the end)."""
    from bci_app.gui.app import create_window

    win = create_window(tmp_path / "recordings", None, time_scale=0.25,
                        window_s=1.0)
    qtbot.addWidget(win)
    win.show()
    win.confirm_close = lambda: True
    yield win
    win.controller.shutdown()
    win.patient.close()


@pytest.fixture
def connected(window, qtbot):
    """The window with a subject, a session and the simulated amplifier connected."""
    from bci_app.gui.controller import SIMULATED

    view = window.show_step("Patient & session")
    view.subject_id.setText("T01")
    view.save_subject_button.click()
    view.new_session_button.click()
    assert window.controller.session is not None
    view.stream_box.setCurrentIndex(view.stream_box.findData(SIMULATED))
    with qtbot.waitSignal(window.controller.sourceReady, timeout=60000):
        view.connect_button.click()
    return window


@pytest.fixture
def wait_until(wait_until, qtbot):
    """The shared ``wait_until(predicate, timeout, what)`` (tests/conftest.py), processing Qt
    events while it waits."""
    return functools.partial(wait_until, pause=lambda s: qtbot.wait(int(s * 1000)))


def write_simulated_run(session, classes=("left_hand", "right_hand"), trials=6,
                        status="complete", seconds=None, seed=0, protocol_name=None):
    """Write a simulated calibration run into ``session``'s BIDS folder, as a run recorded
    elsewhere (``bci-app session``) is: the session knows it from its sidecar (protocol,
    status). ``seconds`` crops it (an aborted run). Returns its run number."""
    from bci_app.acquisition.simulation import make_trial_schedule, simulate_mi_raw
    from bci_app.session.bids import XdfRun, write_run

    raw = simulate_mi_raw(make_trial_schedule(classes=tuple(classes), n_trials_per_class=trials,
                                              imagery=3.0, seed=seed),
                          skill=1.0, seed=seed, artifacts=False)
    if seconds is not None:
        raw.crop(0, seconds)
    raw.info["line_freq"] = 50.0
    protocol = {"name": protocol_name or f"{' vs '.join(classes)} (calibration)",
                "run_type": "calibration", "classes": list(classes),
                "trials_per_class": trials, "markers": {}}
    number = session.next_run()
    write_run(XdfRun(raw=raw, markers=[], eeg={"name": "simulated"}), session.root,
              session.subject, session.label, "calibration", number,
              sidecar={"BciAppProtocol": protocol, "BciAppRecording": {"status": status}})
    return number


@pytest.fixture
def simulated_run():
    """:func:`write_simulated_run`."""
    return write_simulated_run


@pytest.fixture
def answer_question(qtbot):
    """``answer_question(button_text)``: the next modal question (a QMessageBox opened with
    ``exec``, e.g. a confirmation) is answered by clicking its button ``button_text``, as the
    operator would. Returns a list that receives the question's text."""
    from PySide6 import QtCore, QtWidgets

    timers = []

    def answer(button_text):
        asked = []

        def poll():
            box = QtWidgets.QApplication.activeModalWidget()
            if isinstance(box, QtWidgets.QMessageBox):
                for button in box.buttons():
                    if button.text() == button_text:
                        asked.append(box.text())
                        button.click()
                        return
            timer.start(20)  # not open yet

        timer = QtCore.QTimer()
        timer.setSingleShot(True)
        timer.timeout.connect(poll)
        timers.append(timer)
        timer.start(0)
        return asked

    yield answer
    for timer in timers:
        timer.stop()
