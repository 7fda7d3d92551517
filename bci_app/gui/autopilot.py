"""Autopilot: drive the application through a short clinical session by itself.

Used by ``make demo`` (``bci-app gui --autopilot``) and the end-to-end GUI test. It works
the views the way a therapist does (fills the forms, picks from the lists, clicks the
buttons) on the simulated amplifier:

patient (affected side) & session -> signal check -> calibration run(s) of the affected
hand vs rest -> training of the default model (:data:`bci_app.resources.DEFAULT_MODEL`,
other pipelines beside it for comparison) on today's calibration runs, chosen for online
runs -> online feedback run -> report (HTML and PDF) -> the patient's course
[-> pseudo-online sweep of the calibration recording in the Replay view],

saving a screenshot of each view when asked, and measuring the frame rate of the signal
view during the online run. At the end it adds what the session was (seed, simulated
subject, protocols, model, recordings, screenshots) to the session's ``summary.json``
(:mod:`bci_app.session.course`), beside the report whose scores it holds.

Reproducibility: the seed (:class:`~bci_app.gui.autopilot_config.AutopilotConfig`) sets the
simulated amplifier's random generator and each run's trial schedule (order of the trials,
rests between them). The schedules are the same from one session to the next; the EEG is
not sample for sample: the amplifier streams in real time from the moment it is connected,
and the sample at which each run starts depends on how long the steps before it took.
"""

import math
import time
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from .._logging import logger
from ..resources import DEFAULT_MODEL
from ..session.course import read_summary, summary_path, write_summary
from ..session.runs import COMPLETE
from .autopilot_config import AutopilotConfig
from .controller import MONTAGES, SIMULATED
from .signal import FrameRateMeter

__all__ = ["Autopilot", "AutopilotConfig"]

#: Who runs an autopilot session, as its record and report say.
OPERATOR = "bci-app autopilot (demonstration)"

#: Seconds into an online imagery period of the affected hand at which the feedback is
#: photographed (the decoder needs about a window and the onset of the desynchronisation).
_FEEDBACK_SHOT_S = 2.5


class Autopilot(QtCore.QObject):
    """Run a session in a :class:`~bci_app.gui.app.MainWindow`.

    Parameters
    ----------
    window : MainWindow
        Made with the settings' time scale, decoder window and shortest imagery
        (:func:`bci_app.gui.app.create_window`).
    config : AutopilotConfig | None

    Signals
    -------
    finished(int)
        Exit code: 0 when every step succeeded.

    Attributes
    ----------
    result : dict | None
        Where the recordings and the report are, scores, frame rate (after success).
    summary : dict | None
        The session's ``summary.json`` as written at the end (after success).
    error : str | None
    """

    finished = QtCore.Signal(int)

    def __init__(self, window, config=None):
        super().__init__(window)
        self.win = window
        self.c = window.controller
        self.cfg = config or AutopilotConfig()
        self.result = None
        self.summary = None
        self.error = None
        self.screenshots = {}
        self.fps = None
        self.calibration_runs = []
        self.online_run = None
        self.online_score = None
        self.training = None
        self.model_name = None
        self.report_path = None
        self._done = False
        self._t0 = None
        self._meter = None
        self._shot_online = False
        self._shot_calib = False
        app = QtWidgets.QApplication.instance()
        app.setProperty("bci_autopilot", True)
        # Set before the amplifier is connected: its signal and the runs' schedules.
        self.c.seed = int(self.cfg.seed)
        self.c.error.connect(lambda title, text: self.fail(f"{title}: {text}"))
        self.c.sourceFailed.connect(lambda text: self.fail(f"amplifier: {text}"))
        self.c.trainingFailed.connect(lambda text: self.fail(f"training: {text}"))
        self._watchdog = QtCore.QTimer(self)
        self._watchdog.setSingleShot(True)
        self._watchdog.timeout.connect(lambda: self.fail(
            f"the session did not finish within {self.cfg.timeout_s:g} s"))
        # An error a view shows (a dialog for a therapist, the log for the autopilot:
        # bci_app.gui.views.common.show_error) ends the session at once.
        self._errors = QtCore.QTimer(self)
        self._errors.setInterval(200)
        self._errors.timeout.connect(self._check_shown_error)

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

    def _when(self, predicate, then, timeout_s, what, every_s=0.1):
        """Call ``then()`` once ``predicate()`` is true (checked every ``every_s``)."""
        deadline = time.monotonic() + timeout_s

        def check():
            if predicate():
                then()
            elif time.monotonic() > deadline:
                self.fail(f"timed out after {timeout_s:g} s waiting for {what}")
            else:
                self._later(every_s, check)

        self._guard(check)

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

    def _check_shown_error(self):
        shown = QtWidgets.QApplication.instance().property("bci_last_error")
        if shown:
            self.fail(str(shown))

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
        self._errors.stop()
        QtWidgets.QApplication.instance().setProperty("bci_autopilot", False)
        try:
            self.c.shutdown()
        except Exception:  # already failing; keep the first error
            logger.exception("autopilot: shutdown")

    @property
    def hand(self):
        """The affected hand's class (``"left_hand"``/``"right_hand"``)."""
        return f"{self.cfg.affected_side}_hand"

    def _choose_protocol(self, panel, name, trials):
        """Pick protocol ``name`` in a run panel, set its length; the protocol as it will
        run (checked: it cues the affected hand against rest)."""
        panel.select_protocol(name)
        if panel.protocol_box.currentData() != name:
            raise RuntimeError(f"protocol {name!r} is not in the list of {panel.run_type} "
                               "protocols (protocols/)")
        panel.trials.setValue(int(trials))
        proto = panel.protocol()
        if self.hand not in proto.classes:
            raise RuntimeError(f"protocol {name!r} cues {', '.join(proto.classes)}, not the "
                               f"affected hand ({self.hand})")
        return proto

    # -- the session ------------------------------------------------------------------------------
    def start(self):
        self._t0 = time.monotonic()
        QtWidgets.QApplication.instance().setProperty("bci_last_error", None)
        self._watchdog.start(int(self.cfg.timeout_s * 1000))
        self._errors.start()
        QtCore.QTimer.singleShot(0, lambda: self._guard(self.step_session))

    def step_session(self):
        self._say("creating the patient and the session")
        view = self.win.show_step("Patient & session")
        view.subject_id.setText(self.cfg.subject_id)
        view.age.setValue(int(self.cfg.age))
        view.side.setCurrentText(self.cfg.affected_side)
        view.notes.setPlainText("Autopilot demonstration on the simulated amplifier "
                                f"(seed {self.cfg.seed}).")
        view.save_subject_button.click()
        view.operator.setText(OPERATOR)  # as a therapist types their name
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
        if not self.calibration_runs:
            self.shot("2_signal_check")
        number = len(self.calibration_runs) + 1
        self._say(f"calibration run {number} of {self.cfg.calibration_runs}")
        view = self.win.show_step("Calibration")
        proto = self._choose_protocol(view.panel, self.cfg.calibration_protocol,
                                      self.cfg.calibration_trials)
        self.win.patient.show_on(None, fullscreen=False)
        if number == 1:
            self.c.protocolEvent.connect(self._protocol_shots)
        self._wait(self.c.runFinished, self._calibration_done, proto.total_duration() + 60,
                   "the end of the calibration run")
        view.panel.start_button.click()

    def _calibration_done(self, run):
        if run.status != COMPLETE:
            raise RuntimeError(f"calibration run {run.index} ended as {run.status}")
        self.calibration_runs.append(run)
        if len(self.calibration_runs) < self.cfg.calibration_runs:
            self.step_calibration()
        else:
            self.step_training()

    def _protocol_shots(self, state, trial, label, ts):
        run = self.c.run
        if state != "imagery" or label != self.hand or run is None or self._done:
            return
        if not self._shot_calib and run.run_type == "calibration":
            self._shot_calib = True
            self.shot("3_calibration")
            self.shot("3_patient_cue", self.win.patient)
        if not self._shot_online and run.run_type == "online":
            # The feedback needs the decoder to see the imagery: a little later.
            self._shot_online = True
            QtCore.QTimer.singleShot(int(_FEEDBACK_SHOT_S * 1000), self._online_shots)

    def _online_shots(self):
        if self._done:
            return
        self.shot("5_online")
        self.shot("5_patient_feedback", self.win.patient)

    def step_training(self):
        self._say("training the default model and comparing it")
        view = self.win.show_step("Training")
        self._when(lambda: bool(view.specs), lambda: self._train(view), 120,
                   "the pipeline files to be read")

    def _train(self, view):
        default = [s for s in view.specs.values() if s.path.stem == DEFAULT_MODEL]
        if not default:
            raise RuntimeError(f"the default model {DEFAULT_MODEL!r} is not among the "
                               f"pipeline files ({', '.join(sorted(view.specs))})")
        self.model_name = default[0].name
        unknown = [n for n in self.cfg.compare if n not in view.specs]
        if unknown:
            raise RuntimeError(f"no pipeline named {', '.join(unknown)} to compare with "
                               f"(there: {', '.join(sorted(view.specs))})")
        view.set_checked([self.model_name] + [n for n in self.cfg.compare
                                              if n != self.model_name])
        view.set_runs([r.index for r in self.calibration_runs])
        # Today's runs only, in every session of the patient (the view offers training
        # with the earlier sessions from the second one on): the same decoder each time.
        if not view.today_only.isChecked():
            view.today_only.click()
        self._wait(self.c.trainingFinished, self.step_use_model, 600, "the training")
        view.train_button.click()

    def step_use_model(self, result):
        view = self.win.views["Training"]
        rows = [r for r in range(view.table.rowCount())
                if view.table.item(r, 0).text() == self.model_name]
        if not rows:
            raise RuntimeError(f"the default model {self.model_name} is not in the scores")
        view.table.selectRow(rows[0])
        QtWidgets.QApplication.processEvents()
        self.shot("4_training")
        view.use_button.click()
        if self.c.trained is None or self.c.trained.name != self.model_name:
            raise RuntimeError(f"the default model {self.model_name} could not be selected "
                               "for the online run")
        self.training = result
        self._say(f"online run with feedback ({self.model_name})")
        online = self.win.show_step("Online")
        proto = self._choose_protocol(online.panel, self.cfg.online_protocol,
                                      self.cfg.online_trials)
        self._meter = FrameRateMeter(online.signal.traces)
        self.c.runStarted.connect(self._reset_meter)
        # + the decoder's process start and the saving of the recording
        self._wait(self.c.runFinished, self.step_report, proto.total_duration() + 120,
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
        self._wait(view.reportReady, self.step_course, 120, "the report")
        view.create_button.click()

    def step_course(self, path):
        self.report_path = Path(path)
        if not self.report_path.with_suffix(".pdf").is_file():
            raise RuntimeError(f"the report's PDF was not written beside {path}")
        self.shot("6_report")
        if not self.cfg.course:
            self.step_replay()
            return
        self._say("the patient's course")
        view = self.win.show_step("Patient course")
        self._wait(view.loaded, lambda table: self._later(0.2, self._course_done), 60,
                   "the patient's course")
        view.refresh_button.click()

    def _course_done(self):
        self.shot("7_course")
        self.step_replay()

    def step_replay(self):
        if not self.cfg.sweep:
            self.step_done()
            return
        self._say("pseudo-online sweep of the calibration recording")
        view = self.win.show_step("Replay")
        view.file.setText(str(self.calibration_runs[0].bids_path))
        self._wait(view._swept, lambda r: self._later(0.2, self._swept), 120, "the sweep")
        view.sweep_button.click()

    def _swept(self):
        self.shot("8_replay_sweep")
        self.step_done()

    def step_done(self):
        session = self.c.session
        duration = time.monotonic() - self._t0
        runs = self.calibration_runs + [self.online_run]
        self.result = {
            "recordings": str(self.c.store.root),
            "session": str(session.folder),
            "calibration_recording": str(self.calibration_runs[0].bids_path),
            "calibration_recordings": [str(r.bids_path) for r in self.calibration_runs],
            "online_recording": str(self.online_run.bids_path),
            "online_predictions": str(self.online_run.predictions_path),
            "online_log": str(Path(self.online_run.log_dir) / "predictions.csv"),
            "raw_recordings": [str(r.xdf_path) for r in runs],
            "session_log": str(session.log_path),
            "model": str(self.c.model_path),
            "model_name": self.model_name,
            "report": str(self.report_path),
            "pdf": str(self.report_path.with_suffix(".pdf")),
            "summary": str(summary_path(session)),
            "training_scores": self.training.scores,
            "live_trial_accuracy": self.online_score.trial_accuracy,
            "frame_rate": self.fps,
            "screenshots": self.screenshots,
            "duration_s": duration,
        }
        self.summary = self._write_summary(session, runs, duration)
        self.result["scores"] = self.summary["scores"]
        self._done = True
        self._stop()
        self.finished.emit(0)

    def _write_summary(self, session, runs, duration):
        """Add the autopilot's settings and files to the session's ``summary.json`` (the
        report wrote it, with the scores of the online run and their chance levels)."""
        summary = read_summary(summary_path(session))
        amp = self.c.amplifier
        cfg = self.cfg
        summary["paths"].update({k: v for k, v in {
            "recordings": self.result["recordings"], "session": self.result["session"],
            "session_log": self.result["session_log"], "model": self.result["model"],
            "screenshots": str(cfg.screenshots) if cfg.screenshots else None}.items() if v})
        summary["autopilot"] = {
            "seed": int(cfg.seed),
            "simulated_subject": {"skill": getattr(amp, "skill", None),
                                  "affected_side": cfg.affected_side,
                                  "channels": len(amp.ch_names) if amp else None,
                                  "sfreq": getattr(amp, "sfreq", None)},
            "model": {"name": self.model_name, "default_model": DEFAULT_MODEL,
                      "file": self.result["model"],
                      "compared": sorted(s["pipeline"] for s in self.training.scores
                                         if s["pipeline"] != self.model_name)},
            "settings": {"time_scale": cfg.time_scale, "min_imagery_s": cfg.min_imagery_s,
                         "window_s": cfg.window_s,
                         "calibration_trials_per_class": cfg.calibration_trials,
                         "online_trials_per_class": cfg.online_trials},
            "runs": [{"run": r.index, "type": r.run_type, "protocol": r.protocol,
                      "classes": list(r.classes or ()), "schedule_seed": r.seed,
                      "status": r.status, "bids": str(r.bids_path), "xdf": str(r.xdf_path)}
                     for r in runs],
            "screenshots": dict(self.screenshots),
            "duration_s": round(duration, 1),
            "reproducible": "the trial schedules (seeded); the EEG is the seeded generator's "
                            "but starts at a sample that depends on real time, so the "
                            "scores vary from one session to the next",
        }
        write_summary(session, summary)
        return summary

    def score_line(self):
        """The online run's scores, each with its chance level (the last line printed)."""
        s = self.summary["scores"]

        def f(key, digits=2):
            value = s.get(key)
            return "n/a" if value is None else f"{value:.{digits}f}"

        # A binomial level no accuracy reaches (too few trials) is stored as null.
        binomial = s.get("binomial_trial_accuracy")
        binomial = ("binomial: too few trials for p<0.05" if binomial is None
                    or not math.isfinite(binomial) else f"{binomial:.2f} needed for p<0.05")
        return (f"online run ({self.model_name}, {self.hand.replace('_', ' ')} vs rest, "
                f"{self.summary['n_trials'].get('online', 0)} trials): trial accuracy "
                f"{f('trial_accuracy')} (chance: majority {f('majority_trial_accuracy')}, "
                f"shuffled {f('shuffled_trial_accuracy')}; {binomial}), nMCC {f('nmcc')} "
                "(chance: "
                f"shuffled {f('shuffled_nmcc')}), ITR {f('itr_bits_per_min', 1)} bits/min "
                f"(chance: shuffled {f('shuffled_itr_bits_per_min', 1)})")

    def summary_text(self):
        r = self.result
        fps = r["frame_rate"] or {}
        lines = [
            "Autopilot session finished "
            f"({r['duration_s']:.0f} s, seed {self.cfg.seed}).",
            f"  recordings (BIDS):     {r['recordings']}",
            f"  session folder:        {r['session']}",
            f"  calibration recording: {', '.join(r['calibration_recordings'])}",
            f"  online recording:      {r['online_recording']}",
            f"  online predictions:    {r['online_predictions']}",
            f"  raw recordings (XDF):  {Path(r['raw_recordings'][0]).parent}",
            f"  session log:           {r['session_log']}",
            f"  decoder:               {r['model']}",
            f"  report:                {r['report']} (and .pdf)",
            f"  summary:               {r['summary']}",
        ]
        if fps:
            lines.append(f"  signal view while decoding: {fps['paints_per_s']:.0f} frames/s "
                         f"({fps['channels']} channels)")
        if r["screenshots"]:
            lines.append(f"  screenshots:           "
                         f"{Path(next(iter(r['screenshots'].values()))).parent}")
        lines.append(self.score_line())
        return "\n".join(lines)
