"""Step 4, Training: cross-validate pipelines on the calibration runs, r² map, pick a model."""

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from ...evaluation.calibration_scores import best_score
from ...resources import DEFAULT_MODEL
from .common import group, guarded, show_error

#: Pipelines ticked at first (quick to cross-validate), with the default online model
#: (:data:`bci_app.resources.DEFAULT_MODEL`).
DEFAULT_PIPELINES = ("MDM", "CSP+LDA", "TS+LR")

#: The score table: (header, score key); each score followed by its chance level (n/a
#: where the scores do not hold it).
_SCORE_COLUMNS = (
    ("Offline accuracy", "offline_accuracy"), ("chance (majority)", "offline_majority_accuracy"),
    ("Pseudo-online accuracy", "accuracy"), ("chance (majority)", "majority_accuracy"),
    ("chance (shuffled)", "shuffled_accuracy"),
    ("Pseudo-online nMCC", "nmcc"), ("chance (shuffled)", "shuffled_nmcc"),
    ("ITR (bits/min)", "itr_bits_per_min"), ("chance (shuffled)", "shuffled_itr_bits_per_min"),
)
_COLUMNS = ("Pipeline",) + tuple(h for h, _ in _SCORE_COLUMNS)


class TrainingView(QtWidgets.QWidget):
    """Train and compare decoders; the chosen one is used for online runs."""

    def __init__(self, controller, window_s=2.0, parent=None):
        super().__init__(parent)
        self.controller = controller
        self.specs = {}
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
        self.table.horizontalHeader().setStretchLastSection(True)
        self.use_button = QtWidgets.QPushButton("Use the selected model for online runs")
        self.use_button.setEnabled(False)
        self.model_label = QtWidgets.QLabel("No model selected.")
        self.r2_plot = pg.PlotWidget()
        self.r2_plot.setMenuEnabled(False)
        self.r2_plot.setLabel("bottom", "frequency (Hz)")
        self.r2_image = pg.ImageItem()
        self.r2_plot.addItem(self.r2_image)
        self.r2_title = QtWidgets.QLabel("r² map: where the classes differ (after training).")

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
        mid.addWidget(self.table, 1)
        mid.addWidget(self.use_button)
        mid.addWidget(self.model_label)
        right = QtWidgets.QVBoxLayout()
        right.addWidget(self.r2_title)
        right.addWidget(self.r2_plot, 1)
        layout = QtWidgets.QHBoxLayout(self)
        layout.addWidget(group("Train", left), 1)
        layout.addWidget(group("Scores (cross-validated on the calibration runs)", mid), 2)
        layout.addWidget(group("r² map (channel x frequency)", right), 2)

        self.train_button.clicked.connect(guarded(self, "Training could not start")(self.train))
        self.cancel_button.clicked.connect(self.cancel)
        self.use_button.clicked.connect(guarded(self, "Model")(self.use_selected))
        controller.trainingProgress.connect(self._progress)
        controller.trainingFinished.connect(self._finished)
        controller.trainingFailed.connect(self._failed)
        controller.modelChanged.connect(self._model_changed)
        self._paths = {}

    def showEvent(self, event):
        super().showEvent(event)
        if not self.specs:
            self.load_pipelines()

    def load_pipelines(self):
        try:
            specs = self.controller.available_pipelines()
        except Exception as exc:
            show_error(self, "The pipeline files could not be read",
                       f"{exc}\n\nCorrect the file named above in models/.")
            return
        self.specs = {s.name: s for s in specs}
        self.pipelines.clear()
        for s in specs:
            item = QtWidgets.QListWidgetItem(s.name)
            item.setFlags(item.flags() | QtCore.Qt.ItemFlag.ItemIsUserCheckable)
            checked = s.name in DEFAULT_PIPELINES or s.path.stem == DEFAULT_MODEL
            item.setCheckState(QtCore.Qt.CheckState.Checked if checked
                               else QtCore.Qt.CheckState.Unchecked)
            item.setToolTip(str(s.path))
            self.pipelines.addItem(item)

    def set_checked(self, names):
        if not self.specs:
            self.load_pipelines()
        for i in range(self.pipelines.count()):
            item = self.pipelines.item(i)
            item.setCheckState(QtCore.Qt.CheckState.Checked if item.text() in names
                               else QtCore.Qt.CheckState.Unchecked)

    def checked(self):
        return [self.specs[self.pipelines.item(i).text()] for i in range(self.pipelines.count())
                if self.pipelines.item(i).checkState() == QtCore.Qt.CheckState.Checked]

    def train(self):
        if not self.specs:
            self.load_pipelines()
        self.controller.start_training(self.checked(), window_s=self.window.value())
        self.train_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText("Training...")
        self.progress.setValue(0)

    def cancel(self):
        self.controller.cancel_training()
        self.status.setText("Cancelling after the current step...")

    def _progress(self, done, total, text):
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.status.setText(text)

    def _failed(self, text):
        self.train_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.status.setText(text)
        if "cancelled" not in text.lower():
            show_error(self, "Training failed", text)

    def _finished(self, result):
        self.train_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self._paths = dict(result.paths)
        self.table.setRowCount(len(result.scores))
        for r, s in enumerate(result.scores):
            values = [s["pipeline"]] + [s.get(key, float("nan")) for _, key in _SCORE_COLUMNS]
            for c, v in enumerate(values):
                text = v if isinstance(v, str) else ("n/a" if not np.isfinite(v)
                                                     else f"{v:.2f}")
                self.table.setItem(r, c, QtWidgets.QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        best = best_score(result.scores, "nmcc")
        if best is not None:
            self.table.selectRow(best)
        self.use_button.setEnabled(bool(result.scores))
        self.status.setText(f"Done: {len(result.scores)} pipeline(s) trained and saved with "
                            "the session. The best pseudo-online nMCC is selected.")
        if result.r2 is not None:
            self.show_r2(result.r2)

    def show_r2(self, r2):
        values = np.asarray(r2["values"])  # (channels, freqs)
        lim = max(float(np.abs(values).max()), 1e-6)
        cmap = pg.colormap.get("RdBu_r", source="matplotlib")
        self.r2_image.setImage(values.T, levels=(-lim, lim))
        self.r2_image.setColorMap(cmap)
        freqs = r2["freqs"]
        df = freqs[1] - freqs[0] if len(freqs) > 1 else 1.0
        self.r2_image.setRect(QtCore.QRectF(freqs[0] - df / 2, 0, df * len(freqs),
                                            len(r2["ch_names"])))
        ax = self.r2_plot.getAxis("left")
        ax.setTicks([[(i + 0.5, n) for i, n in enumerate(r2["ch_names"])]])
        self.r2_plot.invertY(True)
        a, b = r2["classes"]
        self.r2_title.setText(f"Signed r², {a} vs {b}: red = more power during {b} "
                              f"(max {lim:.2f})")

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
                                 "No model selected.")
