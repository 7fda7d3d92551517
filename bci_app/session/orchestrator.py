"""One run of a session, from its streams to its BIDS recording, without any window.

:class:`RunOrchestrator` is the one way a run is carried out, by ``bci-app session``
(:mod:`bci_app.session.headless`) and by the GUI (:mod:`bci_app.gui.controller`, a Qt
adapter that forwards the callbacks below to the display):

1. :meth:`~RunOrchestrator.start` (blocks a few seconds): the protocol runner's marker outlet
   opens; a simulated amplifier, if the EEG comes from one, follows the protocol
   (:meth:`~bci_app.acquisition.simulator.SimulatedAmplifier.follow_protocol`); on online
   runs the :class:`~bci_app.online.live.OnlineDecoder` starts on the EEG stream, in its
   own process (:class:`~bci_app.online.process.DecoderProcess`; one prepared ahead for the
   model is handed the run's streams, see ``decoder_process``), and publishes its
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
   recorder stops (:meth:`~bci_app.session.recorder.XDFRecorder.stop`: about a second once
   everything is written), the decoder and the runner stop, the recording is converted to
   BIDS and the run's record is saved with its status (:mod:`bci_app.session.runs`).

Before anything is created (no run number, no file), the run is refused with a message that
says what to do (:meth:`RunOrchestrator.check`): when its EEG is a replay (a recording is
not a patient's new run), when the protocol cues the other hand than the subject's
affected side, when an online run's protocol cues other classes than its decoder knows, or
when there is no EEG signal from the stream now. :func:`resolve_protocol` is the one way a
protocol is made ready for a subject (affected side, time scale), for ``bci-app session``
and the GUI.

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

from ..errors import BCIAppError, ConfigError, StreamError
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
    replay : str | None
        What the stream replays (a file, or a replayed stream's name) when it is a replay
        of a recording: no run can be recorded from it.
    signal : callable | None
        ``signal()`` -> None while EEG arrives, else why it does not (text), e.g. the
        state of a reader already watching the stream (the GUI's). Not given: the stream is
        taken as flowing (a simulated amplifier: while it runs).
    """

    stream: RecordedStream
    amplifier: dict = field(default_factory=dict)
    simulator: object = None
    replay: str | None = None
    signal: object = None

    def signal_problem(self):
        """Why there is no EEG signal now (text), or None."""
        if self.simulator is not None and not getattr(self.simulator, "is_running", True):
            return "the simulated amplifier is stopped"
        return self.signal() if self.signal is not None else None


def simulated_source(simulator, **details):
    """The :class:`EEGSource` of a started simulated amplifier (``details`` go to the
    sidecar's amplifier record)."""
    amplifier = {"simulated": True, "stream": simulator.name, "sfreq": simulator.sfreq,
                 "channels": list(simulator.ch_names),
                 "skill": getattr(simulator, "skill", None), **details}
    return EEGSource(RecordedStream("eeg", simulator.name, simulator.stype, simulator.source_id),
                     amplifier, simulator)


def stream_source(desc, replay=None, signal=None, **details):
    """The :class:`EEGSource` of an LSL EEG stream (a
    :class:`~bci_app.acquisition.lsl.StreamDescription`).

    The stream is selected by name, type and source id: a stream restarted during the run
    (same name and source id, new uid) is recorded on. Without a source id, its uid is used.
    ``replay`` and ``signal``: see :class:`EEGSource` (:func:`probe_stream` finds both).
    """
    stream = RecordedStream("eeg", desc.name, desc.stype or "", desc.source_id or "",
                            "" if desc.source_id else (desc.uid or ""))
    amplifier = {"simulated": False, "stream": desc.name, "source_id": desc.source_id,
                 "hostname": desc.hostname, "sfreq": desc.sfreq,
                 "n_channels": desc.n_channels, **details}
    if replay:
        amplifier["replay"] = str(replay)
    return EEGSource(stream, amplifier, replay=str(replay) if replay else None,
                     signal=signal)


def probe_stream(desc, timeout=2.0):
    """Look at an LSL EEG stream before recording it: is it a replay, does EEG arrive?

    Parameters
    ----------
    desc : StreamDescription
        A resolved stream (:func:`bci_app.acquisition.lsl.find_stream`).
    timeout : float
        Seconds to wait for the stream's description and its first samples.

    Returns
    -------
    replayed : bool
        Its description says its timestamps are made by a replay
        (:data:`bci_app.acquisition.clock.REPLAY_MARK`).
    problem : str | None
        Why no EEG arrived (None: samples arrived).
    """
    from mne_lsl.lsl import StreamInlet

    from ..acquisition.clock import REPLAY_MARK

    inlet = StreamInlet(desc.sinfo)
    replayed, problem = False, None
    try:
        inlet.open_stream(timeout=timeout)
        try:
            full = inlet.get_sinfo(timeout=timeout)
            replayed = full.desc.child_value(REPLAY_MARK[0]) == REPLAY_MARK[1]
        except Exception as exc:  # no description: not a replay of ours
            logger.debug("stream %s: no description (%s)", desc.name, exc)
        deadline = time.monotonic() + timeout
        while True:
            _, stamps = inlet.pull_chunk(timeout=0.1)
            if len(stamps):
                break
            if time.monotonic() > deadline:
                problem = f"no sample for {timeout:g} s"
                break
    except Exception as exc:
        problem = f"it cannot be read ({exc})"
    finally:
        try:
            inlet.close_stream()
        except Exception as exc:  # closing only
            logger.debug("stream %s: closing the probe's inlet: %s", desc.name, exc)
    return replayed, problem


def resolve_protocol(protocol, affected_hand=None, time_scale=None):
    """The protocol as a subject's run runs it: the one way to make a protocol ready for a
    run (``bci-app session`` and the GUI).

    Parameters
    ----------
    protocol : Protocol | str | Path
        A protocol, a protocol file or the name of a shipped or user protocol.
    affected_hand : {"left", "right"} | None
        The subject's (:attr:`~bci_app.session.participants.Subject.affected_hand`): the
        ``"affected_hand"`` class of a protocol file is that hand (it wins over the file's;
        protocols without that class ignore it). A Protocol already loaded is kept as it is
        (:func:`check_subject_side` refuses one loaded for the other hand).
    time_scale : float | None
        Multiply every duration (quick demos); None or 1: as the file says.

    Raises
    ------
    ConfigError
        A bad protocol file or time scale.
    """
    from ..protocol import Protocol, load_protocol

    if not isinstance(protocol, Protocol):
        protocol = load_protocol(protocol, affected_hand=affected_hand)
    if time_scale is not None:
        if not 0 < float(time_scale) <= 10:
            raise ConfigError(f"time scale {time_scale!r}: give a factor in (0, 10] (e.g. "
                              "0.1 to run every phase ten times faster).")
        if float(time_scale) != 1.0:
            protocol = protocol.scaled(float(time_scale))
    return protocol


def subject_hand(session):
    """The affected hand of a session's subject (``"left"``/``"right"``), or None (not
    given, both sides, or the subject is not in participants.tsv)."""
    try:
        return session.participant.affected_hand
    except BCIAppError:
        return None


def check_subject_side(protocol, affected_hand, subject="the subject"):
    """Refuse a protocol that cues one hand as the affected one when the subject's affected
    side is the other (e.g. loaded without the subject's side: the file's default).

    Raises
    ------
    ConfigError
    """
    side = protocol.affected_hand
    if affected_hand not in ("left", "right") or side not in ("left", "right") \
            or side == affected_hand or f"{affected_hand}_hand" in protocol.classes:
        return
    raise ConfigError(
        f"protocol {protocol.name!r} ({protocol.source}) cues the {side} hand, but the "
        f"affected side of {subject} is {affected_hand}: load the protocol for the subject "
        f"(its affected hand then is the {affected_hand} one), or correct the subject's "
        "affected side in 'Patient & session' (participants.tsv).")


def task_names(classes):
    """The task classes among ``classes`` (idle names such as ``rest`` left out), in order."""
    from ..processing.labels import is_idle_name

    return [str(c) for c in classes if not is_idle_name(str(c))]


def matching_protocols(classes, run_type="online", affected_hand=None):
    """The available protocols of ``run_type`` whose task classes are ``classes``' (names)."""
    from ..protocol import list_protocols, load_protocol

    wanted, out = set(task_names(classes)), []
    for name in list_protocols():
        try:
            proto = load_protocol(name, affected_hand=affected_hand)
        except BCIAppError:
            continue
        if proto.run_type == run_type and set(task_names(proto.classes)) == wanted:
            out.append(f"'{proto.name}' ({name})")
    return out


def check_decoder_classes(protocol, trained, model_path=None, affected_hand=None):
    """Refuse an online run whose protocol cues other task classes than the decoder knows
    (it would decide classes never cued, or never decide the cued ones, and be scored so).

    Raises
    ------
    ConfigError
        Naming both sets of classes and what to do: train a decoder on the protocol's
        classes, or pick a protocol matching the decoder.
    """
    cued, known = task_names(protocol.classes), task_names(trained.classes)
    if set(cued) == set(known):
        return
    what = f"{trained.name}" + (f" ({model_path})" if model_path else "")
    matching = matching_protocols(known, protocol.run_type, affected_hand)
    raise ConfigError(
        f"protocol {protocol.name!r} cues {', '.join(cued) or 'no task class'}, but the "
        f"decoder {what} was trained on {', '.join(known) or 'no task class'}: it cannot "
        f"decode this run. Train a decoder on calibration runs of {', '.join(cued)} (step "
        "'Training', or `bci-app session --train`) and select it, or pick the protocol "
        "matching the decoder"
        + (f": {', '.join(matching)}." if matching else " (none is available: write one)."))


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
    decoder_process : DecoderProcess | None
        A decoder process started ahead for ``trained``
        (:meth:`~bci_app.online.process.DecoderProcess.prepare`): the online run hands it its
        streams instead of starting a process, so the libraries' imports and the model's
        load are not waited for at the run's start. One prepared for another model, or
        ended, is discarded and a new process started (a run is never decoded by another
        model than ``trained``). The run owns it from then (it stops it, or discards it if
        the run does not use it).

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
                 on_decoder_status=None, on_fault=None, supervision=None,
                 decoder_process=None):
        from ..protocol import ProtocolRunner

        online = trained is not None
        self.check(session, protocol, source, trained, model_path)
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
        self.prepared = decoder_process
        self.supervisor = None
        self.recording_fault = None
        # The run's record names its own session: it is saved there whatever the caller
        # opens meanwhile.
        self.info = session.new_run(
            protocol.run_type, protocol.name, task=task_label(protocol),
            n_trials=protocol.n_trials, model=self.model_path,
            classes=list(protocol.classes), class_of_marker=protocol.class_of_marker)
        self.info.subject, self.info.session = session.subject, session.session
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

    @staticmethod
    def check(session, protocol, source, trained=None, model_path=None):
        """Refuse a run that must not be recorded, before anything is created.

        Raises
        ------
        BCIAppError
            The EEG is a replay (:attr:`EEGSource.replay`): a recording cannot become a
            subject's new calibration or online run.
        ConfigError
            The protocol cues the other hand than the subject's affected side
            (:func:`check_subject_side`), or an online run's protocol cues other classes
            than its decoder knows (:func:`check_decoder_classes`).
        StreamError
            There is no EEG signal from the stream now (:meth:`EEGSource.signal_problem`).
        """
        who = f"sub-{session.subject} ses-{session.session}"
        name = source.stream.name
        if source.replay:
            raise BCIAppError(
                f"the EEG stream {name!r} replays a recording ({source.replay}): a replay "
                f"cannot be recorded as a {protocol.run_type} run of {who}. Connect the "
                "amplifier (or the simulated amplifier) in 'Patient & session' to record a "
                "run; use a replay to review a recording or to test a decoder offline.")
        hand = subject_hand(session)
        check_subject_side(protocol, hand, f"subject {session.subject}")
        if trained is not None:
            check_decoder_classes(protocol, trained, model_path, hand)
        problem = source.signal_problem()
        if problem:
            raise StreamError(
                f"no EEG signal from stream {name!r} ({problem}): check the amplifier (on, "
                "electrodes connected, streaming) and its cables; start the run once the "
                "signal is back.")

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
        DecoderProcess`): its latency does not follow the load of the GUI or the machine.
        The process prepared for this run's model is used if there is one (see the
        class)."""
        from ..online.process import DecoderProcess

        online, self.prepared = self.prepared, None
        if online is not None and not online.serves(self.trained):
            why = "another model" if online.trained is not self.trained else \
                (online.error or "it is no longer running")
            logger.warning("run %d: the decoder process prepared ahead is not used (%s); "
                           "starting a new one.", self.info.index, why)
            online.discard()
            online = None
        if online is None:
            online = DecoderProcess(self.trained, timeout=self.stream_timeout)
        online.subscribe(self._forward)
        self.decoder = online  # stopped by _fail_start if it cannot start
        online.start(
            eeg_name=self.source.stream.name, markers_name=self.runner.outlet_name,
            log_dir=self.info.log_dir,
            publish=f"{self.stream_prefix}-predictions-run{self.info.index:02d}",
            smoothing=self.smoothing, threshold=self.threshold,
            source_id=self.source.stream.source_id)
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
            self.recorder.stop(**({"drain_s": 0.0, "timeout": 2.0, "fast": False}
                                  if hung else {}))
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
        prepared, self.prepared = self.prepared, None
        if prepared is not None:  # the run ended before it needed its decoder
            prepared.discard()
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
