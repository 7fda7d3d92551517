"""Autopilot: drive the application through a short session by itself.

Used by ``make demo`` and the end-to-end GUI test. It works the views the way an operator
does (fills the forms, clicks the buttons) on the simulated amplifier:

patient & session -> signal check -> calibration run -> training -> online feedback run ->
report -> pseudo-online sweep of the calibration recording (Replay view),

saving a screenshot of each view when asked, and measuring the frame rate of the signal view
during the online run (frames drawn per second while decoding).
"""

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from .._logging import logger
from ..session.runs import COMPLETE
from .controller import MONTAGES, SIMULATED
from .signal import FrameRateMeter


@dataclass
class AutopilotConfig:
    """Settings of an autopilot session.

    Attributes
    ----------
    calibration_trials, online_trials : int
        Trials per class of the calibration and online runs.
    pipelines : tuple of str
        Pipelines trained and compared.
    screenshots : Path | None
        Folder for the screenshots.
    montage : str | None
        Simulated montage (default: the first of :data:`~bci_app.gui.controller.MONTAGES`).
    subject_id : str
    signal_check_s : float
        Seconds spent on the signal check view.
    timeout_s : float
        Give up after this long.
    """

    calibration_trials: int = 8
    online_trials: int = 4
    pipelines: tuple = ("MDM", "CSP+LDA")
    screenshots: Path | None = None
    montage: str | None = None
    subject_id: str = "DEMO"
    signal_check_s: float = 2.5
    timeout_s: float = 900.0
    sweep: bool = True
    shots: list = field(default_factory=list)


class Autopilot(QtCore.QObject):
    """Run a session in a :class:`~bci_app.gui.app.MainWindow`.

    Signals
    -------
    finished(int)
        Exit code: 0 when every step succeeded.

    Attributes
    ----------
    result : dict | None
        Where the recordings and the report are, scores, frame rate (after success).
    error : str | None
    """

    finished = QtCore.Signal(int)

    def __init__(self, window, config=None):
        super().__init__(window)
        self.win = window
        self.c = window.controller
        self.cfg = config or AutopilotConfig()
        self.result = None
        self.error = None
        self.screenshots = {}
        self.fps = None
        self._done = False
        self._t0 = None
        self._meter = None
        self._shot_online = False
        self._shot_calib = False
        app = QtWidgets.QApplication.instance()
        app.setProperty("bci_autopilot", True)
        self.c.error.connect(lambda title, text: self.fail(f"{title}: {text}"))
        self.c.sourceFailed.connect(lambda text: self.fail(f"amplifier: {text}"))
        self.c.trainingFailed.connect(lambda text: self.fail(f"training: {text}"))
        self._watchdog = QtCore.QTimer(self)
        self._watchdog.setSingleShot(True)
        self._watchdog.timeout.connect(lambda: self.fail(
            f"the session did not finish within {self.cfg.timeout_s:g} s"))

    # -- helpers --------------------------------------------------------------------------------
    def _wait(self, signal, then, timeout_s, what, predicate=None):
        timer = QtCore.QTimer(self)
        timer.setSingleShot(True)

        def cleanup():
            timer.stop()
            try:
                signal.disconnect(handler)
            except (RuntimeError, TypeError):
                pass

        def handler(*args):
            if self._done or (predicate is not None and not predicate(*args)):
                return
            cleanup()
            self._guard(then, *args)

        def expired():
            cleanup()
            self.fail(f"timed out after {timeout_s:g} s waiting for {what}")

        signal.connect(handler)
        timer.timeout.connect(expired)
        timer.start(int(timeout_s * 1000))

    def _later(self, seconds, then):
        QtCore.QTimer.singleShot(int(seconds * 1000), lambda: self._guard(then))

    def _guard(self, fn, *args):
        if self._done:
            return
        try:
            fn(*args)
        except Exception as exc:
            logger.exception("autopilot step failed")
            self.fail(str(exc))

    def shot(self, name, widget=None):
        """Save a screenshot of the main window (or ``widget``) as ``<name>.png``."""
        if self.cfg.screenshots is None:
            return None
        folder = Path(self.cfg.screenshots)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        QtWidgets.QApplication.processEvents()
        (widget or self.win).grab().save(str(path))
        self.screenshots[name] = str(path)
        return path

    def _say(self, text):
        logger.info("autopilot: %s", text)
        self.win.statusBar().showMessage(f"Autopilot: {text}")

    def fail(self, text):
        if self._done:
            return
        self._done = True
        self.error = text
        logger.error("autopilot: %s", text)
        self._stop()
        self.finished.emit(1)

    def _stop(self):
        self._watchdog.stop()
        QtWidgets.QApplication.instance().setProperty("bci_autopilot", False)
        try:
            self.c.shutdown()
        except Exception:  # already failing; keep the first error
            logger.exception("autopilot: shutdown")

    # -- the session ------------------------------------------------------------------------------
    def start(self):
        self._t0 = time.monotonic()
        self._watchdog.start(int(self.cfg.timeout_s * 1000))
        QtCore.QTimer.singleShot(0, lambda: self._guard(self.step_session))

    def step_session(self):
        self._say("creating the subject and the session")
        view = self.win.show_step("Patient & session")
        view.subject_id.setText(self.cfg.subject_id)
        view.age.setValue(57)
        view.side.setCurrentText("left")
        view.notes.setPlainText("Autopilot demonstration on the simulated amplifier.")
        view.save_subject_button.click()
        view.new_session_button.click()
        if self.c.session is None:
            raise RuntimeError("the session could not be created")
        view.stream_box.setCurrentIndex(view.stream_box.findData(SIMULATED))
        view.montage_box.setCurrentText(self.cfg.montage or next(iter(MONTAGES)))
        self._wait(self.c.sourceReady, self.step_signal, 30, "the simulated amplifier")
        view.connect_button.click()
        self.shot("1_patient_session")

    def step_signal(self, acq):
        self._say("checking the signal")
        self.win.show_step("Signal check")
        self._later(self.cfg.signal_check_s, self.step_calibration)

    def step_calibration(self):
        self.shot("2_signal_check")
        self._say("calibration run")
        view = self.win.show_step("Calibration")
        view.panel.select_protocol("left_right_hand")
        view.panel.trials.setValue(self.cfg.calibration_trials)
        self.win.patient.show_on(None, fullscreen=False)
        self.c.protocolEvent.connect(self._calibration_shots)
        proto = view.panel.protocol()
        self._wait(self.c.runFinished, self.step_training, proto.total_duration() + 60,
                   "the end of the calibration run")
        view.panel.start_button.click()

    def _calibration_shots(self, state, trial, label, ts):
        if state == "imagery" and not self._shot_calib and self.c.run is not None \
                and self.c.run.run_type == "calibration":
            self._shot_calib = True
            self.shot("3_calibration")
            self.shot("3_patient_cue", self.win.patient)
        if state == "imagery" and not self._shot_online and self.c.run is not None \
                and self.c.run.run_type == "online" and trial is not None and trial >= 1:
            # The feedback bar needs a few decisions: take the picture a little later.
            self._shot_online = True
            QtCore.QTimer.singleShot(700, self._online_shots)

    def _online_shots(self):
        if self._done:
            return
        self.shot("5_online")
        self.shot("5_patient_feedback", self.win.patient)

    def step_training(self, run):
        if run.status != COMPLETE:
            raise RuntimeError(f"the calibration run ended as {run.status}")
        self.calibration_run = run
        self._say("training and comparing decoders")
        view = self.win.show_step("Training")
        view.set_checked(self.cfg.pipelines)
        self._wait(self.c.trainingFinished, self.step_use_model, 600, "the training")
        view.train_button.click()

    def step_use_model(self, result):
        view = self.win.views["Training"]
        QtWidgets.QApplication.processEvents()
        self.shot("4_training")
        view.use_button.click()
        if self.c.trained is None:
            raise RuntimeError("no model could be selected after training")
        self.training = result
        self._say("online run with feedback")
        online = self.win.show_step("Online")
        online.panel.select_protocol("left_right_hand_online")
        online.panel.trials.setValue(self.cfg.online_trials)
        proto = online.panel.protocol()
        self._meter = FrameRateMeter(online.signal.traces)
        self.c.runStarted.connect(self._reset_meter)
        self._wait(self.c.runFinished, self.step_report, proto.total_duration() + 60,
                   "the end of the online run")
        online.panel.start_button.click()

    def _reset_meter(self, run):
        if self._meter is not None and run.run_type == "online":
            self._meter.reset()

    def step_report(self, run):
        if self._meter is not None:
            self.fps = self._meter.rates()
            self.fps["channels"] = len(self.c.acq.ch_names) if self.c.acq else None
        if run.status != COMPLETE:
            raise RuntimeError(f"the online run ended as {run.status}")
        self.online_run = run
        self.online_score = self.c.score
        self._say("writing the report")
        view = self.win.show_step("Report")
        self._wait(view.reportReady, self.step_replay, 120, "the report")
        view.create_button.click()

    def step_replay(self, path):
        self.report_path = Path(path)
        self.shot("6_report")
        if not self.cfg.sweep:
            self.step_done()
            return
        self._say("pseudo-online sweep of the calibration recording")
        view = self.win.show_step("Replay")
        view.file.setText(str(self.calibration_run.bids_path))
        self._wait(view._swept, lambda r: self._later(0.2, self.step_done), 120, "the sweep")
        view.sweep_button.click()

    def step_done(self):
        if self.cfg.sweep:
            self.shot("7_replay_sweep")
        summary = json.loads((self.report_path.parent / "report_summary.json").read_text())
        session = self.c.session
        self.result = {
            "recordings": str(self.c.store.root),
            "session": str(session.folder),
            "calibration_recording": str(self.calibration_run.bids_path),
            "online_recording": str(self.online_run.bids_path),
            "online_predictions": str(self.online_run.predictions_path),
            "online_log": str(Path(self.online_run.log_dir) / "predictions.csv"),
            "raw_recordings": [str(self.calibration_run.xdf_path),
                               str(self.online_run.xdf_path)],
            "session_log": str(session.log_path),
            "model": str(self.c.model_path),
            "report": str(self.report_path),
            "training_scores": self.training.scores,
            "online_scores": summary.get(str(self.online_run.index), {}),
            "live_trial_accuracy": self.online_score.trial_accuracy,
            "frame_rate": self.fps,
            "screenshots": self.screenshots,
            "duration_s": time.monotonic() - self._t0,
        }
        self._done = True
        self._stop()
        self.finished.emit(0)

    def summary_text(self):
        r = self.result
        scores = r["online_scores"]
        fps = r["frame_rate"] or {}
        lines = [
            "Autopilot session finished.",
            f"  recordings (BIDS):     {r['recordings']}",
            f"  session folder:        {r['session']}",
            f"  calibration recording: {r['calibration_recording']}",
            f"  online recording:      {r['online_recording']}",
            f"  online predictions:    {r['online_predictions']}",
            f"  raw recordings (XDF):  {Path(r['raw_recordings'][0]).parent}",
            f"  session log:           {r['session_log']}",
            f"  decoder:               {r['model']}",
            f"  report:                {r['report']}",
        ]
        if scores:
            lines.append(
                f"  online run: accuracy {scores['accuracy']:.2f} (chance: majority "
                f"{scores['majority_accuracy']:.2f}, shuffled {scores['shuffled_accuracy']:.2f})"
                f", nMCC {scores['nmcc']:.2f} (shuffled {scores['shuffled_nmcc']:.2f}), ITR "
                f"{scores['itr_bits_per_min']:.1f} bits/min (shuffled "
                f"{scores['shuffled_itr_bits_per_min']:.1f}), trials correct "
                f"{scores['trial_accuracy']:.2f} (majority "
                f"{scores['majority_trial_accuracy']:.2f})")
        if fps:
            lines.append(f"  signal view while decoding: {fps['paints_per_s']:.0f} frames/s "
                         f"({fps['channels']} channels)")
        if r["screenshots"]:
            lines.append(f"  screenshots:           "
                         f"{Path(next(iter(r['screenshots'].values()))).parent}")
        return "\n".join(lines)
