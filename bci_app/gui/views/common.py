"""Small widgets shared by the views: error dialogs, group boxes, run controls."""

from PySide6 import QtCore, QtWidgets

from ..patient import PatientCanvas
from ..signal import SignalCheckPanel


def show_error(parent, title, text):
    """A clear error dialog (non-blocking when no one can answer, e.g. the autopilot)."""
    app = QtWidgets.QApplication.instance()
    if app is not None and app.property("bci_autopilot"):
        from ..._logging import logger

        logger.error("%s: %s", title, text)
        app.setProperty("bci_last_error", f"{title}: {text}")
        return
    box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Warning, title, str(text),
                                QtWidgets.QMessageBox.StandardButton.Ok, parent)
    box.setWindowModality(QtCore.Qt.WindowModality.WindowModal)
    box.show()
    return box


def confirm(parent, title, text, yes="Yes", no="No"):
    """Ask the operator before an action that cannot be undone (a modal question, "No" the
    default); True if they agree. The autopilot, which chose the action, is not asked."""
    app = QtWidgets.QApplication.instance()
    if app is not None and app.property("bci_autopilot"):
        from ..._logging import logger

        logger.info("%s: %s (autopilot: yes)", title, text)
        return True
    box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Question, title, str(text),
                                QtWidgets.QMessageBox.StandardButton.NoButton, parent)
    yes_button = box.addButton(yes, QtWidgets.QMessageBox.ButtonRole.AcceptRole)
    no_button = box.addButton(no, QtWidgets.QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(no_button)
    box.setEscapeButton(no_button)
    box.exec()
    return box.clickedButton() is yes_button


def guarded(parent, title):
    """Decorator: run a slot, show project errors in a dialog instead of raising."""
    def wrap(fn):
        def inner(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Exception as exc:  # shown to the user, logged with the traceback
                from ..._logging import logger

                logger.debug("%s failed", title, exc_info=True)
                show_error(parent, title, str(exc))
        return inner
    return wrap


def group(title, layout):
    box = QtWidgets.QGroupBox(title)
    box.setLayout(layout)
    return box


#: Widest a protocol-name column gets in a table (its full name is in the tooltip), so the
#: score columns after it stay in view.
PROTOCOL_COLUMN_PX = 200


def fit_column(table, column, max_px):
    """Cap a column's width at ``max_px`` (after resizing to contents), its cells' full text
    in their tooltips, so the columns after a long one stay in view."""
    if table.columnWidth(column) <= max_px:
        return
    table.setColumnWidth(column, max_px)
    for r in range(table.rowCount()):
        item = table.item(r, column)
        if item is not None and not item.toolTip():
            item.setToolTip(item.text())


class RunPanel(QtWidgets.QWidget):
    """Protocol choice and run controls (start, pause/resume, abort) with progress.

    Parameters
    ----------
    controller : SessionController
    run_type : {"calibration", "online"}
    time_scale : float
        Durations of the protocol are multiplied by this (quick sessions, demos).
    min_imagery_s : float
        Imagery periods are never shorter than this (a decoder window must fit).
    """

    def __init__(self, controller, run_type, time_scale=1.0, min_imagery_s=0.0, parent=None):
        super().__init__(parent)
        from ...protocol import list_protocols, load_protocol

        self.controller = controller
        self.run_type = run_type
        self.time_scale = float(time_scale)
        self.min_imagery_s = float(min_imagery_s)
        self.protocol_box = QtWidgets.QComboBox()
        self._protocols = {}  # for the list (name, length, text): the run resolves its own
        for name in list_protocols():
            try:
                proto = load_protocol(name)
            except Exception:
                try:  # an "affected_hand" class with no side in the file: any side lists it
                    proto = load_protocol(name, affected_hand="left")
                except Exception:  # an invalid file is reported when chosen, not here
                    continue
            if proto.run_type == run_type:
                self._protocols[name] = proto
                self.protocol_box.addItem(proto.name, name)
        self.trials = QtWidgets.QSpinBox()
        self.trials.setRange(1, 100)
        self.trials.setSuffix(" trials per class")
        self.start_button = QtWidgets.QPushButton("Start run")
        self.pause_button = QtWidgets.QPushButton("Pause")
        self.abort_button = QtWidgets.QPushButton("Stop run")
        self.pause_button.setEnabled(False)
        self.abort_button.setEnabled(False)
        self.progress = QtWidgets.QProgressBar()
        self.progress.setFormat("Trial %v of %m")
        self.state_label = QtWidgets.QLabel("No run in progress.")
        self.state_label.setWordWrap(True)  # "saved as <a long path>" must not widen it
        self.description = QtWidgets.QLabel()
        self.description.setWordWrap(True)
        self.cues = QtWidgets.QLabel()  # the classes cued for this subject
        self.cues.setWordWrap(True)
        form = QtWidgets.QFormLayout()
        form.addRow("Protocol", self.protocol_box)
        form.addRow("Length", self.trials)
        form.addRow("", self.description)
        form.addRow("Cues", self.cues)
        buttons = QtWidgets.QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.abort_button):
            buttons.addWidget(b)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.state_label)
        self.protocol_box.currentIndexChanged.connect(self._protocol_changed)
        self.start_button.clicked.connect(guarded(self, "The run could not start")(self.start))
        self.pause_button.clicked.connect(self.toggle_pause)
        self.abort_button.clicked.connect(self.abort)
        controller.sessionChanged.connect(lambda session: self._show_cues())
        controller.busyChanged.connect(self._on_busy)
        controller.protocolEvent.connect(self._on_event)
        controller.runStarted.connect(self._on_started)
        controller.runSaving.connect(self._on_saving)
        controller.runFinished.connect(self._on_finished)
        controller.error.connect(self._on_error)
        self._mine = False
        self._protocol_changed()

    def select_protocol(self, name):
        index = self.protocol_box.findData(name)
        if index >= 0:
            self.protocol_box.setCurrentIndex(index)

    def _protocol_changed(self):
        proto = self._protocols.get(self.protocol_box.currentData())
        if proto is not None:
            self.trials.setValue(proto.trials_per_class)
            self.description.setText(proto.description)
        self._show_cues()

    def showEvent(self, event):
        super().showEvent(event)
        self._show_cues()  # the subject's affected side may have changed meanwhile

    def _show_cues(self):
        """The classes the chosen protocol cues for the open session's subject."""
        name = self.protocol_box.currentData()
        if name is None:
            self.cues.setText("")
            return
        try:
            proto = self.controller.resolve_protocol(name)
        except Exception as exc:  # shown here; the start says it again
            self.cues.setText(f"this protocol cannot be used: {exc}")
            return
        text = ", ".join(c.replace("_", " ") for c in proto.classes)
        if proto.affected_hand and any(c.startswith(proto.affected_hand + "_")
                                       for c in proto.classes):
            text += f" (affected side: {proto.affected_hand})"
        self.cues.setText(text)

    def protocol(self):
        """The chosen protocol as a run of the open session's subject runs it (their
        affected side), with the chosen length and the time scale applied
        (:meth:`~bci_app.protocol.Protocol.shortened`)."""
        from dataclasses import replace

        name = self.protocol_box.currentData()
        if name is None:
            raise ValueError(f"No {self.run_type} protocol found in protocols/.")
        proto = self.controller.resolve_protocol(name)
        proto = replace(proto, trials_per_class=int(self.trials.value()))
        return proto.shortened(self.time_scale, self.min_imagery_s)

    def start(self):
        proto = self.protocol()
        self._mine = True
        try:
            self.controller.start_run(proto)
        except Exception:
            self._mine = False
            raise
        self.start_button.setEnabled(False)
        self.state_label.setText("Starting: connecting the streams...")
        self.progress.setRange(0, proto.n_trials)
        self.progress.setValue(0)

    def toggle_pause(self):
        runner = self.controller.runner
        if runner is None:
            return
        if runner.is_paused:
            self.controller.resume_run()
            self.pause_button.setText("Pause")
        else:
            self.controller.pause_run()
            self.pause_button.setText("Resume")

    def abort(self):
        """Stop the run, once the operator confirms."""
        run = self.controller.run
        if run is None:
            return
        if not confirm(self, "Stop the run?",
                       f"Stop run {run.index} ({run.protocol}) now?\n\nWhat was recorded "
                       "is kept and marked 'aborted': training leaves it out unless you "
                       "tick it.", yes="Stop the run", no="Continue the run"):
            return
        if self.controller.run is run:  # it may have ended while the question was open
            self.controller.abort_run()

    def _on_busy(self, busy):
        """No run can start while another starts, records or is being saved."""
        if not self._mine:
            self.start_button.setEnabled(not busy)
        self.start_button.setToolTip("A run is in progress: wait until it ends."
                                     if busy else "")

    def _on_started(self, run):
        if not self._mine:
            return
        self.pause_button.setEnabled(True)
        self.abort_button.setEnabled(True)
        self.state_label.setText(f"Run {run.index} started; recording to {run.recording}")

    def _on_event(self, state, trial, label, ts):
        if not self._mine:
            return
        if trial is not None:
            self.progress.setValue(trial + 1)
        text = {"baseline": "Baseline (rest)", "fixation": "Fixation", "cue": "Cue",
                "imagery": "Imagery", "iti": "Rest between trials", "paused": "Paused",
                "resumed": "Resuming", "end": "Run finished", "aborted": "Run stopped",
                "start": "Run started"}.get(state, state)
        if label:
            text += f": {label.replace('_', ' ')}"
        self.state_label.setText(text)

    def _on_finished(self, run):
        if not self._mine:
            return
        self._mine = False
        self.start_button.setEnabled(True)
        self.pause_button.setEnabled(False)
        self.pause_button.setText("Pause")
        self.abort_button.setEnabled(False)
        self.state_label.setText(f"Run {run.index} {run.status}; saved as {run.recording}")

    def _on_saving(self, run):
        if not self._mine:
            return
        self.pause_button.setEnabled(False)
        self.abort_button.setEnabled(False)
        self.state_label.setText(f"Run {run.index} over: saving the recording (BIDS)...")

    def _on_error(self, title, text):
        if self._mine and self.controller.run is None:
            self._mine = False
            self.start_button.setEnabled(True)
            self.state_label.setText(f"{title}: {text}")


class RunView(QtWidgets.QWidget):
    """Base of the calibration and online views: run panel, patient preview, traces."""

    def __init__(self, controller, run_type, time_scale=1.0, min_imagery_s=0.0, parent=None):
        super().__init__(parent)
        self.controller = controller
        self.panel = RunPanel(controller, run_type, time_scale, min_imagery_s)
        self.preview = PatientCanvas()
        self.preview.setMinimumSize(240, 180)
        self.signal = SignalCheckPanel(controls=False)
        controller.sourceReady.connect(
            lambda acq: self.signal.set_source(acq, controller.bad_channels))
        controller.protocolEvent.connect(self._on_event)

    def _on_event(self, state, trial, label, ts):
        proto = self.controller.protocol
        if self.panel._mine or state in ("end", "aborted"):
            self.preview.set_state(state, label,
                                   feedback=bool(proto and proto.feedback))
