"""Step 4, Training: choose the calibration runs, cross-validate pipelines on them, r² map,
pick a model; train with the patient's earlier sessions, or use one of their decoders as is.

The pipeline files are read on a worker thread, started with the view (at start-up): building
their pipelines imports the decoding libraries, seconds the window must not freeze for. A
choice of pipelines made before they are read (:meth:`TrainingView.set_checked`) and a
training asked for meanwhile wait for them.
"""

import threading
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from ...evaluation.calibration_scores import best_score
from ...resources import DEFAULT_MODEL
from .common import PROTOCOL_COLUMN_PX, fit_column, group, guarded, show_error

#: Colours of the r² map: red-blue, diverging around 0 (as the report's figure; neither
#: end is green, so colour-vision deficiencies still tell them apart).
R2_COLOURMAP = pg.colormap.get("RdBu_r", source="matplotlib")

#: Pipelines ticked at first (quick to cross-validate), with the default online model
#: (:data:`bci_app.resources.DEFAULT_MODEL`).
DEFAULT_PIPELINES = ("MDM", "CSP+LDA", "TS+LR")

#: The score table: (header, score key); each score followed by its chance level (n/a
#: where the scores do not hold it). The offline score (one epoch per trial: the hand and,
#: when rest is cued, the rest trials) has its binomial level: the accuracy its number of
#: trials must reach for p < 0.05 (too few: none can). Headers on two lines: every column
#: fits the table's width.
_SCORE_COLUMNS = (
    ("Offline\naccuracy", "offline_accuracy"), ("chance\n(majority)", "offline_majority_accuracy"),
    ("chance\n(binomial)", "offline_binomial_accuracy"),
    ("Pseudo-online\naccuracy", "accuracy"), ("chance\n(majority)", "majority_accuracy"),
    ("chance\n(shuffled)", "shuffled_accuracy"),
    ("Pseudo-online\nnMCC", "nmcc"), ("chance\n(shuffled)", "shuffled_nmcc"),
    ("ITR\n(bits/min)", "itr_bits_per_min"), ("chance\n(shuffled)", "shuffled_itr_bits_per_min"),
)
_COLUMNS = ("Pipeline",) + tuple(h for h, _ in _SCORE_COLUMNS)
#: The list of the session's calibration runs (the first column's box: train on it).
_RUN_COLUMNS = ("Run", "Protocol", "Classes", "Status", "Trials", "Quality")
_RUN = QtCore.Qt.ItemDataRole.UserRole
#: What training with the earlier sessions does, and why it may not be offered.
_WITH_EARLIER = ("Each pipeline is trained on today's ticked runs plus the calibration runs "
                 "of the earlier sessions that have today's classes and channels, every "
                 "session re-centred on its own mean (today's, online, on a reference that "
                 "follows the signal).")
_NO_EARLIER = "No earlier session of this patient has today's classes and channels."


def _names(classes):
    return ", ".join(str(c).replace("_", " ") for c in classes)


class TrainingView(QtWidgets.QWidget):
    """Train and compare decoders; the chosen one is used for online runs.

    Signals
    -------
    pipelinesLoaded(object)
        The pipeline files were read (list of ModelSpec), or could not be (the exception).
    """

    pipelinesLoaded = QtCore.Signal(object)

    def __init__(self, controller, window_s=2.0, parent=None):
        super().__init__(parent)
        self.controller = controller
        self.specs = {}
        self._loader = None  # the thread reading the pipeline files
        self._pending_checked = None  # pipelines to tick once they are read
        self._train_when_loaded = False
        self.runs_table = QtWidgets.QTableWidget(0, len(_RUN_COLUMNS))
        self.runs_table.setHorizontalHeaderLabels(_RUN_COLUMNS)
        self.runs_table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.runs_table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        self.runs_table.verticalHeader().setVisible(False)
        self.runs_table.horizontalHeader().setStretchLastSection(True)
        self.runs_note = QtWidgets.QLabel("Ticked runs are trained on. Aborted runs are left "
                                          "out unless you tick them; failed runs have no "
                                          "recording.")
        self.runs_note.setWordWrap(True)
        self.used_label = QtWidgets.QLabel("")  # the runs and classes of the last training
        self.used_label.setWordWrap(True)
        self.pipelines = QtWidgets.QListWidget()
        self.window = QtWidgets.QDoubleSpinBox()
        self.window.setRange(0.5, 4.0)
        self.window.setSingleStep(0.25)
        self.window.setValue(window_s)
        self.window.setSuffix(" s decoder window")
        self.train_button = QtWidgets.QPushButton("Train and compare")
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QtWidgets.QProgressBar()
        self.status = QtWidgets.QLabel("Record at least one calibration run, then train.")
        self.status.setWordWrap(True)
        self.table = QtWidgets.QTableWidget(0, len(_COLUMNS))
        self.table.setHorizontalHeaderLabels(_COLUMNS)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setDefaultAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        # Every column shares the width (no horizontal scroll bar hides the last ones); the
        # pipeline's name takes what the scores leave.
        header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.use_button = QtWidgets.QPushButton("Use the selected model for online runs")
        self.use_button.setEnabled(False)
        self.model_label = QtWidgets.QLabel("No model chosen for online runs yet.")
        self.model_label.setWordWrap(True)
        self.r2_plot = pg.PlotWidget()
        self.r2_plot.setMenuEnabled(False)
        self.r2_plot.setLabel("bottom", "frequency (Hz)")
        self.r2_image = pg.ImageItem()
        self.r2_plot.addItem(self.r2_image)
        # The colour scale of the map, symmetric around 0 (set with each map).
        self.r2_bar = pg.ColorBarItem(values=(-1.0, 1.0), colorMap=R2_COLOURMAP,
                                      label="signed r²", interactive=False, width=15)
        self.r2_bar.setImageItem(self.r2_image, insert_in=self.r2_plot.getPlotItem())
        self._r2_ticks = []
        self.r2_plot.getViewBox().sigResized.connect(lambda box: self._update_r2_ticks())
        self.r2_title = QtWidgets.QLabel("r² map: where the classes differ (after training).")
        self.r2_title.setWordWrap(True)
        earlier = self._earlier_form()

        runs = QtWidgets.QVBoxLayout()
        runs.addWidget(self.runs_table, 1)
        runs.addWidget(self.runs_note)
        self.runs_table.setMinimumHeight(90)
        self.runs_table.setMaximumHeight(120)  # a long session scrolls
        left = QtWidgets.QVBoxLayout()
        left.addWidget(QtWidgets.QLabel("Pipelines (models/)"))
        left.addWidget(self.pipelines, 1)
        left.addWidget(self.window)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.train_button)
        row.addWidget(self.cancel_button)
        left.addLayout(row)
        left.addWidget(self.progress)
        left.addWidget(self.status)
        mid = QtWidgets.QVBoxLayout()
        mid.addWidget(self.used_label)
        mid.addWidget(self.table, 1)
        mid.addWidget(self.use_button)
        mid.addWidget(self.model_label)
        right = QtWidgets.QVBoxLayout()
        right.addWidget(self.r2_title)
        right.addWidget(self.r2_plot, 1)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(group("Train", left), 1)
        row.addWidget(group("r² map (channel x frequency)", right), 1)
        layout = QtWidgets.QVBoxLayout(self)
        # Today's runs beside what the earlier sessions offer (the height goes to the
        # pipelines, the r² map and the scores).
        top = QtWidgets.QHBoxLayout()
        top.addWidget(group("Calibration runs of this session (ticked: trained on)", runs), 1)
        top.addWidget(group("Earlier sessions of this patient", earlier), 1)
        layout.addLayout(top)
        layout.addLayout(row, 5)
        # The scores take the whole width: every column is in view.
        layout.addWidget(group("Scores (cross-validated on the calibration runs)", mid), 2)

        self.train_button.clicked.connect(guarded(self, "Training could not start")(self.train))
        self.cancel_button.clicked.connect(self.cancel)
        self.use_button.clicked.connect(guarded(self, "Model")(self.use_selected))
        controller.trainingProgress.connect(self._progress)
        controller.trainingFinished.connect(self._finished)
        controller.trainingFailed.connect(self._failed)
        controller.modelChanged.connect(self._model_changed)
        controller.continuationChanged.connect(self._continuation_changed)
        controller.sessionChanged.connect(self._session_changed)
        controller.runFinished.connect(lambda run: self.refresh_runs())
        controller.busyChanged.connect(self._on_busy)
        self.pipelinesLoaded.connect(self._pipelines_loaded)
        self._paths = {}
        self._training = False
        self.load_pipelines()  # in the background, from the start

    def showEvent(self, event):
        super().showEvent(event)
        self.refresh_runs()

    # -- earlier sessions ---------------------------------------------------------------------
    def _earlier_form(self):
        """What the earlier sessions offer: training with them, or one of their decoders."""
        self.earlier_label = QtWidgets.QLabel("Open a session to see the patient's earlier "
                                              "sessions.")
        self.earlier_label.setWordWrap(True)
        self.proposal_label = QtWidgets.QLabel("")
        self.proposal_label.setWordWrap(True)
        self.with_earlier = QtWidgets.QRadioButton("Train with earlier sessions (transfer)")
        self.today_only = QtWidgets.QRadioButton("Train on today's runs only")
        self.today_only.setChecked(True)
        self._mode = QtWidgets.QButtonGroup(self)
        for button in (self.with_earlier, self.today_only):
            self._mode.addButton(button)
            button.clicked.connect(self._mode_clicked)
        self._mode_chosen = False  # the operator chose: a new plan keeps the choice
        self.earlier_models = QtWidgets.QComboBox()
        self.use_earlier_button = QtWidgets.QPushButton("Use this decoder as is")
        self.use_earlier_button.clicked.connect(
            guarded(self, "Model")(self.use_earlier_model))
        self._show_continuation(None)
        modes = QtWidgets.QHBoxLayout()
        modes.addWidget(self.with_earlier)
        modes.addWidget(self.today_only)
        modes.addStretch(1)
        pick = QtWidgets.QHBoxLayout()
        pick.addWidget(self.earlier_models, 1)
        pick.addWidget(self.use_earlier_button)
        self.earlier_models.setToolTip("The decoders saved in the earlier sessions (newest "
                                       "first): one can be used as it is for today's "
                                       "online runs.")
        form = QtWidgets.QVBoxLayout()
        form.addWidget(self.earlier_label)
        form.addWidget(self.proposal_label)
        form.addLayout(modes)
        form.addLayout(pick)
        return form

    def _mode_clicked(self):
        self._mode_chosen = True

    def _continuation_changed(self, plan):
        self._show_continuation(plan)

    def _show_continuation(self, plan):
        """Show the earlier sessions, the proposed calibration and their decoders;
        training with them is offered when one can be a source (and chosen by default)."""
        error = self.controller.continuation_error
        if plan is None:
            self.earlier_label.setText(
                f"The earlier sessions could not be read: {error}" if error else
                "Open a session to see the patient's earlier sessions.")
            self.proposal_label.setText("")
        else:
            self.earlier_label.setText(plan.earlier_text())
            self.proposal_label.setText(plan.proposal_text())
        # Why an earlier session is not used (other classes, a channel missing...).
        self.earlier_label.setToolTip(plan.problems_text() if plan is not None else "")
        usable = plan is not None and bool(plan.sources)
        self.with_earlier.setEnabled(usable)
        self.with_earlier.setToolTip(_WITH_EARLIER if usable else _NO_EARLIER)
        if not usable:
            self.today_only.setChecked(True)
        elif not self._mode_chosen:
            self.with_earlier.setChecked(True)
        self.earlier_models.clear()
        for label, path, chosen in self.controller.earlier_models():
            self.earlier_models.addItem(
                f"ses-{label}: {Path(path).name}" + (" (used online then)" if chosen else ""),
                str(path))
        self.use_earlier_button.setEnabled(self.earlier_models.count() > 0)

    @property
    def trains_with_earlier(self):
        """True when the next training uses the earlier sessions."""
        return self.with_earlier.isEnabled() and self.with_earlier.isChecked()

    def use_earlier_model(self):
        """Use the chosen decoder of an earlier session, as it is, for online runs."""
        path = self.earlier_models.currentData()
        if not path:
            raise ValueError("No decoder saved in an earlier session of this patient.")
        self.controller.select_model(path)

    # -- runs -----------------------------------------------------------------------------------
    def _session_changed(self, session):
        self.runs_table.setRowCount(0)  # another session: its own runs and defaults
        self.used_label.setText("")
        self._mode_chosen = False
        self._show_continuation(None)
        self.refresh_runs()

    def refresh_runs(self):
        """List the session's calibration runs: status, trials, quality; ticked: trained on
        (by default the complete and interrupted ones; the operator's ticks are kept)."""
        ticked = {}
        for r in range(self.runs_table.rowCount()):
            item = self.runs_table.item(r, 0)
            ticked[item.data(_RUN)] = item.checkState()
        try:
            runs = self.controller.training_candidates()
        except Exception as exc:  # an unreadable run record: say which
            self.runs_note.setText(f"The runs could not be listed: {exc}")
            return
        self.runs_table.setRowCount(len(runs))
        for r, run in enumerate(runs):
            usable = run.usable and bool(run.bids_path) and Path(run.bids_path).is_file()
            item = QtWidgets.QTableWidgetItem(str(run.index))
            item.setData(_RUN, run.index)
            flags = QtCore.Qt.ItemFlag.ItemIsEnabled
            if usable:
                flags |= QtCore.Qt.ItemFlag.ItemIsUserCheckable
                default = (QtCore.Qt.CheckState.Checked if run.trained_by_default
                           else QtCore.Qt.CheckState.Unchecked)
                item.setCheckState(ticked.get(run.index, default))
            else:
                item.setCheckState(QtCore.Qt.CheckState.Unchecked)
            item.setFlags(flags)
            trials = run.recorded_trials
            if trials is None:
                trials_text = "n/a"
            elif run.n_trials:
                trials_text = f"{trials} of {run.n_trials}"
            else:
                trials_text = str(trials)
            cells = (item, QtWidgets.QTableWidgetItem(run.protocol),
                     QtWidgets.QTableWidgetItem(_names(run.classes)),
                     QtWidgets.QTableWidgetItem(run.status),
                     QtWidgets.QTableWidgetItem(trials_text),
                     QtWidgets.QTableWidgetItem(run.quality or "n/a"))
            for c, cell in enumerate(cells):
                if run.error:
                    cell.setToolTip(run.error)
                if c:
                    cell.setFlags(QtCore.Qt.ItemFlag.ItemIsEnabled)
                self.runs_table.setItem(r, c, cell)
        self.runs_table.resizeColumnsToContents()
        fit_column(self.runs_table, 1, PROTOCOL_COLUMN_PX)

    def selected_runs(self):
        """The numbers of the ticked runs, in run order."""
        return [int(self.runs_table.item(r, 0).data(_RUN))
                for r in range(self.runs_table.rowCount())
                if self.runs_table.item(r, 0).checkState() == QtCore.Qt.CheckState.Checked]

    def set_runs(self, numbers):
        """Tick exactly the runs ``numbers``."""
        self.refresh_runs()
        for r in range(self.runs_table.rowCount()):
            item = self.runs_table.item(r, 0)
            if item.flags() & QtCore.Qt.ItemFlag.ItemIsUserCheckable:
                item.setCheckState(QtCore.Qt.CheckState.Checked if item.data(_RUN) in numbers
                                   else QtCore.Qt.CheckState.Unchecked)

    def _on_busy(self, busy):
        """No training while a run records (it would slow the recording and the decoder)."""
        self.train_button.setEnabled(not busy and not self._training)
        self.train_button.setToolTip("A run is being recorded: train once it has ended."
                                     if busy else "")

    @property
    def loading(self):
        """True while the pipeline files are being read."""
        return self._loader is not None and self._loader.is_alive()

    def load_pipelines(self):
        """(Re)read the pipeline files on a worker thread; :attr:`pipelinesLoaded` follows
        (the list is filled in the GUI thread)."""
        if self.loading:
            return
        self.pipelines.clear()
        self.pipelines.addItem("Reading the pipeline files...")
        self.pipelines.setEnabled(False)

        def work():
            try:
                result = self.controller.available_pipelines()
            except Exception as exc:  # shown by the GUI thread
                result = exc
            try:
                self.pipelinesLoaded.emit(result)
            except RuntimeError:  # the window was closed meanwhile
                pass

        self._loader = threading.Thread(target=work, daemon=True, name="bci-app-pipelines")
        self._loader.start()

    def _pipelines_loaded(self, specs):
        self.pipelines.setEnabled(True)
        self.pipelines.clear()
        if isinstance(specs, Exception):
            self._train_when_loaded = False
            show_error(self, "The pipeline files could not be read",
                       f"{specs}\n\nCorrect the file named above in models/.")
            return
        self.specs = {s.name: s for s in specs}
        for s in specs:
            item = QtWidgets.QListWidgetItem(s.name)
            item.setFlags(item.flags() | QtCore.Qt.ItemFlag.ItemIsUserCheckable)
            checked = s.name in DEFAULT_PIPELINES or s.path.stem == DEFAULT_MODEL
            item.setCheckState(QtCore.Qt.CheckState.Checked if checked
                               else QtCore.Qt.CheckState.Unchecked)
            item.setToolTip(str(s.path))
            self.pipelines.addItem(item)
        if self._pending_checked is not None:
            names, self._pending_checked = self._pending_checked, None
            self.set_checked(names)
        if self._train_when_loaded:
            self._train_when_loaded = False
            guarded(self, "Training could not start")(self.train)()

    def set_checked(self, names):
        """Tick exactly the pipelines ``names`` (once they are read, if they are not yet)."""
        if not self.specs:
            self._pending_checked = list(names)
            if not self.loading:
                self.load_pipelines()
            return
        for i in range(self.pipelines.count()):
            item = self.pipelines.item(i)
            item.setCheckState(QtCore.Qt.CheckState.Checked if item.text() in names
                               else QtCore.Qt.CheckState.Unchecked)

    def checked(self):
        return [self.specs[self.pipelines.item(i).text()] for i in range(self.pipelines.count())
                if self.pipelines.item(i).checkState() == QtCore.Qt.CheckState.Checked]

    def train(self):
        if not self.specs:  # the pipeline files are still being read: train once they are
            self._train_when_loaded = True
            if not self.loading:
                self.load_pipelines()
            self.status.setText("Reading the pipeline files; training starts once they "
                                "are read...")
            return
        self.refresh_runs()
        if not self.runs_table.rowCount():
            raise ValueError("No calibration run in this session yet: record one in the "
                             "'Calibration' step first.")
        runs = self.selected_runs()
        if not runs:
            raise ValueError("No run ticked: tick the calibration runs to train on in the "
                             "list of runs.")
        earlier = self.trains_with_earlier
        start = (self.controller.start_training_with_earlier if earlier
                 else self.controller.start_training)
        start(self.checked(), runs=runs, window_s=self.window.value())
        self._training = True
        self.train_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText(f"Training on run(s) {', '.join(map(str, runs))}"
                            + (" with the earlier sessions" if earlier else "") + "...")
        self.progress.setValue(0)

    def cancel(self):
        self.controller.cancel_training()
        self.status.setText("Cancelling after the current step...")

    def _progress(self, done, total, text):
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.status.setText(text)

    def _failed(self, text):
        self._training = False
        self.train_button.setEnabled(not self.controller.busy)
        self.cancel_button.setEnabled(False)
        self.status.setText(text)
        if "cancelled" not in text.lower():
            show_error(self, "Training failed", text)

    def _finished(self, result):
        self._training = False
        self.train_button.setEnabled(not self.controller.busy)
        self.cancel_button.setEnabled(False)
        self._paths = dict(result.paths)
        self.table.setRowCount(len(result.scores))
        for r, s in enumerate(result.scores):
            values = [s["pipeline"]] + [s.get(key, float("nan")) for _, key in _SCORE_COLUMNS]
            for c, v in enumerate(values):
                text = v if isinstance(v, str) else ("too few" if v == np.inf else "n/a"
                                                     if not np.isfinite(v) else f"{v:.2f}")
                self.table.setItem(r, c, QtWidgets.QTableWidgetItem(text))
            if "offline_n_trials" in s:
                self.table.item(r, 1).setToolTip(
                    f"{s['offline_n_trials']} trials, all folds together; binomial chance: "
                    "the accuracy they must reach for p < 0.05")
        best = best_score(result.scores, "nmcc")
        if best is not None:
            self.table.selectRow(best)
        self.use_button.setEnabled(bool(result.scores))
        used = (f"run(s) {', '.join(map(str, result.runs))} (classes "
                f"{_names(result.classes)})")
        transfer = getattr(result, "transfer", None)
        if transfer:
            used += " with the earlier sessions " + ", ".join(
                f"ses-{e['session']} (run(s) {', '.join(map(str, e['run_numbers']))})"
                for e in transfer.get("earlier_sessions", ()))
        self.used_label.setText(f"Trained on {used}.")
        self.status.setText(f"Done: {len(result.scores)} pipeline(s) trained on {used} and "
                            "saved with the session. The row with the best pseudo-online nMCC is "
                            "highlighted: 'Use the selected model' decodes online runs with it.")
        if result.r2 is not None:
            self.show_r2(result.r2)

    def show_r2(self, r2):
        values = np.asarray(r2["values"])  # (channels, freqs)
        lim = max(float(np.abs(values).max()), 1e-6)
        self.r2_image.setImage(values.T, levels=(-lim, lim))
        self.r2_bar.setLevels((-lim, lim))  # the image takes the bar's colours and levels
        freqs = r2["freqs"]
        df = freqs[1] - freqs[0] if len(freqs) > 1 else 1.0
        self.r2_image.setRect(QtCore.QRectF(freqs[0] - df / 2, 0, df * len(freqs),
                                            len(r2["ch_names"])))
        self._r2_ticks = [(i + 0.5, n) for i, n in enumerate(r2["ch_names"])]
        self._update_r2_ticks()
        self.r2_plot.invertY(True)
        a, b = r2["classes"]
        self.r2_title.setText(f"Signed r², {a} vs {b}: red = more power during {b}, blue = "
                              f"more during {a} (max |r²| {lim:.2f}; scale on the right)")

    def _update_r2_ticks(self):
        """Channel names on the r² map's rows: every k-th when the rows are too thin for
        all (about 12 px a name)."""
        ticks = self._r2_ticks
        height = self.r2_plot.getViewBox().height() or self.r2_plot.height()
        step = max(1, int(np.ceil(len(ticks) * 12.0 / max(height, 1.0))))
        self.r2_plot.getAxis("left").setTicks([ticks[::step], []])

    def selected_name(self):
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return self.table.item(rows[0].row(), 0).text()

    def use_selected(self):
        name = self.selected_name()
        if name is None:
            raise ValueError("Select a row of the score table first.")
        self.controller.select_model(self._paths[name])

    def _model_changed(self, path):
        self.model_label.setText(f"Model for online runs: {path.name}" if path else
                                 "No model chosen for online runs yet.")
