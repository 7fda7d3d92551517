"""Step 1, Patient & session: subject details, session (with the patient's earlier sessions
and the calibration proposed for today), amplifier stream, montage, patient screen."""

import threading

from PySide6 import QtCore, QtGui, QtWidgets

from ...session.participants import AFFECTED_SIDES, HANDS, SEXES
from ..controller import AMPLIFIER_MONTAGE, MONTAGES, SIMULATED
from .common import group, guarded, show_error


class SessionView(QtWidgets.QWidget):
    """Create or open a subject and a session; choose the amplifier and the patient screen.

    Signals
    -------
    patientScreenRequested(int, bool)
        Screen index and full screen, when the operator shows the patient window.
    """

    patientScreenRequested = QtCore.Signal(int, bool)
    _streamsFound = QtCore.Signal(object)

    def __init__(self, controller, parent=None):
        super().__init__(parent)
        self.controller = controller
        form, sform = self._subject_form(), self._session_form()
        aform, prow = self._amplifier_form(), self._patient_screen_row()
        left = QtWidgets.QVBoxLayout()
        left.addWidget(group("Subject", form))
        left.addWidget(group("Session", sform))
        left.addWidget(group("EEG settings of the session", self._eeg_form()))
        right = QtWidgets.QVBoxLayout()
        right.addWidget(group("Amplifier", aform))
        right.addWidget(group("Patient screen", prow))
        earlier = QtWidgets.QVBoxLayout()
        earlier.addWidget(self.continuation_label, 1)  # wrapped text: the room it needs
        right.addWidget(group("Earlier sessions of this patient", earlier), 1)
        layout = QtWidgets.QHBoxLayout(self)
        layout.addLayout(left, 1)
        layout.addLayout(right, 1)

        self.open_subject_button.clicked.connect(guarded(self, "Subject")(self.load_subject))
        self.save_subject_button.clicked.connect(guarded(self, "Subject")(self.save_subject))
        self.new_session_button.clicked.connect(guarded(self, "Session")(self.new_session))
        self.open_session_button.clicked.connect(guarded(self, "Session")(self.open_session))
        self.refresh_button.clicked.connect(self.search_streams)
        save_eeg = guarded(self, "EEG settings")(self.save_eeg_settings)
        self.line_freq_box.activated.connect(lambda _index: save_eeg())
        for edit in self._eeg_edits.values():
            edit.editingFinished.connect(save_eeg)
        self.stream_box.currentIndexChanged.connect(self._stream_changed)
        self.connect_button.clicked.connect(guarded(self, "Amplifier")(self.connect_source))
        self.show_patient_button.clicked.connect(
            lambda: self.patientScreenRequested.emit(self.screen_box.currentData() or 0,
                                                     self.fullscreen.isChecked()))
        self._streamsFound.connect(self._fill_streams)
        controller.sourceReady.connect(self._source_ready)
        controller.sourceFailed.connect(self._source_failed)
        controller.sessionChanged.connect(self._session_changed)
        controller.continuationChanged.connect(self._continuation_changed)
        controller.busyChanged.connect(self._on_busy)
        controller.runFinished.connect(lambda run: self._session_changed(controller.session)
                                       if controller.session is not None else None)
        self.refresh_subjects()
        self._stream_changed()

    def _subject_form(self):
        self.subject_box = QtWidgets.QComboBox()
        self.subject_box.setEditable(False)
        self.open_subject_button = QtWidgets.QPushButton("Load")
        self.subject_id = QtWidgets.QLineEdit()
        self.subject_id.setPlaceholderText("letters and digits, e.g. P012")
        self.age = QtWidgets.QSpinBox()
        self.age.setRange(0, 130)
        self.age.setSpecialValueText("not given")
        self.side = QtWidgets.QComboBox()
        for side, meaning in AFFECTED_SIDES.items():
            self.side.addItem(side)
            self.side.setItemData(self.side.count() - 1, meaning,
                                  QtCore.Qt.ItemDataRole.ToolTipRole)
        self.side.setCurrentText("n/a")
        # Sex and handedness: participants.tsv's levels, shown by what they mean.
        self.sex, self.hand = _choice_box(SEXES), _choice_box(HANDS)
        self.notes = QtWidgets.QPlainTextEdit()
        self.notes.setMaximumHeight(70)
        self.save_subject_button = QtWidgets.QPushButton("Save subject")
        pick = QtWidgets.QHBoxLayout()
        pick.addWidget(self.subject_box, 1)
        pick.addWidget(self.open_subject_button)
        form = QtWidgets.QFormLayout()
        form.addRow("Existing subjects", pick)
        form.addRow("Subject ID", self.subject_id)
        form.addRow("Age (years)", self.age)
        form.addRow("Sex", self.sex)
        form.addRow("Handedness", self.hand)
        form.addRow("Affected side", self.side)
        form.addRow("Notes", self.notes)
        form.addRow("", self.save_subject_button)
        return form

    def _session_form(self):
        self.session_box = QtWidgets.QComboBox()
        self.open_session_button = QtWidgets.QPushButton("Open session")
        self.new_session_button = QtWidgets.QPushButton("New session")
        self.operator = QtWidgets.QLineEdit()
        self.operator.setPlaceholderText("who runs the session (kept with it, in the report)")
        self.operator.editingFinished.connect(self._operator_changed)
        self.session_label = QtWidgets.QLabel("No session open.")
        self.session_label.setWordWrap(True)
        # The patient's earlier sessions and the calibration length proposed for today
        # (bci_app.session.continuation, read by the controller on a worker thread).
        self.continuation_label = QtWidgets.QLabel("Open a session to see the patient's "
                                                   "earlier sessions.")
        self.continuation_label.setWordWrap(True)
        self.continuation_label.setAlignment(QtCore.Qt.AlignmentFlag.AlignLeft
                                             | QtCore.Qt.AlignmentFlag.AlignTop)
        srow = QtWidgets.QHBoxLayout()
        srow.addWidget(self.session_box, 1)
        srow.addWidget(self.open_session_button)
        srow.addWidget(self.new_session_button)
        sform = QtWidgets.QVBoxLayout()
        orow = QtWidgets.QFormLayout()
        orow.addRow("Operator", self.operator)
        sform.addLayout(orow)
        sform.addLayout(srow)
        sform.addWidget(self.session_label)
        return sform

    def _eeg_form(self):
        """The session's power line frequency, reference and amplifier: written to every
        recording's BIDS sidecar (saved with the session; not set: the amplifier's stream
        description, else the site settings)."""
        self.line_freq_box = QtWidgets.QComboBox()
        for text, value in (("Not set (site settings)", None), ("50 Hz", 50.0),
                            ("60 Hz", 60.0)):
            self.line_freq_box.addItem(text, value)
        self._eeg_edits = {key: QtWidgets.QLineEdit() for key in
                           ("eeg_reference", "amplifier_manufacturer", "amplifier_model")}
        for key, example in (("eeg_reference", "e.g. FCz, linked mastoids"),
                             ("amplifier_manufacturer", "e.g. Brain Products"),
                             ("amplifier_model", "e.g. BrainAmp DC")):
            self._eeg_edits[key].setPlaceholderText(f"as the amplifier says ({example})")
        form = QtWidgets.QFormLayout()
        form.addRow("Power line", self.line_freq_box)
        form.addRow("EEG reference", self._eeg_edits["eeg_reference"])
        form.addRow("Amplifier maker", self._eeg_edits["amplifier_manufacturer"])
        form.addRow("Amplifier model", self._eeg_edits["amplifier_model"])
        self._show_eeg_settings(None)
        return form

    def _show_eeg_settings(self, session):
        """Fill the EEG settings from the session (disabled while none is open)."""
        settings = session.eeg_settings if session is not None else {}
        self.line_freq_box.setCurrentIndex(
            max(self.line_freq_box.findData(settings.get("line_freq")), 0))
        for key, edit in self._eeg_edits.items():
            edit.setText(settings.get(key) or "")
        for widget in (self.line_freq_box, *self._eeg_edits.values()):
            widget.setEnabled(session is not None)

    def save_eeg_settings(self):
        """Save the EEG settings of the form with the open session."""
        session = self.controller.session
        if session is None:
            return None
        return session.set_eeg_settings(
            line_freq=self.line_freq_box.currentData(),
            **{key: edit.text() for key, edit in self._eeg_edits.items()})

    def _amplifier_form(self):
        self.stream_box = QtWidgets.QComboBox()
        self.stream_box.addItem(SIMULATED, SIMULATED)
        self.refresh_button = QtWidgets.QPushButton("Search for amplifiers")
        self.montage_box = QtWidgets.QComboBox()
        self.connect_button = QtWidgets.QPushButton("Connect")
        self.source_label = QtWidgets.QLabel("Not connected.")
        self.source_label.setWordWrap(True)
        arow = QtWidgets.QHBoxLayout()
        arow.addWidget(self.stream_box, 1)
        arow.addWidget(self.refresh_button)
        aform = QtWidgets.QFormLayout()
        aform.addRow("Amplifier stream", arow)
        aform.addRow("Montage", self.montage_box)
        aform.addRow("", self.connect_button)
        aform.addRow("", self.source_label)
        return aform

    def _patient_screen_row(self):
        self.screen_box = QtWidgets.QComboBox()
        for i, screen in enumerate(QtGui.QGuiApplication.screens()):
            geo = screen.geometry()
            self.screen_box.addItem(f"Screen {i + 1}: {screen.name()} "
                                    f"({geo.width()}x{geo.height()})", i)
        self.screen_box.setCurrentIndex(self.screen_box.count() - 1)
        self.fullscreen = QtWidgets.QCheckBox("Full screen")
        self.fullscreen.setChecked(len(QtGui.QGuiApplication.screens()) > 1)
        self.show_patient_button = QtWidgets.QPushButton("Show patient screen")
        prow = QtWidgets.QHBoxLayout()
        prow.addWidget(self.screen_box, 1)
        prow.addWidget(self.fullscreen)
        prow.addWidget(self.show_patient_button)
        return prow

    # -- subject ------------------------------------------------------------------------------
    def _subject_ids(self):
        return [s.id for s in self.controller.store.subjects()]

    def refresh_subjects(self):
        self.subject_box.clear()
        self.subject_box.addItems(self._subject_ids())

    def load_subject(self):
        sid = self.subject_box.currentText()
        if not sid:
            return
        s = self.controller.store.subject(sid)
        self.subject_id.setText(s.id)
        self.age.setValue(s.age or 0)
        _select(self.sex, s.sex)
        _select(self.hand, s.hand)
        self.side.setCurrentText(s.affected_side)
        self.notes.setPlainText(s.notes)
        self._refresh_sessions(sid)

    def save_subject(self):
        """Create the subject of the form, or change its age, sex, handedness, affected
        side and notes (its other fields in participants.tsv are kept)."""
        subject = self.controller.save_subject(
            self.subject_id.text().strip(), age=self.age.value() or None,
            sex=self.sex.currentData(), hand=self.hand.currentData(),
            affected_side=self.side.currentText(), notes=self.notes.toPlainText())
        self.refresh_subjects()
        self.subject_box.setCurrentText(subject.id)
        self._refresh_sessions(subject.id)
        return subject

    def _refresh_sessions(self, sid):
        self.session_box.clear()
        self.session_box.addItems(self.controller.store.sessions(sid))
        self.session_box.setCurrentIndex(self.session_box.count() - 1)

    def _current_subject(self):
        sid = self.subject_id.text().strip()
        if not sid:
            raise ValueError("Enter the subject ID (or load an existing subject) first.")
        if sid not in self._subject_ids():
            self.save_subject()
        return sid

    def new_session(self):
        sid = self._current_subject()
        session = self.controller.new_session(sid)
        session.set_operator(self.operator.text())
        self._refresh_sessions(sid)
        return session

    def open_session(self):
        sid = self._current_subject()
        label = self.session_box.currentText()
        if not label:
            raise ValueError(f"Subject {sid} has no session yet: click 'New session'.")
        session = self.controller.open_session(sid, label)
        if self.operator.text().strip():  # who runs it now; else keep the one stored
            session.set_operator(self.operator.text())
        else:
            self.operator.setText(session.operator)
        return session

    def _operator_changed(self):
        session = self.controller.session
        if session is not None and self.operator.text().strip():
            session.set_operator(self.operator.text())

    def _session_changed(self, session):
        self._show_eeg_settings(session)
        runs = session.runs
        self.session_label.setText(
            f"Open: subject {session.subject}, session {session.label} "
            f"({len(runs)} run(s)); recordings (BIDS) in {session.folder}")

    def _continuation_changed(self, plan):
        """The earlier sessions and the calibration proposed for today (the Training step
        offers to train with them)."""
        if plan is None:
            error = self.controller.continuation_error
            self.continuation_label.setText(
                f"The earlier sessions could not be read: {error}" if error else
                "Open a session to see the patient's earlier sessions.")
            return
        self.continuation_label.setText(f"{plan.earlier_text()}.\n{plan.proposal_text()}\n"
                                        "Train with them in 'Training'; set the length in "
                                        "'Calibration'.")

    def _on_busy(self, busy):
        """While a run records (or is being saved), nothing here may end it or move it to
        another session: those buttons are disabled (the controller refuses them too)."""
        for button in (self.new_session_button, self.open_session_button,
                       self.connect_button):
            button.setEnabled(not busy)
            button.setToolTip("A run is being recorded: stop it first, or wait until it "
                              "ends." if busy else "")

    # -- amplifier -------------------------------------------------------------------------
    def search_streams(self):
        self.refresh_button.setEnabled(False)
        self.source_label.setText("Searching the network for EEG streams...")

        def work():
            try:
                found = self.controller.list_streams(timeout=1.0)
            except Exception as exc:
                found = exc
            self._streamsFound.emit(found)

        threading.Thread(target=work, daemon=True).start()

    def _fill_streams(self, found):
        self.refresh_button.setEnabled(True)
        if isinstance(found, Exception):
            self.source_label.setText(f"Search failed: {found}")
            return
        current = self.stream_box.currentData()
        self.stream_box.clear()
        self.stream_box.addItem(SIMULATED, SIMULATED)
        for d in found:
            self.stream_box.addItem(f"{d.name} ({d.n_channels} ch, {d.sfreq:g} Hz, "
                                    f"{d.hostname})", d.name)
        index = self.stream_box.findData(current)
        self.stream_box.setCurrentIndex(max(index, 0))
        self.source_label.setText(f"{len(found)} EEG stream(s) found."
                                  if found else "No EEG stream found: check that the "
                                  "amplifier software is streaming over LSL.")

    def _stream_changed(self):
        self.montage_box.clear()
        if self.stream_box.currentData() == SIMULATED:
            self.montage_box.addItems(list(MONTAGES))
        else:
            self.montage_box.addItem(AMPLIFIER_MONTAGE)

    def connect_source(self):
        stream = self.stream_box.currentData()
        self.controller.open_source(stream, self.montage_box.currentText())
        self.source_label.setText(f"Connecting to {self.stream_box.currentText()}...")

    def _source_ready(self, acq):
        self.source_label.setText(f"Connected: {acq.name}, {len(acq.ch_names)} channels at "
                                  f"{acq.sfreq:g} Hz. Go to 'Signal check'.")

    def _source_failed(self, text):
        self.source_label.setText("Not connected.")
        show_error(self, "The amplifier could not be connected",
                   f"{text}\n\nCheck that the amplifier is on and streaming, then click "
                   "'Search for amplifiers' and 'Connect' again.")


def _choice_box(levels):
    """A combo box of participants.tsv levels (key -> meaning): shows the meaning, holds
    the key; ``n/a`` ("not given") first and chosen."""
    box = QtWidgets.QComboBox()
    for key in ["n/a"] + [k for k in levels if k != "n/a"]:
        box.addItem(levels[key], key)
    return box


def _select(box, key):
    box.setCurrentIndex(max(box.findData(key), 0))
