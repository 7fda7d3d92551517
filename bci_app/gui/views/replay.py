"""Replay: play a recording in real time through the same views, or sweep it pseudo-online
with the selected decoder (:func:`bci_app.evaluation.online_runs.sweep_run`: decoding,
scoring and the timeline figure are the core's; this view shows them). A sweep of a recording
the decoder was trained on (:func:`bci_app.evaluation.calibration_scores.in_sample`) is
labelled in-sample, beside the decoder's cross-validated scores."""

import base64
import threading
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from ..._utils import parse_pairs
from ...evaluation.calibration_scores import IN_SAMPLE_NOTE, in_sample
from ..palette import WARNING
from ..signal import SignalCheckPanel
from .common import group, guarded, show_error


def in_sample_text(trained_on):
    """The label of an in-sample sweep: what it is, and the decoder's cross-validated scores
    (those of its training, out-of-sample) when it holds them."""
    text = IN_SAMPLE_NOTE + "."
    cv = (trained_on or {}).get("cross_validation") or {}
    parts = [f"{name} {cv[key]:.2f}" for name, key in (
        ("pseudo-online accuracy", "accuracy"), ("nMCC", "nmcc"),
        ("ITR (bits/min)", "itr_bits_per_min")) if isinstance(cv.get(key), (int, float))
        and cv[key] == cv[key]]
    if parts:
        text += " Cross-validated on its calibration runs: " + ", ".join(parts) + "."
    return text


def parse_event_map(text):
    """``"T1=left_hand T2=right_hand"`` -> dict (empty text: None); ValueError if malformed
    (:func:`bci_app._utils.parse_pairs`, the reading of ``--event-map`` too)."""
    return parse_pairs(text, "Event renaming", "ANNOTATION=CLASS, e.g. T1=left_hand "
                                               "T2=right_hand") or None


class ReplayView(QtWidgets.QWidget):
    """Choose a recording; replay it in real time (signal views, live decoder) or sweep it."""

    _swept = QtCore.Signal(object)

    def __init__(self, controller, parent=None):
        super().__init__(parent)
        self.controller = controller
        self.file = QtWidgets.QLineEdit()
        self.file.setPlaceholderText("EDF, BDF, GDF, FIF, BrainVision or EEGLAB file "
                                     "(e.g. a run's sub-..._eeg.vhdr in the recordings)")
        browse = QtWidgets.QPushButton("Browse...")
        self.event_map = QtWidgets.QLineEdit()
        self.event_map.setPlaceholderText("optional: T1=left_hand T2=right_hand")
        self.play_button = QtWidgets.QPushButton("Replay in real time")
        self.stop_button = QtWidgets.QPushButton("Stop replay")
        self.sweep_button = QtWidgets.QPushButton("Sweep pseudo-online with the selected "
                                                  "decoder")
        self.status = QtWidgets.QLabel("Choose a recording.")
        self.status.setWordWrap(True)
        self.in_sample = QtWidgets.QLabel("")  # the sweep of a recording trained on
        self.in_sample.setWordWrap(True)
        self.in_sample.setStyleSheet(f"color: {WARNING}; font-weight: bold;")
        self.in_sample.hide()
        self.timeline = QtWidgets.QLabel()
        self.timeline.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.signal = SignalCheckPanel(controls=False)
        frow = QtWidgets.QHBoxLayout()
        frow.addWidget(self.file, 1)
        frow.addWidget(browse)
        form = QtWidgets.QFormLayout()
        form.addRow("Recording", frow)
        form.addRow("Rename events", self.event_map)
        brow = QtWidgets.QHBoxLayout()
        for b in (self.play_button, self.stop_button, self.sweep_button):
            brow.addWidget(b)
        form.addRow("", brow)
        form.addRow("", self.in_sample)
        form.addRow("", self.status)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(group("Recording", form))
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        split.addWidget(self.signal)
        split.addWidget(self.timeline)
        layout.addWidget(split, 1)
        browse.clicked.connect(self._browse)
        self.play_button.clicked.connect(guarded(self, "The replay could not start")(self.play))
        self.stop_button.clicked.connect(self.stop)
        self.sweep_button.clicked.connect(guarded(self, "The sweep could not start")(self.sweep))
        self._swept.connect(self._on_swept)
        controller.sourceReady.connect(
            lambda acq: self.signal.set_source(acq, controller.bad_channels))
        controller.busyChanged.connect(self._on_busy)

    def _on_busy(self, busy):
        """A replay replaces the source: not while a run records (it would stop it)."""
        for button in (self.play_button, self.stop_button):
            button.setEnabled(not busy)
            button.setToolTip("A run is being recorded: wait until it ends." if busy else "")

    def _browse(self):
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Open a recording", str(self.controller.store.root),
            "EEG recordings (*.fif *.edf *.bdf *.gdf *.vhdr *.set);;All files (*)")
        if path:
            self.file.setText(path)

    def _path(self):
        text = self.file.text().strip()
        if not text:
            raise ValueError("Choose a recording file first.")
        if not Path(text).is_file():
            raise ValueError(f"{text}: no such file.")
        return text

    def play(self):
        replay = self.controller.open_replay(self._path(), parse_event_map(self.event_map.text()))
        self.status.setText(f"Replaying {replay.path.name} as stream {replay.name!r} "
                            f"({replay.duration:.0f} s). The Signal check view shows it too.")

    def stop(self):
        if self.controller.replay is not None:
            self.controller.close_source()
            self.status.setText("Replay stopped. Reconnect the amplifier in 'Patient & "
                                "session' to record.")

    def sweep(self):
        trained = self.controller.trained
        if trained is None:
            raise ValueError("No decoder selected: train one (step 'Training') first.")
        path, event_map = self._path(), parse_event_map(self.event_map.text())
        self.sweep_button.setEnabled(False)
        self.status.setText("Sweeping...")
        self.in_sample.hide()
        note = (in_sample_text(trained.trained_on) if in_sample(trained.trained_on, path)
                else None)
        title = f"{Path(path).name}: pseudo-online sweep" + (
            " - IN-SAMPLE (the decoder was trained on it)" if note else "")

        def work():
            try:
                from ...evaluation.online_runs import sweep_run
                from ...evaluation.recordings import read_recording_run

                # A BIDS run is read with its events (events.tsv), any other file as MNE
                # reads it; the sweep and its score are the core's.
                run = read_recording_run(path, event_map)
                result = sweep_run(trained, run, title=title)
                result["in_sample"] = note
                self._swept.emit(result)
            except Exception as exc:
                self._swept.emit(exc)

        threading.Thread(target=work, daemon=True, name="bci-app-sweep").start()

    def _on_swept(self, result):
        self.sweep_button.setEnabled(True)
        if isinstance(result, Exception):
            show_error(self, "The sweep failed", str(result))
            self.status.setText(f"Sweep failed: {result}")
            return
        from ...evaluation.scoring import NOT_INFORMATIVE, informative_chance

        m = result["metrics"]
        kind = ("In-sample pseudo-online sweep (optimistic: the decoder was trained on this "
                "recording)" if result.get("in_sample") else "Pseudo-online sweep")
        if m:
            binomial = m.get("binomial_trial_accuracy", float("nan"))
            needed = ("too few for p < 0.05" if binomial == float("inf") else
                      f"{binomial:.2f} needed for p < 0.05")
            detected = m["shuffled_detected_fraction"]
            detected_chance = (f"shuffled {detected:.2f}" if informative_chance(detected) else
                               f"chance {NOT_INFORMATIVE}: shuffled decisions detect every "
                               "cue")
        self.status.setText(
            f"{kind}: {result['n_windows']} windows; accuracy "
            f"{m['accuracy']:.2f} (chance: majority {m['majority_accuracy']:.2f}, shuffled "
            f"{m['shuffled_accuracy']:.2f}), nMCC {m['nmcc']:.2f} (shuffled "
            f"{m['shuffled_nmcc']:.2f}), trials {result['score'].trials_correct}/"
            f"{result['n_trials']} (shuffled {m['shuffled_trial_accuracy']:.2f}, {needed}), "
            f"ITR {m['itr_bits_per_min']:.2f} bits/min at one decision per window (shuffled "
            f"{m['shuffled_itr_bits_per_min']:.2f}), cues detected "
            f"{m['detected_fraction']:.2f} ({detected_chance})."
            if m else f"Swept {result['n_windows']} windows (no task events to score).")
        if result.get("in_sample"):
            self.in_sample.setText(result["in_sample"])
            self.in_sample.show()
        pix = QtGui.QPixmap()
        pix.loadFromData(base64.b64decode(result["timeline_png"]))
        self.timeline.setPixmap(pix.scaledToWidth(max(400, self.timeline.width() - 10)))
        self.last_sweep = result

