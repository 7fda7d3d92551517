"""Step 5, Online runs: cue and feedback for the patient; signal, decoder output and
accuracy for the operator."""

import collections

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from ...processing.quality import ARTIFACT
from ..palette import BAD, class_colours
from .common import RunView, group


class OnlineView(RunView):
    """Run an online protocol with feedback driven by the live decoder."""

    def __init__(self, controller, time_scale=1.0, min_imagery_s=0.0, patient=None,
                 parent=None):
        super().__init__(controller, "online", time_scale, min_imagery_s, parent)
        self.patient = patient
        self.model_label = QtWidgets.QLabel("No decoder selected: train one first.")
        self.score_label = QtWidgets.QLabel("Run accuracy: -")
        self.score_label.setStyleSheet("font-size: 14pt;")
        self.signal_label = QtWidgets.QLabel("")  # "No decision: bad signal (...)"
        for label in (self.model_label, self.score_label, self.signal_label):
            label.setWordWrap(True)  # long texts wrap: they never widen the view
        self.signal_label.setStyleSheet(f"color: {BAD}; font-weight: bold;")
        self.output = pg.PlotWidget()
        self.output.setMenuEnabled(False)
        self.output.setMouseEnabled(x=False, y=False)
        self.output.setYRange(0, 1)
        self.output.setLabel("left", "probability")
        self.output.setLabel("bottom", "time (s)")
        self.output.addLegend(offset=(5, 5))
        self._curves = {}
        self._history = collections.deque(maxlen=2000)
        self._classes = None
        self._redraw = QtCore.QTimer(self)
        self._redraw.setInterval(50)
        self._redraw.timeout.connect(self._draw_output)
        info = QtWidgets.QVBoxLayout()
        info.addWidget(self.model_label)
        info.addWidget(self.score_label)
        info.addWidget(self.signal_label)
        run_box = QtWidgets.QVBoxLayout()
        run_box.addWidget(self.panel)
        run_box.addLayout(info)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(group("Online run", run_box), 1)
        prev = QtWidgets.QVBoxLayout()
        prev.addWidget(self.preview)
        top.addWidget(group("Patient screen (preview)", prev), 1)
        out = QtWidgets.QVBoxLayout()
        out.addWidget(self.output)
        top.addWidget(group("Decoder output", out), 2)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(top, 1)
        layout.addWidget(self.signal, 1)
        controller.modelChanged.connect(self._model_changed)
        controller.predictions.connect(self._on_predictions)
        controller.scoreChanged.connect(self._on_score)
        controller.runStarted.connect(self._on_started)

    def showEvent(self, event):
        super().showEvent(event)
        self._redraw.start()

    def hideEvent(self, event):
        super().hideEvent(event)
        self._redraw.stop()

    def _model_changed(self, path):
        t = self.controller.trained
        if t is None:
            self.model_label.setText("No decoder selected: train one first.")
        else:
            self.model_label.setText(f"Decoder: {t.name} ({', '.join(t.classes)}; window "
                                     f"{t.window_s:g} s) from {path.name}")

    def _on_started(self, run):
        if run.run_type == "online":
            self._history.clear()
            self.score_label.setText("Run accuracy: -")

    def _on_predictions(self, pred):
        classes = [str(c) for c in pred.classes]
        if classes != self._classes:
            self._classes = classes
            self.output.clear()
            self._curves = {}
            colours = class_colours(classes)
            for c in classes:
                self._curves[c] = self.output.plot(pen=pg.mkPen(colours[c], width=2), name=c)
        for t, p in zip(pred.times, pred.smoothed):
            self._history.append((t, p))
        # Feedback: confidence in the cued class, coloured when it is the decision.
        # No decision (bad signal): an empty bar, and the therapist is told why.
        label = self.preview.label
        no_decision = len(pred) and pred.decisions[-1] == ARTIFACT
        reason = pred.reasons[-1] if no_decision and pred.reasons is not None else ""
        self.signal_label.setText(f"No decision: bad signal ({reason})" if no_decision
                                  else "")
        if label and label in classes and len(pred):
            value = None if no_decision else float(pred.smoothed[-1][classes.index(label)])
            correct = pred.decisions[-1] == label
            self.preview.set_feedback(value, correct)
            if self.patient is not None:
                self.patient.canvas.set_feedback(value, correct)

    def _draw_output(self):
        if not self._history or not self._classes:
            return
        t = np.array([h[0] for h in self._history])
        p = np.array([h[1] for h in self._history])
        sel = t >= t[-1] - 20.0
        x = t[sel] - t[-1]
        for k, c in enumerate(self._classes):
            self._curves[c].setData(x, p[sel, k])

    def _on_score(self, score):
        self.score_label.setText(live_score_text(score))


def _pct(value):
    return "-" if value is None or not np.isfinite(value) else f"{100 * value:.0f} %"


def live_score_text(score):
    """The running score of an online run
    (:class:`~bci_app.evaluation.scoring.RunScore`), each accuracy next to its chance
    levels: always deciding the most frequent label, and the decisions shuffled; the trial
    accuracy also beside the accuracy its number of trials must reach to beat guessing at
    p < 0.05 (binomial; none with too few trials)."""
    text = (f"Run accuracy: windows {_pct(score.window_accuracy)} ({score.windows}); trials "
            f"{score.trials_correct}/{score.trials_done}"
            + ("" if np.isnan(score.trial_accuracy) else f" ({_pct(score.trial_accuracy)})"))
    if score.artifacts:
        text += f"; no decision (bad signal): {score.artifacts} windows"
    if score.undecidable:
        text += (f"\nNot scored: {score.undecidable} rest windows (the decoder has no rest "
                 "class: it cannot decide rest)")
    m = score.metrics
    if m:
        text += (f"\nChance: windows {_pct(m['majority_accuracy'])} (majority), "
                 f"{_pct(m['shuffled_accuracy'])} (shuffled)")
        if score.trials_done:
            text += (f"; trials {_pct(m['majority_trial_accuracy'])} (majority), "
                     f"{_pct(m['shuffled_trial_accuracy'])} (shuffled)")
            binomial = m.get("binomial_trial_accuracy", float("nan"))
            if binomial == np.inf:
                text += ", too few for p < 0.05"
            elif np.isfinite(binomial):
                text += f", {_pct(binomial)} needed for p < 0.05"
    return text
