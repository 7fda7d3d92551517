"""One run of a session, from its streams to its BIDS recording, without any window.

:class:`RunOrchestrator` is the one way a run is carried out, by ``bci-app session``
(:mod:`bci_app.session.headless`) and by the GUI (:mod:`bci_app.gui.controller`, a Qt
adapter that forwards the callbacks below to the display):

1. :meth:`~RunOrchestrator.start` (blocks a few seconds): the protocol runner's marker outlet
   opens; a simulated amplifier, if the EEG comes from one, follows the protocol
   (:meth:`~bci_app.acquisition.simulator.SimulatedAmplifier.follow_protocol`); on online
   runs the :class:`~bci_app.online.live.OnlineDecoder` starts on the EEG stream, in its
   own process (:class:`~bci_app.online.process.DecoderProcess`), and publishes its
   predictions; LabRecorder records the EEG, markers and predictions
   (:meth:`bci_app.session.Session.start_recording`); once it receives the markers, the
   protocol starts, ``lead_s`` later;
2. during the run: :meth:`~RunOrchestrator.pause`, :meth:`~RunOrchestrator.resume`,
   :meth:`~RunOrchestrator.abort`, :meth:`~RunOrchestrator.wait` and
   :meth:`~RunOrchestrator.fault` (a part stopped on an error). The recording is watched
   (:class:`~bci_app.session.supervision.RecordingSupervisor`: recorder process, free disk,
   file growth): on a problem the protocol stops at once, the session log says why
   (``recording_fault``) and ``on_fault(text)`` is called; before the start, the disk must
   hold the run's expected size;
3. :meth:`~RunOrchestrator.finish` (blocks a few seconds): ``tail_s`` more of EEG, the
   recorder stops, the decoder and the runner stop, the recording is converted to BIDS and
   the run's record is saved with its status (:mod:`bci_app.session.runs`).

A run that cannot start keeps what was recorded (status ``"failed"``, with the reason); a
run cut by a fault keeps its recording (status ``"interrupted"``); a recording that cannot
be converted keeps its XDF file (status ``"failed"``). The session log says each step.

Callbacks come from the threads of the parts (runner, decoder), never from the caller's:
``on_event(state, trial, label, timestamp)`` for each protocol transition,
``on_predictions(predictions)`` for each batch of decisions (until the decoder stops, so
the last batch of a run is delivered too), ``on_decoder_status(event)`` for the decoder's
input status, ``on_fault(text)`` when the recording fails during the run.
"""

import logging
import threading
import time
from dataclasses import dataclass, field

from ..errors import BCIAppError, StreamError
from ..online.engine import DEFAULT_THRESHOLD, ONLINE_SMOOTHING
from .layout import task_label
from .recorder import RecordedStream
from .runs import ABORTED, COMPLETE, FAILED, INTERRUPTED
from .supervision import RecordingSupervisor, check_free_space, expected_bytes

logger = logging.getLogger(__name__)

#: Seconds between the recorder receiving every stream and the protocol's start.
LEAD_S = 0.5
#: Seconds of EEG recorded after the protocol's last marker.
TAIL_S = 1.0
#: Seconds to wait for each stream (and for the recorder to take the markers).
STREAM_TIMEOUT_S = 10.0


@dataclass
class EEGSource:
    """The EEG a run records.

    Attributes
    ----------
    stream : RecordedStream
        The EEG stream (role ``"eeg"``) the recorder and the decoder read.
    amplifier : dict
        What the recording's sidecar says about the amplifier (JSON types).
    simulator : SimulatedAmplifier | None
        The simulated amplifier that publishes the stream: it follows the protocol.
    """

    stream: RecordedStream
    amplifier: dict = field(default_factory=dict)
    simulator: object = None


def simulated_source(simulator, **details):
    """The :class:`EEGSource` of a started simulated amplifier (``details`` go to the
    sidecar's amplifier record)."""
    amplifier = {"simulated": True, "stream": simulator.name, "sfreq": simulator.sfreq,
                 "channels": list(simulator.ch_names),
                 "skill": getattr(simulator, "skill", None), **details}
    return EEGSource(RecordedStream("eeg", simulator.name, "eeg", simulator.source_id),
                     amplifier, simulator)


def stream_source(desc, **details):
    """The :class:`EEGSource` of an LSL EEG stream (a
    :class:`~bci_app.acquisition.lsl.StreamDescription`).

    The stream is selected by name, type and source id: a stream restarted during the run
    (same name and source id, new uid) is recorded on. Without a source id, its uid is used.
    """
    stream = RecordedStream("eeg", desc.name, desc.stype or "", desc.source_id or "",
                            "" if desc.source_id else (desc.uid or ""))
    amplifier = {"simulated": False, "stream": desc.name, "source_id": desc.source_id,
                 "hostname": desc.hostname, "sfreq": desc.sfreq,
                 "n_channels": desc.n_channels, **details}
    return EEGSource(stream, amplifier)


class RunOrchestrator:
    """Carry out one run of a session (see the module's docstring).

    Parameters
    ----------
    session : Session
        The open session (:class:`bci_app.session.Session`).
    protocol : Protocol
        A validated protocol (scaled, with the subject's affected side, as it is to run).
    source : EEGSource
    trained : TrainedModel | None
        The model of an online run (its channels and rate are read from the stream).
    model_path : str | Path | None
        Its ``.bcimodel`` file (recorded in the sidecar).
    smoothing, threshold
        The online decision rule (:class:`~bci_app.online.engine.WindowedDecoder`).
    seed : int | None
        Seed of the trial order (None: the protocol's, or a new one).
    stream_prefix : str
        Prefix of the run's marker and prediction streams, made unique by the run number.
    labrecorder : str | Path | None
        LabRecorderCLI executable (default: the bundled one).
    stream_timeout, lead_s, tail_s : float
        See :data:`STREAM_TIMEOUT_S`, :data:`LEAD_S`, :data:`TAIL_S`.
    on_event, on_predictions, on_decoder_status, on_fault : callable | None
        See the module's docstring.
    supervision : dict | None
        Settings of the :class:`~bci_app.session.supervision.RecordingSupervisor`
        (``interval_s``, ``stall_s``, ``min_free_bytes``, ``disk_usage``).

    Attributes
    ----------
    info : RunInfo
        The run's record (number, status, files...), saved with the session.
    runner : ProtocolRunner
    recorder : XDFRecorder | None
        Once started.
    windowed : WindowedDecoder | None
        The decision engine of an online run (window, step, rule).
    decoder : OnlineDecoder | None
        On online runs, once started: the engine on the EEG stream.
    summary : dict | None
        The decoder's summary (windows, latency, decisions), once finished.
    """

    def __init__(self, session, protocol, source, *, trained=None, model_path=None,
                 smoothing=ONLINE_SMOOTHING, threshold=DEFAULT_THRESHOLD, seed=None,
                 stream_prefix="bci-app", labrecorder=None, stream_timeout=STREAM_TIMEOUT_S,
                 lead_s=LEAD_S, tail_s=TAIL_S, on_event=None, on_predictions=None,
                 on_decoder_status=None, on_fault=None, supervision=None):
        from ..protocol import ProtocolRunner

        online = trained is not None
        self.session, self.protocol, self.source = session, protocol, source
        self.trained = trained
        self.model_path = str(model_path) if online and model_path else None
        self.smoothing, self.threshold = smoothing, threshold
        self.stream_prefix = stream_prefix
        self.labrecorder, self.stream_timeout = labrecorder, float(stream_timeout)
        self.lead_s, self.tail_s = float(lead_s), float(tail_s)
        self.on_event, self.on_predictions = on_event, on_predictions
        self.on_decoder_status, self.on_fault = on_decoder_status, on_fault
        self.supervision = dict(supervision or {})
        self.supervisor = None
        self.recording_fault = None
        self.info = session.new_run(
            protocol.run_type, protocol.name, task=task_label(protocol),
            n_trials=protocol.n_trials, model=self.model_path,
            classes=list(protocol.classes), class_of_marker=protocol.class_of_marker)
        self.runner = ProtocolRunner(
            protocol, outlet_name=f"{stream_prefix}-markers-run{self.info.index:02d}",
            seed=seed)
        self.info.seed = self.runner.seed
        self.windowed = None
        if online:
            from ..online.engine import WindowedDecoder

            self.info.log_dir = str(session.online_log_dir(self.info))
            self.windowed = WindowedDecoder.from_model(trained, smoothing=smoothing,
                                                       threshold=threshold)
        self.recorder = self.decoder = None
        self.summary = None
        self.errors = []
        self._finished = False
        self._lock = threading.Lock()

    # -- start --------------------------------------------------------------------------------
    @property
    def online(self):
        """True for an online run (a model decodes it)."""
        return self.trained is not None

    def start(self):
        """Open the streams, start the decoder and the recorder, then the protocol.

        Blocks until the recorder has every stream (seconds).

        Raises
        ------
        StreamError, BCIAppError
            A stream is missing or the recorder cannot start. Whatever was recorded is kept
            as a failed run (:attr:`info` says where), and every part is stopped.
        """
        from mne_lsl.lsl import local_clock

        runner = self.runner
        try:
            runner.open_outlet()
            if self.source.simulator is not None:
                runner.subscribe(self.source.simulator.follow_protocol)
            streams = [self.source.stream,
                       RecordedStream("markers", runner.outlet_name, "Markers",
                                      runner.source_id)]
            if self.online:
                self.decoder = self._start_decoder()
                streams.append(RecordedStream("predictions", self.decoder.publish,
                                              "Predictions"))
            self._check_disk()
            # Every stream exists: record them before the protocol starts.
            self.recorder = self.session.start_recording(
                self.protocol, streams, model=self.model_path,
                amplifier=self.source.amplifier, run=self.info,
                labrecorder=self.labrecorder, timeout=self.stream_timeout + 5)
            self.supervisor = RecordingSupervisor(
                self.recorder, self._on_recording_fault, **self.supervision).start()
            if not runner.wait_for_consumers(self.stream_timeout):
                raise StreamError(f"the recorder did not connect to the marker stream "
                                  f"{runner.outlet_name!r} within {self.stream_timeout:g} s.")
            if self.on_event is not None:
                runner.subscribe(self.on_event)
            logger.info("run %d (%s) of sub-%s ses-%s: recording to %s", self.info.index,
                        self.info.task, self.session.subject, self.session.session,
                        self.recorder.path)
            runner.start(at=local_clock() + self.lead_s)
        except BaseException as exc:
            self._fail_start(exc)
            raise
        return self

    def _start_decoder(self):
        """The online decoder, in its own process (:class:`~bci_app.online.process.
        DecoderProcess`): its latency does not follow the load of the GUI or the machine."""
        from ..online.process import DecoderProcess

        online = DecoderProcess(
            self.trained, self.source.stream.name, markers_name=self.runner.outlet_name,
            log_dir=self.info.log_dir,
            publish=f"{self.stream_prefix}-predictions-run{self.info.index:02d}",
            smoothing=self.smoothing, threshold=self.threshold,
            timeout=self.stream_timeout, source_id=self.source.stream.source_id)
        online.subscribe(self._forward)
        online.start()
        return online

    def _forward(self, kind, payload):
        """Decoder worker -> the caller's callbacks. The decoder's alerts (no decision for a
        while: bad signal) go to the session log too; they are no fault: the decoder goes
        on and the run with it (:meth:`fault`)."""
        from ..online.live import ALERT, RESUMED

        if kind == "predictions" and self.on_predictions is not None:
            self.on_predictions(payload)
        elif kind == "status":
            if payload.status in (ALERT, RESUMED):
                self.session.log(f"decoder_{payload.status}", run=self.info.index,
                                 message=payload.message)
            if self.on_decoder_status is not None:
                self.on_decoder_status(payload)

    def _check_disk(self):
        """Refuse to start when the disk cannot hold the run (nothing recorded yet)."""
        amp = self.source.amplifier
        n_channels = amp.get("n_channels") or len(amp.get("channels") or ()) or 64
        duration = self.expected_duration() + self.tail_s
        needed = expected_bytes(duration, n_channels, amp.get("sfreq") or 1000.0)
        options = {k: v for k, v in self.supervision.items()
                   if k in ("min_free_bytes", "disk_usage")}
        if "min_free_bytes" in options:
            options["min_free"] = options.pop("min_free_bytes")
        check_free_space(self.session.root, needed, **options)

    def _on_recording_fault(self, text):
        """The recording failed during the run (supervisor thread): stop the protocol,
        say why; :meth:`finish` saves what was recorded as interrupted."""
        self.recording_fault = f"recording stopped: {text}"
        self.session.log("recording_fault", run=self.info.index, reason=text)
        self.runner.abort()
        if self.on_fault is not None:
            self.on_fault(self.recording_fault)

    def _fail_start(self, exc):
        """Stop every part; keep what was recorded as a failed run."""
        logger.error("run %d could not start: %s", self.info.index, exc)
        if self.supervisor is not None:
            self.supervisor.stop()
        self._stop_parts()
        if self.recorder is not None:
            self.info.status = FAILED
            self.info.error = f"the run could not start: {exc}"
            self._save()
            if isinstance(exc, BCIAppError):
                exc.args = (f"{exc} (the few seconds recorded are kept: "
                            f"{self.info.recording})",) + exc.args[1:]
        self._finished = True

    # -- during the run -----------------------------------------------------------------------
    def pause(self):
        self.runner.pause()

    def resume(self):
        self.runner.resume()

    def abort(self):
        """Stop the protocol now (marker ``run_aborted``); :meth:`finish` saves the run."""
        self.runner.abort()

    @property
    def aborted(self):
        return self.runner.aborted

    def wait(self, timeout=None):
        """Block until the protocol has ended or ``timeout``; True once it has."""
        return self.runner.wait(timeout)

    def expected_duration(self):
        """Seconds from :meth:`start` to the protocol's end (unpaused)."""
        return self.runner.schedule[-1].onset_s + self.lead_s

    def fault(self):
        """The error that stopped a part of the run (its text), or None. The decoder's
        alerts (bad signal, windows without decision) are not faults: it goes on."""
        if self.recording_fault is not None:
            return self.recording_fault
        parts = ((self.source.simulator, "simulated amplifier"),
                 (self.decoder, "online decoder"), (self.runner, "protocol runner"))
        for part, name in parts:
            error = getattr(part, "error", None) if part is not None else None
            if error is not None:
                return f"{name} stopped on an error: {error}"
        return None

    def run_to_end(self, margin_s=30.0):
        """Block until the protocol ends, then :meth:`finish` the run.

        Ctrl-C aborts the run (the recording is kept, status ``"aborted"``).

        Raises
        ------
        StreamError
            A part stopped on an error, or the run did not end within its duration plus
            ``margin_s``: the run is saved (status ``"interrupted"``) before this is raised.
        """
        expected = self.expected_duration()
        deadline = time.monotonic() + expected + margin_s
        problem = None
        try:
            while not self.wait(0.2):
                problem = self.fault()
                if problem is None and time.monotonic() > deadline:
                    problem = f"the run did not end within {expected + margin_s:.0f} s."
                if problem is not None:
                    break
        except KeyboardInterrupt:
            self.abort()
            self.session.log("run_aborted", run=self.info.index,
                             reason="interrupted by the user")
        problem = problem or self.recording_fault
        self.finish(fault=problem)
        if problem is not None:
            raise StreamError(f"run {self.info.index}: {problem} The recording is kept: "
                              f"{self.info.recording}")
        return self.info

    # -- finish -------------------------------------------------------------------------------
    def finish(self, fault=None):
        """Record ``tail_s`` more, stop every part, convert to BIDS, save the run's record.

        Parameters
        ----------
        fault : str | None
            Why the run ends early (a part failed): the run is saved as interrupted.

        Returns
        -------
        info : RunInfo
            Status ``"complete"``, ``"aborted"``, ``"interrupted"`` or ``"failed"``;
            :attr:`errors` lists what went wrong while saving (also in ``info.error``).
        """
        with self._lock:
            if self._finished:
                return self.info
            self._finished = True
        if self.supervisor is not None:
            self.supervisor.stop()
        fault = fault or self.recording_fault
        if fault is None:
            time.sleep(max(0.0, self.tail_s))  # a moment of EEG after the last marker
        hung = self.supervisor is not None and self.supervisor.stalled
        try:  # a hung recorder writes nothing more: no drain, no long wait before ending it
            self.recorder.stop(**({"drain_s": 0.0, "timeout": 2.0} if hung else {}))
        except Exception as exc:  # LabRecorder died: what it wrote is converted below
            logger.exception("run %d: stopping the recorder", self.info.index)
            self.errors.append(f"the recorder stopped on an error: {exc}")
        self.session.log("run_stopped", run=self.info.index, aborted=self.runner.aborted,
                         markers=len(self.runner.events), fault=fault)
        self._stop_parts()
        if fault is not None:
            self.info.status = INTERRUPTED
            self.errors.insert(0, fault)
        else:
            self.info.status = ABORTED if self.runner.aborted else COMPLETE
        self._save(interrupted=True if fault is not None else None)
        return self.info

    def _stop_parts(self):
        """Stop the decoder (keeping its summary) and the runner; any error is logged."""
        if self.decoder is not None:
            try:
                self.decoder.stop()
            finally:
                self.summary = self.decoder.summary()
                self.info.summary = self.summary
        self.runner.stop()

    def _save(self, interrupted=None):
        """Convert the stopped recording to BIDS and save the run's record."""
        info, session = self.info, self.session
        try:
            if self.recorder.is_running:
                self.recorder.stop()
            bids = session.convert(self.recorder, interrupted=interrupted)
            info.bids_path = str(bids.fpath)
            rec = info.sidecar.get("BciAppRecording") or {}
            info.first_sample_time = rec.get("first_lsl_timestamp")
            if rec.get("status") == INTERRUPTED and info.status == COMPLETE:
                info.status = INTERRUPTED
        except Exception as exc:
            logger.exception("run %d: conversion to BIDS", info.index)
            info.status = FAILED
            self.errors.append(f"the recording could not be converted to BIDS: {exc}. The "
                               f"raw recording is kept: {info.xdf_path}")
        if self.errors and not info.error:
            info.error = "; ".join(self.errors)
        try:
            session.save_run(info)
        except Exception as exc:
            logger.exception("run %d: saving the run's record", info.index)
            self.errors.append(f"the run's record could not be saved: {exc}")
        session.log("run_saved", run=info.index, status=info.status, bids=info.bids_path,
                    error=info.error)
        logger.info("run %d %s: %s", info.index, info.status, info.recording)
