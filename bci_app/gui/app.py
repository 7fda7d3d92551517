"""The application window and the ``bci-app gui`` entry point.

One window with the workflow's steps in a sidebar (Patient & session, Signal check,
Calibration, Training, Online, Report; then Patient course and Replay), a banner when the signal is lost, and a
separate patient window. :func:`run` takes the parsed options of ``bci-app gui``
(:mod:`bci_app.cli.gui`), creates the Qt application and, with ``--autopilot``, runs a short
demonstration session on the simulated amplifier.
"""

import os
import sys

from PySide6 import QtCore, QtWidgets

from ..errors import BCIAppError
from .controller import SessionController
from .palette import BAD
from .patient import PatientWindow
from .views.calibration import CalibrationView
from .views.common import show_error
from .views.course import CourseView
from .views.online import OnlineView
from .views.replay import ReplayView
from .views.report import ReportView
from .views.session import SessionView
from .views.signal_check import SignalCheckView
from .views.training import TrainingView

STEPS = ("Patient & session", "Signal check", "Calibration", "Training", "Online", "Report",
         "Patient course", "Replay")
#: Views beside the numbered workflow.
_UNNUMBERED = ("Patient course", "Replay")


def _needs_offscreen():
    if sys.platform.startswith("linux"):
        return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return False


def make_application(offscreen=False):
    """The QApplication (created once), offscreen when asked or without a display."""
    if offscreen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    app = QtWidgets.QApplication.instance()
    if app is None:
        app = QtWidgets.QApplication(sys.argv[:1])
        app.setApplicationName("bci-app")
        app.setApplicationDisplayName("BCI")
    return app


class _Page(QtWidgets.QScrollArea):
    """A step's view in a scroll area: however much a view holds (a long path in a label, a
    wide table), it scrolls inside the window instead of making the window grow; the window
    keeps the size the operator gives it from step to step.

    The view fills the area, and is never made smaller than its minimum size (scroll bars
    then) nor, unlike ``widgetResizable``, taller than the area because its wrapped labels
    would like more room."""

    def __init__(self, view, parent=None):
        super().__init__(parent)
        self.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.setWidget(view)
        view.installEventFilter(self)

    def _fit(self):
        view = self.widget()
        if view is not None:
            view.resize(self.viewport().size().expandedTo(view.minimumSizeHint()))

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._fit()

    def eventFilter(self, obj, event):
        if obj is self.widget() and event.type() == QtCore.QEvent.Type.LayoutRequest:
            QtCore.QTimer.singleShot(0, self._fit)  # its minimum size may have changed
        return super().eventFilter(obj, event)


def _page(view):
    """A step's view in its :class:`_Page`."""
    return _Page(view)


class MainWindow(QtWidgets.QMainWindow):
    """The operator's window.

    Parameters
    ----------
    root : str | Path
        Session store folder.
    models_dir : str | Path | None
    time_scale : float
        Protocol durations factor.
    window_s : float
        Decoder window length.
    min_imagery_s : float | None
        Imagery periods are never shorter than this when the durations are scaled
        (None: ``window_s + 1``).
    """

    def __init__(self, root="recordings", models_dir=None, time_scale=1.0, window_s=2.0,
                 min_imagery_s=None):
        super().__init__()
        self.setWindowTitle("BCI - motor imagery")
        self.resize(1280, 800)
        self.setMinimumSize(640, 480)  # smaller: the steps scroll (see _page)
        self.controller = SessionController(root, models_dir, parent=self)
        self.patient = PatientWindow(operator=self)
        if time_scale == 1.0:
            min_imagery = 0.0
        else:
            min_imagery = window_s + 1.0 if min_imagery_s is None else float(min_imagery_s)
        self.views = {
            "Patient & session": SessionView(self.controller),
            "Signal check": SignalCheckView(self.controller),
            "Calibration": CalibrationView(self.controller, time_scale, min_imagery),
            "Training": TrainingView(self.controller, window_s),
            "Online": OnlineView(self.controller, time_scale, min_imagery, self.patient),
            "Report": ReportView(self.controller),
            "Patient course": CourseView(self.controller),
            "Replay": ReplayView(self.controller),
        }
        self.steps = QtWidgets.QListWidget()
        self.steps.setFixedWidth(190)
        self.stack = QtWidgets.QStackedWidget()
        for i, name in enumerate(STEPS):
            self.steps.addItem(f"{i + 1}. {name}" if name not in _UNNUMBERED else name)
            self.stack.addWidget(_page(self.views[name]))
        self.steps.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.banner = QtWidgets.QLabel()
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(f"background: {BAD}; color: white; padding: 8px; "
                                  "font-weight: bold;")
        self.banner.hide()
        central = QtWidgets.QWidget()
        outer = QtWidgets.QVBoxLayout(central)
        outer.setContentsMargins(4, 4, 4, 4)
        outer.addWidget(self.banner)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.steps)
        row.addWidget(self.stack, 1)
        outer.addLayout(row, 1)
        self.setCentralWidget(central)
        self.statusBar().showMessage("Start with 'Patient & session'.")
        c = self.controller
        c.statusChanged.connect(self._on_status)
        c.error.connect(lambda title, text: show_error(self, title, text))
        c.protocolEvent.connect(self._on_protocol_event)
        c.runStarted.connect(lambda run: self.statusBar().showMessage(
            f"Run {run.index} ({run.run_type}) recording to {run.recording}"))
        c.runSaving.connect(lambda run: self.statusBar().showMessage(
            f"Run {run.index}: saving the recording (stopping the recorder, converting to "
            "BIDS)..."))
        c.runFinished.connect(lambda run: self.statusBar().showMessage(
            f"Run {run.index} {run.status}: saved as {run.recording}"))
        c.recovered.connect(self._on_recovered)
        c.sessionChanged.connect(lambda s: self.setWindowTitle(
            f"BCI - subject {s.subject}, session {s.label}"))
        self.views["Report"].reportReady.connect(
            lambda path: self.views["Patient course"].refresh())
        self.views["Patient & session"].patientScreenRequested.connect(
            self.patient.show_on)
        self.confirm_close = self._ask_close
        self.recovered_runs = None
        self.steps.setCurrentRow(0)
        # Runs interrupted by a crash: their recorders are stopped and the runs converted.
        c.start_recovery()

    def show_step(self, name):
        self.steps.setCurrentRow(STEPS.index(name))
        return self.views[name]

    def _on_status(self, status, message):
        if status == "lost":
            self.banner.setText("Signal lost from the amplifier - reconnecting "
                                "automatically. Check the amplifier and its cables; "
                                f"the run continues when the signal is back. ({message})")
            self.banner.show()
        elif status == "connected":
            self.banner.hide()
        self.statusBar().showMessage(message)

    def _on_protocol_event(self, state, trial, label, ts):
        proto = self.controller.protocol
        self.patient.canvas.set_state(state, label,
                                      feedback=bool(proto and proto.feedback))

    def _on_recovered(self, items):
        """Report the runs recovered at start-up (status bar, and a message box)."""
        self.recovered_runs = list(items)
        if not items:
            return
        ok = [i for i in items if i.bids_path is not None]
        failed = [i for i in items if i.bids_path is None]
        text = (f"Recovered {len(items)} run(s) interrupted by a crash: {len(ok)} saved as "
                f"BIDS" + (f", {len(failed)} could not be converted" if failed else "") + ".")
        self.statusBar().showMessage(text)
        lines = [f"- {i.bids_path.name}" + (" (its recorder was still running: stopped)"
                                             if i.orphan_stopped else "") for i in ok]
        lines += [f"- {i.xdf_path.name}: {i.error} (the raw recording is kept)" for i in failed]
        app = QtWidgets.QApplication.instance()
        if app is not None and app.property("bci_autopilot"):
            return
        box = QtWidgets.QMessageBox(
            QtWidgets.QMessageBox.Icon.Information, "Interrupted runs recovered",
            text + "\n\n" + "\n".join(lines) + "\n\nThey are in the recordings folder "
            f"{self.controller.store.root} and marked as interrupted.",
            QtWidgets.QMessageBox.StandardButton.Ok, self)
        box.setWindowModality(QtCore.Qt.WindowModality.WindowModal)
        box.show()

    def _ask_close(self):
        answer = QtWidgets.QMessageBox.question(
            self, "A run is in progress",
            "A run is being recorded. Stop it now and save the recording?",
            QtWidgets.QMessageBox.StandardButton.Yes
            | QtWidgets.QMessageBox.StandardButton.No,
            QtWidgets.QMessageBox.StandardButton.No)
        return answer == QtWidgets.QMessageBox.StandardButton.Yes

    def closeEvent(self, event):
        c = self.controller
        if c.is_running and not self.confirm_close():
            event.ignore()
            return
        busy = c.is_running or c.is_saving
        if busy:  # stopping the recorder and converting take a few seconds
            self.statusBar().showMessage("Saving the recording (stopping the recorder, "
                                         "converting to BIDS) before closing...")
            QtWidgets.QApplication.setOverrideCursor(QtCore.Qt.CursorShape.WaitCursor)
            QtWidgets.QApplication.processEvents()
        try:
            c.shutdown()
        finally:
            if busy:
                QtWidgets.QApplication.restoreOverrideCursor()
        self.patient.close()
        event.accept()



def create_window(root="recordings", models_dir=None, time_scale=1.0, window_s=2.0,
                  min_imagery_s=None):
    """Create the main window (the QApplication must exist)."""
    return MainWindow(root, models_dir, time_scale, window_s, min_imagery_s)


def run(args):
    """Run the application with the options of ``bci-app gui``.

    Parameters
    ----------
    args : argparse.Namespace
        From :func:`bci_app.cli.gui.build_parser`.

    Returns
    -------
    code : int
        Exit code.
    out, err : str | None
        What to tell the user on standard output / error (the autopilot's summary, a
        failure).

    Raises
    ------
    BCIAppError
        When there is no screen and neither ``--offscreen`` nor ``--autopilot`` is given.
    """
    from .._logging import set_log_level

    set_log_level(["WARNING", "INFO", "DEBUG"][min(args.verbose + args.autopilot, 2)])
    os.environ.setdefault("MPLBACKEND", "Agg")
    import warnings

    import mne

    mne.set_log_level("WARNING")
    warnings.filterwarnings("ignore", message="Montage name 'standard_1005'",
                            category=FutureWarning)
    if not args.network:
        from ..acquisition.lsl import use_loopback

        use_loopback()
    if _needs_offscreen() and not (args.offscreen or args.autopilot):
        raise BCIAppError("no screen found (DISPLAY/WAYLAND_DISPLAY unset): the "
                          "application needs one. Run it on a desktop session or under "
                          "`xvfb-run -a bci-app gui`; `bci-app gui --autopilot` runs a demo "
                          "session offscreen, and `bci-app --help` lists the commands that "
                          "need no screen.")
    offscreen = args.offscreen or _needs_offscreen()
    app = make_application(offscreen)
    if not args.autopilot:
        win = create_window(args.root, args.models,
                            1.0 if args.time_scale is None else args.time_scale,
                            args.window or 2.0)
        win.show()
        return app.exec(), None, None
    from .autopilot import Autopilot, AutopilotConfig

    cfg = AutopilotConfig.from_args(args)
    win = create_window(args.root, args.models, **cfg.window_settings())
    win.show()
    pilot = Autopilot(win, cfg)
    pilot.finished.connect(lambda code: app.exit(code))
    pilot.start()
    code = app.exec()
    win.close()
    if pilot.result:
        return code, pilot.summary_text(), None
    return code, None, f"bci-app gui --autopilot: failed: {pilot.error}"

