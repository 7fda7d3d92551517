"""The session controller: owns the streams, threads and runs; the views only show its state.

Threads (none of them touches a widget):

* the **acquisition** thread (:class:`Acquisition`) reads the EEG stream
  (:class:`~bci_app.acquisition.stream.EEGInput`: volts, loss detection, auto-reconnect)
  and fills the ring buffers of the displays (display only: runs are recorded by
  LabRecorder, see below);
* each run is carried out by a :class:`~bci_app.session.orchestrator.RunOrchestrator`, the
  one used by ``bci-app session`` too (protocol runner, simulator follower, online decoder,
  LabRecorder, conversion to BIDS); it starts on a **run start** thread and is saved on a
  **run finaliser** thread at its end (stopping LabRecorder and converting take a few
  seconds); the **protocol runner**'s thread sends the markers of a run;
* at start-up, a **recovery** thread converts the runs a crash interrupted;
* during online runs, the **online decoder**'s worker
  (:class:`~bci_app.online.live.OnlineDecoder`) decodes its own inlet on the same stream,
  in its own process (:class:`~bci_app.online.process.DecoderProcess`); that process is
  started ahead, as soon as a model is selected and after each run is saved, so that it has
  loaded its libraries and the model before the next online run (which hands it its
  streams); another model selected discards it (:meth:`SessionController.select_model`);
* **training** runs on a worker thread with a cancel flag;
* the patient's **earlier sessions** are read on a worker thread when a session opens, a
  run ends or the source changes (:meth:`SessionController.refresh_continuation`: which
  can be sources for today, the proposed calibration length;
  :mod:`bci_app.session.continuation`);
* the **simulated amplifier** or a **replay** publishes the EEG when chosen as the source.

Every callback from these threads is forwarded to the GUI thread through Qt signals of the
controller (queued connections: the controller lives in the GUI thread).

While a run starts, records or is being saved (:attr:`SessionController.busy`), whatever
would end it or move it is refused (:meth:`SessionController.refuse_during_run`: another
session, another source, a replay, training) and :attr:`SessionController.busyChanged` lets
the views disable those buttons. Whether a run may be recorded at all (a replay, the
subject's affected side, the decoder's classes, no signal) is decided by the run's
orchestrator (:meth:`~bci_app.session.orchestrator.RunOrchestrator.check`), as for
``bci-app session``.
"""

import threading
import time
import uuid
from pathlib import Path

from PySide6 import QtCore

from .._logging import logger
from ..acquisition.montages import MONTAGES, montage_channels
from ..acquisition.stream import CONNECTED
from ..acquisition.stream_format import is_replay
from ..errors import BCIAppError, DataError, StreamError
from ..evaluation.scoring import LiveScorer, RunScore, decidable_labels
from ..online.monitor import Acquisition
from ..session.runs import SAVING
from ..session.store import RecordingStore

#: Name shown for the built-in simulated amplifier in the stream list.
SIMULATED = "Simulated amplifier"

#: Skill of the simulated amplifier's subject, in [0, 1]: how deep its imagery ERD is.
SIMULATED_SKILL = 0.9

#: For a real amplifier the channel names come from the stream.
AMPLIFIER_MONTAGE = "As sent by the amplifier (standard 10-05 names)"


#: The running score of an online run (window and trial counts, accuracies, metrics).
LiveScore = RunScore


class SessionController(QtCore.QObject):
    """State of one application session: subject, source, runs, models.

    Parameters
    ----------
    root : str | Path
        Folder of the session store.
    models_dir : str | Path | None
        Folder of pipeline files (default: the shipped models plus the user's own,
        see :mod:`bci_app.resources`).
    """

    statusChanged = QtCore.Signal(str, str)       # stream status, message
    sourceReady = QtCore.Signal(object)           # Acquisition
    sourceFailed = QtCore.Signal(str)
    sessionChanged = QtCore.Signal(object)        # bci_app.session.Session
    protocolEvent = QtCore.Signal(str, object, object, float)  # state, trial, label, ts
    runStarted = QtCore.Signal(object)            # RunInfo
    runSaving = QtCore.Signal(object)             # RunInfo (recording being stopped/converted)
    runFinished = QtCore.Signal(object)           # RunInfo (recording saved as BIDS)
    recovered = QtCore.Signal(object)             # list of Recovered (interrupted runs)
    predictions = QtCore.Signal(object)           # Predictions
    scoreChanged = QtCore.Signal(object)          # LiveScore
    trainingProgress = QtCore.Signal(int, int, str)
    trainingFinished = QtCore.Signal(object)      # TrainingResult
    trainingFailed = QtCore.Signal(str)
    modelChanged = QtCore.Signal(object)          # Path | None
    continuationChanged = QtCore.Signal(object)   # ContinuationPlan | None (see the text)
    error = QtCore.Signal(str, str)               # title, message
    busyChanged = QtCore.Signal(bool)             # a run starts/records/is saved, or none
    _runSaved = QtCore.Signal(object, object)     # RunInfo, list of error texts (internal)
    _planned = QtCore.Signal(object, object, int)  # session, plan | error text, request
    _recordingFault = QtCore.Signal(object, str)  # RunOrchestrator, text (internal)

    def __init__(self, root="recordings", models_dir=None, parent=None):
        super().__init__(parent)
        #: Seed of the simulated amplifier's signal and of the runs' trial schedules (set it
        #: before connecting the source); None: new ones every time.
        self.seed = None
        self.store = RecordingStore(root)
        self.models_dir = Path(models_dir) if models_dir else None  # None: shipped + user's
        self.session = None
        self.acq = None
        self.amplifier = None
        self.replay = None
        self.source_name = None
        self.montage = None
        self.bad_channels = []
        self._site_eeg = None  # the site's EEG defaults (read once per session opened)
        self.active = None  # the run in progress (RunOrchestrator)
        self._finalisers = []
        self._recovery = None
        self._start_thread = None
        self.protocol = None
        self.model_path = None
        self.trained = None
        self.decoder_ahead = None  # DecoderProcess prepared for `trained`, for the next run
        self._closing = False  # shutdown() called: nothing new is started
        self.training_result = None
        self.score = LiveScore()
        self.run_predictions = []
        self._scorer = None
        self._score_runner = None
        self._score_final = False
        self._training = None  # TrainingJob
        self.continuation = None  # ContinuationPlan of the open session (latest read)
        self.continuation_error = None  # why the earlier sessions could not be read
        self._plan_request = 0  # the latest continuation asked for (older ones are dropped)
        self._starting = False
        self._saving = set()  # numbers of the runs being saved (GUI thread)
        self._busy = False
        tag = uuid.uuid4().hex[:6]
        self.stream_prefix = f"bci-app-{tag}"  # of the runs' marker and prediction streams
        self.sim_name = f"bci-app-sim-{tag}"
        self.protocolEvent.connect(self._on_protocol_event)
        self.predictions.connect(self._on_predictions)
        self._runSaved.connect(self._on_run_saved)
        self._recordingFault.connect(self._on_recording_fault)
        # Emitted by the run start thread: the busy state is updated in the GUI thread.
        self.runStarted.connect(lambda run: self._update_busy())
        self.error.connect(lambda title, text: self._update_busy())
        # Today's runs, channels and bad channels change which earlier sessions fit.
        self._planned.connect(self._on_planned)
        self.runFinished.connect(lambda run: self.refresh_continuation())
        self.sourceReady.connect(lambda acq: self.refresh_continuation())

    # -- recovery -----------------------------------------------------------------------------
    def start_recovery(self):
        """Recover the runs a crash interrupted (orphan recorders stopped, runs converted to
        BIDS) on a thread; :attr:`recovered` follows with the list (possibly empty)."""
        def work():
            try:
                items = self.store.recover()
            except Exception as exc:
                logger.exception("recovery failed")
                self.error.emit("Interrupted runs could not be recovered", str(exc))
                items = []
            for item in items:
                logger.warning("recovered an interrupted run: %s -> %s%s", item.xdf_path,
                               item.bids_path, f" (error: {item.error})" if item.error else "")
            self.recovered.emit(items)

        self._recovery = threading.Thread(target=work, daemon=True, name="bci-app-recovery")
        self._recovery.start()
        return self._recovery

    def wait_recovery(self, timeout=None):
        if self._recovery is not None:
            self._recovery.join(timeout)

    # -- subject & session --------------------------------------------------------------------
    def save_subject(self, subject, **fields):
        """Create or change a subject (:meth:`bci_app.session.RecordingStore.save_subject`)."""
        return self.store.save_subject(subject, **fields)

    def new_session(self, subject_id):
        self.refuse_during_run("Opening a new session")
        self.set_session(self.store.new_session(subject_id))
        return self.session

    def open_session(self, subject_id, label):
        self.refuse_during_run("Opening another session")
        self.set_session(self.store.open_session(subject_id, label, create=False))
        return self.session

    def resolve_protocol(self, name):
        """The protocol ``name`` as a run of the open session's subject runs it (their
        affected side: :func:`bci_app.session.orchestrator.resolve_protocol`)."""
        from ..session.orchestrator import resolve_protocol, subject_hand

        return resolve_protocol(name, subject_hand(self.session) if self.session else None)

    def set_session(self, session):
        self.session = session
        self.bad_channels = list(session.meta.get("bad_channels") or [])
        self._site_eeg = None
        self.model_path = None
        self.trained = None
        self.prepare_decoder()  # no model: the one prepared for the last session ends
        model = session.meta.get("model")
        if model and Path(model).is_file():
            self.select_model(model)
        self.continuation = self.continuation_error = None
        self.sessionChanged.emit(session)
        self.refresh_continuation()

    # -- source -------------------------------------------------------------------------------
    def list_streams(self, timeout=1.0):
        """EEG streams on the network (``StreamDescription``), the simulator excluded."""
        from ..acquisition.lsl import list_streams

        return [d for d in list_streams(timeout=timeout, stype="eeg")
                if d.name != self.sim_name]

    def open_source(self, stream, montage=None):
        """Start reading a source: :data:`SIMULATED` or the name of an LSL EEG stream.

        Connection happens on the acquisition thread; :attr:`sourceReady` or
        :attr:`sourceFailed` follows.
        """
        from ..acquisition.stream import EEGInput

        self.refuse_during_run("Connecting another source", saving=True)
        self.close_source()
        self.source_name, self.montage = stream, montage
        if stream == SIMULATED:
            from ..acquisition.simulator import SimulatedAmplifier

            chans = montage_channels(montage or next(iter(MONTAGES)))
            # The simulated subject follows the protocol runner directly (the run's
            # orchestrator subscribes it): no marker stream to connect to between runs.
            self.amplifier = SimulatedAmplifier(name=self.sim_name, ch_names=chans,
                                                skill=SIMULATED_SKILL, seed=self.seed)
            self.amplifier.start()
            name = self.sim_name
        else:
            name = stream
        eeg = EEGInput(name, stype=None if stream != SIMULATED else "eeg", timeout=5.0,
                       bufsize=5.0)
        self.acq = Acquisition(eeg, on_status=self._status_from_thread,
                               on_ready=lambda acq: self.sourceReady.emit(acq),
                               on_error=lambda exc: self.sourceFailed.emit(str(exc)))
        self.acq.start()
        if self.session is not None:
            self.session.update(stream=stream, montage=montage)
            self.session.log("source", stream=stream, montage=montage)
        return self.acq

    def open_replay(self, path, event_map=None):
        """Replay a recording in real time as the source (same views as a live stream)."""
        from ..acquisition.replay import Replay, read_recording

        self.refuse_during_run("Replaying a recording", saving=True)
        raw = read_recording(path, event_map)  # BIDS runs with their events
        self.close_source()
        self.replay = Replay(raw, name=f"bci-app-replay-{uuid.uuid4().hex[:6]}")
        self.replay.path = Path(path)
        self.replay.start()
        self.source_name = self.replay.name
        from ..acquisition.stream import EEGInput

        eeg = EEGInput(self.replay.name, stype=None, timeout=5.0, bufsize=5.0)
        self.acq = Acquisition(eeg, on_status=self._status_from_thread,
                               on_ready=lambda acq: self.sourceReady.emit(acq),
                               on_error=lambda exc: self.sourceFailed.emit(str(exc)))
        self.acq.start()
        return self.replay

    def close_source(self):
        if self.run is not None:
            self.abort_run()
        if self.acq is not None:
            self.acq.stop()
            self.acq = None
        if self.amplifier is not None:
            self.amplifier.stop()
            self.amplifier = None
        if self.replay is not None:
            self.replay.stop()
            self.replay = None

    def _status_from_thread(self, event):
        self.statusChanged.emit(event.status, event.message)

    def set_display_filter(self, spec):
        if self.acq is not None:
            self.acq.set_display_filter(spec)

    def mains_frequencies(self):
        """Where the channel quality looks for line noise, Hz: the power-line frequency of
        the settings (the session's EEG settings, else the site's:
        :func:`bci_app.session.site.resolve_eeg`), or both 50 and 60 Hz when they do not
        say it.

        Returns
        -------
        freqs : tuple of float
        """
        from ..session.site import LINE_FREQUENCIES, read_site_settings, resolve_eeg

        if self._site_eeg is None:
            try:
                self._site_eeg = read_site_settings().eeg_defaults()
            except BCIAppError as exc:  # said when a recording needs them; here: unknown
                logger.warning("site settings: %s", exc)
                self._site_eeg = {}
        session = self.session.eeg_settings if self.session is not None else None
        hz = resolve_eeg(session, None, self._site_eeg)["line_freq"]
        return (hz,) if hz else tuple(LINE_FREQUENCIES)

    def set_bad_channels(self, bad):
        self.bad_channels = list(bad)
        if self.session is not None:
            self.session.update(bad_channels=self.bad_channels)
            self.session.log("bad_channels", channels=self.bad_channels)
            self.refresh_continuation()

    # -- runs -----------------------------------------------------------------------------------
    @property
    def is_running(self):
        """True from the start of a run (streams and recorder starting) to its end."""
        return self.active is not None or self._starting

    @property
    def busy(self):
        """True while a run starts, records, or is being saved (until :attr:`runFinished`)."""
        return self.is_running or bool(self._saving)

    def _update_busy(self):
        """Emit :attr:`busyChanged` when :attr:`busy` changes (GUI thread)."""
        if self.busy != self._busy:
            self._busy = self.busy
            self.busyChanged.emit(self._busy)

    def refuse_during_run(self, action, saving=False):
        """Refuse ``action`` while a run is in progress (and, with ``saving``, while the last
        one is being saved): it would end the run or move it to another session.

        Raises
        ------
        BCIAppError
            Saying what to do.
        """
        if self.is_running:
            run = self.run
            what = f"run {run.index}" if run is not None else "a run"
            raise BCIAppError(f"{action} is not possible while {what} is being recorded: it "
                              "would stop the run or move it to another session. Stop the "
                              "run first ('Stop run'), or wait until it ends.")
        if saving and self._saving:
            raise BCIAppError(f"{action} must wait a few seconds: the last run's recording "
                              "is being saved (stopping the recorder, converting to BIDS).")

    @property
    def run(self):
        """The record of the run in progress (RunInfo), or None."""
        return self.active.info if self.active is not None else None

    @property
    def runner(self):
        """The protocol runner of the run in progress, or None."""
        return self.active.runner if self.active is not None else None

    @property
    def recorder(self):
        """The recorder of the run in progress, or None."""
        return self.active.recorder if self.active is not None else None

    @property
    def online(self):
        """The online decoder of the run in progress, or None."""
        return self.active.decoder if self.active is not None else None

    def start_run(self, protocol, model_path=None, on_started=None):
        """Start a calibration or online run of ``protocol`` (a validated Protocol).

        The run is carried out by a :class:`~bci_app.session.orchestrator.RunOrchestrator`;
        its streams and recorder (LabRecorder) start on a helper thread (a few seconds):
        :attr:`runStarted` or :attr:`error` follows.
        """
        from ..session.orchestrator import RunOrchestrator

        if self.session is None:
            raise BCIAppError("No session is open: create or open one in 'Patient & "
                              "session' first.")
        if self.acq is None or self.acq.sfreq is None:
            raise StreamError("No signal: choose the amplifier stream in 'Patient & "
                              "session' and wait for the traces in 'Signal check'.")
        if self.active is not None or self._starting:
            raise BCIAppError("A run is already in progress: stop it first.")
        online = protocol.run_type == "online"
        if online and self.trained is None:
            raise BCIAppError("No decoder selected: train one (step 'Training') or pick a "
                              "saved model before an online run.")
        # Refused here, before anything starts, if it must not be recorded (a replay, the
        # other hand than the subject's, a decoder of other classes, no signal).
        orch = RunOrchestrator(
            self.session, protocol, self._eeg_source(),
            trained=self.trained if online else None, model_path=self.model_path,
            seed=self.run_seed(), stream_prefix=self.stream_prefix,
            on_event=lambda s, t, lab, ts: self.protocolEvent.emit(s, t, lab, ts),
            decoder_process=self.decoder_ahead if online else None)
        if online:  # the run owns it now
            self.decoder_ahead = None
        orch.on_predictions = self._forwarder(orch)
        orch.on_fault = lambda text: self._recordingFault.emit(orch, text)
        orch.on_decoder_status = self._decoder_status
        self.protocol = protocol
        self._start_score(orch.runner, orch.windowed)
        self._starting = True
        self._update_busy()
        self._start_thread = threading.Thread(target=self._start_run_thread, args=(orch,),
                                              daemon=True, name="bci-app-run-start")
        self._start_thread.start()
        return orch.info

    def run_seed(self):
        """The trial schedule's seed of the next run of the open session: :attr:`seed` and
        the run's number (None without :attr:`seed`: the protocol's own, or a new one)."""
        if self.seed is None or self.session is None:
            return None
        return (int(self.seed) * 1000 + self.session.next_run()) % 2**32

    def _eeg_source(self):
        """The EEG to record (EEGSource): the acquisition's stream, and its amplifier."""
        from ..session.orchestrator import simulated_source, stream_source

        desc = self.acq.eeg.description
        details = {"sfreq": self.acq.sfreq, "n_channels": len(self.acq.ch_names),
                   "channels": list(self.acq.ch_names), "montage": self.montage}
        replay = None
        if self.replay is not None:
            replay = str(self.replay.path)
        elif self.acq.eeg.stream is not None and is_replay(self.acq.eeg.stream):
            replay = f"the stream's description says 'replayed' ({desc.name})"
        source = stream_source(desc, replay=replay, signal=self._signal_problem, **details)
        if self.amplifier is not None:
            sim = simulated_source(self.amplifier, **details)
            source.simulator, source.amplifier = self.amplifier, {**source.amplifier,
                                                                  **sim.amplifier}
        return source

    def _signal_problem(self):
        """Why no EEG arrives now (the acquisition's state), or None."""
        acq = self.acq
        if acq is None:
            return "no source is connected"
        status = acq.eeg.status
        if status == CONNECTED:
            return None
        return {"lost": "the stream is lost: no sample arrives"}.get(status,
                                                                      f"the stream is {status}")

    def _start_run_thread(self, orch):
        try:
            orch.start()
        except Exception as exc:
            logger.exception("run start failed")
            self._starting = False
            self.error.emit("The run could not start", str(exc))
            return
        self.active = orch
        self._starting = False
        self.runStarted.emit(orch.info)

    def _forwarder(self, orch):
        """The run's decisions -> :attr:`predictions`, while that run is the one scored."""
        def forward(pred):
            if self._score_runner is orch.runner:
                self.predictions.emit(pred)

        return forward

    def _decoder_status(self, event):
        if event.status == "closed" and "error" in event.message:
            self.error.emit("Decoding stopped", event.message)

    def pause_run(self):
        if self.active is not None:
            self.active.pause()

    def resume_run(self):
        if self.active is not None:
            self.active.resume()

    def abort_run(self):
        """Stop the run now; the recording is kept (status ``aborted``)."""
        if self.active is not None:
            self.active.abort()
            self._finish_run()

    def _on_recording_fault(self, orch, text):
        """The recording failed mid-run: the protocol has stopped; save the run."""
        self.error.emit("The recording stopped", f"Run {orch.info.index}: {text} The run was "
                        "stopped; what was recorded is kept.")
        if self.active is orch:
            self._finish_run()

    def _on_protocol_event(self, state, trial, label, ts):
        if state in ("end", "aborted"):
            self._score_final = True
            if self._scorer is not None:
                self._update_score()
        if state == "end":
            self._finish_run()

    def _finish_run(self):
        """End the run: it is saved (recorder stopped, BIDS) on a finaliser thread (a few
        seconds); :attr:`runFinished` follows (GUI thread)."""
        orch, self.active = self.active, None
        if orch is None:
            return
        orch.info.status = SAVING
        self._saving.add(orch.info.index)
        thread = threading.Thread(target=self._finalise_run, args=(orch,), daemon=True,
                                  name=f"bci-app-run-{orch.info.index}-save")
        self._finalisers = [t for t in self._finalisers if t.is_alive()] + [thread]
        self.runSaving.emit(orch.info)
        thread.start()
        self._update_busy()

    def _finalise_run(self, orch):
        """Finish the run (finaliser thread)."""
        try:
            orch.finish()
        except Exception as exc:  # a defect: say so, the recording is on disk
            logger.exception("saving run %d", orch.info.index)
            orch.errors.append(f"the run could not be saved: {exc}")
        self._runSaved.emit(orch.info, list(orch.errors))

    def _on_run_saved(self, run, errors):
        self._saving.discard(run.index)
        self.prepare_decoder()  # for the next online run
        self._update_busy()  # before runFinished: its slots may start what a run blocked
        if errors:
            self.error.emit("The recording had a problem",
                            f"Run {run.index}: " + "; ".join(errors))
        self.runFinished.emit(run)

    @property
    def is_saving(self):
        """True while a finished run's recording is being stopped and converted."""
        return any(t.is_alive() for t in self._finalisers)

    def wait_saved(self, timeout=30.0):
        """Wait until every finished run is saved (BIDS); True if they all are."""
        deadline = time.monotonic() + timeout
        for thread in list(self._finalisers):
            thread.join(max(0.0, deadline - time.monotonic()))
        return not self.is_saving

    # -- live scoring ------------------------------------------------------------------------------
    def _start_score(self, runner, decoder):
        """A new running score for the run that starts.

        An online run is scored by :class:`~bci_app.evaluation.scoring.LiveScorer`: the
        decisions received so far against the markers ``runner`` sent so far, by the rule
        the report applies to the run's recording. Decisions that arrive after the run's
        end marker (the decoder's last batch) still count.

        Parameters
        ----------
        runner : ProtocolRunner
            Its ``protocol`` (classes, markers) and ``events`` (markers sent) are used.
        decoder : WindowedDecoder | None
            The online decoder (``sfreq``, ``window``, ``step_s``; its ``classes`` and
            decision ``rule``: the windows are scored over what it can decide,
            :func:`~bci_app.evaluation.scoring.decidable_labels`); None: no live score.
        """
        self.score = LiveScore()
        self.run_predictions = []
        self._scorer, self._score_runner, self._score_final = None, runner, False
        if decoder is not None:
            protocol = runner.protocol
            classes = getattr(decoder, "classes", None)
            rule = getattr(decoder, "rule", None)
            decidable = None if classes is None else decidable_labels(
                classes, getattr(rule, "threshold", 0.0))
            self._scorer = LiveScorer(protocol.classes, decoder.sfreq, decoder.window,
                                      decoder.step_s, protocol.class_of_marker, decidable)

    def _update_score(self):
        self.score = self._scorer.score(self._score_runner.events, final=self._score_final)
        self.scoreChanged.emit(self.score)

    def _on_predictions(self, pred):
        self.run_predictions.append(pred)
        if self._scorer is not None:
            self._scorer.add(pred.times, pred.decisions)
            self._update_score()

    # -- models & training -------------------------------------------------------------------------
    def available_pipelines(self):
        from ..decoding.loading import load_models

        return load_models(self.models_dir)

    def calibration_runs(self, infos=None):
        """The session's calibration recordings (bad channels removed), as ``Run`` objects
        (:func:`bci_app.session.training.calibration_runs`)."""
        from ..session.training import calibration_runs

        if self.session is None:
            return []
        return calibration_runs(self.session, infos, self.bad_channels)

    def training_candidates(self):
        """The open session's calibration runs (RunInfo, in run order): those training may
        use; ``run.trained_by_default`` says which are used unless the operator chooses."""
        if self.session is None:
            return []
        return [r for r in self.session.runs if r.run_type == "calibration"]

    def start_training(self, specs, runs=None, window_s=2.0, step_s=0.1):
        """Cross-validate and train ``specs`` on a worker thread
        (:class:`~bci_app.session.training.TrainingJob`); the models are saved with the
        session, then :attr:`trainingFinished` (or :attr:`trainingFailed`) follows.

        ``runs``: the run numbers to train on (None: the complete and interrupted
        calibration runs, :func:`~bci_app.session.training.training_runs`)."""
        from ..session.training import TrainingJob

        self._check_training()
        self._training = TrainingJob(
            self.session, specs, None if runs is None else [int(r) for r in runs],
            bad_channels=self.bad_channels, window_s=window_s,
            step_s=step_s, on_progress=self.trainingProgress.emit,
            on_finished=self._on_trained, on_failed=self.trainingFailed.emit).start()

    # -- earlier sessions of the patient ------------------------------------------------------
    def todays_channels(self):
        """Today's channels as far as known: the amplifier's (bad ones removed) when a
        source is connected, else None (then those of today's calibration runs)."""
        if self.acq is None or not self.acq.ch_names:
            return None
        return [c for c in self.acq.ch_names if c not in self.bad_channels]

    def refresh_continuation(self):
        """Read the open session's patient's earlier sessions again on a worker thread
        (:func:`bci_app.session.continuation.plan_continuation`: which can be sources for
        today, the proposed calibration length); :attr:`continuationChanged` follows with
        the plan (also kept in :attr:`continuation`), or with None when they could not be
        read (:attr:`continuation_error` says why; a run is never stopped by it). Does
        nothing without a session."""
        session = self.session
        if session is None:
            return None
        self._plan_request += 1
        request = self._plan_request
        channels, bad = self.todays_channels(), list(self.bad_channels)

        def work():
            from ..session.continuation import plan_continuation

            try:
                plan = plan_continuation(session, ch_names=channels, bad_channels=bad)
            except Exception as exc:  # an unreadable file of an earlier session: say it
                logger.exception("earlier sessions")
                plan = str(exc)
            try:
                self._planned.emit(session, plan, request)
            except RuntimeError:  # the window was closed meanwhile
                pass

        thread = threading.Thread(target=work, daemon=True, name="bci-app-continuation")
        thread.start()
        return thread

    def _on_planned(self, session, plan, request):
        if session is not self.session or request != self._plan_request:
            return  # another session opened, or a newer plan asked for, meanwhile
        failed = isinstance(plan, str)
        self.continuation = None if failed else plan
        self.continuation_error = plan if failed else None
        self.continuationChanged.emit(self.continuation)

    def earlier_models(self):
        """The decoders saved with the patient's earlier sessions, newest session first:
        list of (session label, path, the one chosen for its online runs)."""
        plan = self.continuation
        if plan is None:
            return []
        return [(e.label, path, e.model is not None and path == e.model)
                for e in reversed(plan.earlier) for path in reversed(e.models)]

    def start_training_with_earlier(self, specs, runs=None, window_s=2.0, step_s=0.1):
        """As :meth:`start_training`, but each pipeline is trained with the patient's earlier
        sessions as sources, re-centred per session
        (:func:`bci_app.session.continuation.train_with_earlier_sessions`); the training
        record names the source sessions and runs."""
        from ..session.continuation import train_with_earlier_sessions

        self._check_training()
        self._training = train_with_earlier_sessions(
            self.session, specs, None if runs is None else [int(r) for r in runs],
            bad_channels=self.bad_channels, window_s=window_s, step_s=step_s,
            on_progress=self.trainingProgress.emit, on_finished=self._on_trained,
            on_failed=self.trainingFailed.emit)
        return self._training

    def _check_training(self):
        if self._training is not None and self._training.is_alive:
            raise BCIAppError("Training is already running.")
        if self.session is None:
            raise DataError("No session is open: create or open one in 'Patient & "
                            "session' first.")
        self.refuse_during_run("Training")

    def _on_trained(self, result):
        self.training_result = result
        self.trainingFinished.emit(result)

    def cancel_training(self):
        if self._training is not None:
            self._training.cancel()

    def wait_training(self, timeout=None):
        if self._training is not None:
            self._training.join(timeout)

    def select_model(self, path):
        """Use the model in ``path`` (a ``.bcimodel``) for online runs."""
        from ..decoding.persistence import load_model

        self.trained = load_model(path)
        self.model_path = Path(path)
        if self.session is not None and self.session.meta.get("model") != str(path):
            self.session.update(model=str(path))
            self.session.log("model_selected", model=str(path), name=self.trained.name)
        self.prepare_decoder()
        self.modelChanged.emit(self.model_path)
        return self.trained

    def prepare_decoder(self):
        """Have a decoder process ready for the selected model before the next online run.

        The process (:meth:`~bci_app.online.process.DecoderProcess.prepare`) imports its
        libraries and loads :attr:`trained` in the background; the next online run hands
        it its streams. One prepared for another model, or ended, is discarded first; none
        is prepared without a model, nor while a run starts or records (it would take the
        CPU from that run: it is prepared once the run is saved).

        Returns
        -------
        process : DecoderProcess | None
            :attr:`decoder_ahead`.
        """
        from ..online.process import DecoderProcess
        from ..session.orchestrator import STREAM_TIMEOUT_S

        ahead = self.decoder_ahead
        if ahead is not None and ahead.serves(self.trained):
            return ahead
        if ahead is not None:
            ahead.discard()
            self.decoder_ahead = None
        if self.trained is None or self.active is not None or self._starting \
                or self._closing:
            return None
        self.decoder_ahead = DecoderProcess(self.trained, timeout=STREAM_TIMEOUT_S).prepare()
        return self.decoder_ahead

    # -- shutdown ---------------------------------------------------------------------------------
    def shutdown(self, timeout=60.0):
        """Stop a run in progress, wait until every recording is saved (stopped and
        converted to BIDS), and stop every thread."""
        self._closing = True
        if self._start_thread is not None:  # a run starting: let it start, then stop it
            self._start_thread.join(30.0)
        if self.run is not None:
            self.abort_run()
        self.cancel_training()
        if self.decoder_ahead is not None:
            self.decoder_ahead.discard()
            self.decoder_ahead = None
        if not self.wait_saved(timeout):
            logger.error("a recording was still being saved after %g s; it will be "
                         "recovered at the next start.", timeout)
        self.close_source()
