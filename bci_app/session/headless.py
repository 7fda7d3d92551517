"""Headless sessions: run a protocol, decode online if a model is given, record, convert.

:func:`record_run` is one run of a session without any window: the protocol runner sends
its markers, the EEG comes from the simulated amplifier (or a live amplifier's LSL stream),
an :class:`~bci_app.online.live.OnlineDecoder` decodes it and publishes its predictions when
a trained model is given, and LabRecorder records the three streams to XDF; at the end the
run is converted to BIDS. :func:`train_session_model` trains a model on the session's
calibration runs (read back from BIDS, as any later analysis would) and saves it with the
session. ``bci-app session`` (:mod:`bci_app.cli.session`) is a thin layer over both. The run
itself is carried out by :class:`~bci_app.session.orchestrator.RunOrchestrator`, as in the
GUI.
"""

import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .._logging import logger
from ..decoding.loading import find_model
from ..errors import ConfigError
from ..online.engine import DEFAULT_THRESHOLD, ONLINE_SMOOTHING
from .orchestrator import (
    LEAD_S,
    STREAM_TIMEOUT_S,
    TAIL_S,
    RunOrchestrator,
    check_decoder_classes,
    probe_stream,
    resolve_protocol,
    simulated_source,
    stream_source,
)
from .store import RecordingStore


@dataclass
class RunResult:
    """What :func:`record_run` did.

    Attributes
    ----------
    run : int
    task : str
        BIDS task label.
    status : str
        ``"complete"``, ``"aborted"``, ``"interrupted"`` or ``"failed"`` (the recording could
        not be converted: ``error`` says why).
    xdf_path, state_path : Path
        The raw recording and its state file (under ``sourcedata/``).
    bids_path : Path | None
        The BIDS EEG file (None if the conversion failed: ``error`` says why).
    markers : list of (float, str)
        The markers the runner sent.
    online : dict | None
        The online decoder's summary (windows, latency, decisions) on online runs.
    error : str | None
    """

    run: int
    task: str
    status: str
    xdf_path: Path
    state_path: Path
    bids_path: Path | None = None
    markers: list = field(default_factory=list)
    online: dict | None = None
    error: str | None = None


def check_run_inputs(protocol, model=None, affected_hand=None, time_scale=None):
    """The checks of :func:`record_run`'s inputs, done before anything is created.

    Parameters
    ----------
    protocol : Protocol | str | Path
    model : str | Path | None
        A ``.bcimodel`` file.
    affected_hand : {"left", "right"} | None
        The subject's (:attr:`~bci_app.session.participants.Subject.affected_hand`).
    time_scale : float | None

    Returns
    -------
    protocol : Protocol
        Resolved and scaled.
    trained : TrainedModel | None

    Raises
    ------
    ConfigError, DataError
        A bad protocol, time scale or model file; a protocol with feedback and no model; or
        a protocol cueing other classes than the model knows
        (:func:`~bci_app.session.orchestrator.check_decoder_classes`).
    """
    protocol = resolve_protocol(protocol, affected_hand, time_scale)
    trained = None
    if model is not None:
        from ..decoding.persistence import load_model

        trained = load_model(model)
        check_decoder_classes(protocol, trained, model, affected_hand)
    elif protocol.feedback:
        raise ConfigError(f"protocol {protocol.source}: an online run with feedback needs a "
                          "trained model: give --model FILE.bcimodel (e.g. trained with "
                          "`bci-app session ... --train MODEL` on a calibration run).")
    return protocol, trained


def registered_subject(root, subject):
    """The subject as registered in ``root``'s participants.tsv, or None; creates nothing.

    Raises
    ------
    ConfigError
        ``subject`` is not a valid label.
    """
    from .layout import check_label
    from .participants import Subject, read_participants

    sid = check_label(subject, "subject")
    if not Path(root).is_dir():
        return None
    _, rows = read_participants(root)
    return next((s for s in map(Subject.from_row, rows) if s.id == sid), None)


def record_run(protocol, root="recordings", subject="01", session="01", *, model=None,
               simulate=True, eeg_stream=None, time_scale=None, seed=None, skill=0.8,
               amp_seed=None, artifacts=True, smoothing=ONLINE_SMOOTHING,
               threshold=DEFAULT_THRESHOLD, tail_s=TAIL_S,
               lead_s=LEAD_S, create_subject=True, subscribers=(), labrecorder=None,
               stream_timeout=STREAM_TIMEOUT_S):
    """Run a protocol headless, record it (XDF), and convert it to BIDS.

    Parameters
    ----------
    protocol : Protocol | str | Path
        A protocol, a protocol file, or the name of a shipped protocol.
    root : str | Path
        The recordings folder.
    subject, session : str
        BIDS labels; the subject is created (with unknown details) if missing and
        ``create_subject`` is True.
    model : str | Path | None
        A ``.bcimodel`` file: the run is decoded online and the predictions are published
        and recorded. Required by protocols with feedback.
    simulate : bool
        Stream EEG from a :class:`~bci_app.acquisition.simulator.SimulatedAmplifier`
        that follows the protocol (with the model's channels and rate if a model is given).
    eeg_stream : str | None
        Without ``simulate``: name of the live EEG stream to record (None: the only
        stream of type EEG).
    time_scale : float | None
        Multiply every duration of the protocol (e.g. 0.1 for a quick demo).
    seed : int | None
        Seed of the trial order (None: the protocol's, or a new one).
    skill, amp_seed, artifacts
        Simulated subject skill, signal seed, and blinks/muscle bursts.
    smoothing, threshold
        Decision rule of the online decoder.
    tail_s, lead_s : float
        Seconds recorded after the end marker, and before the start.
    create_subject : bool
    subscribers : sequence of callable
        Extra protocol-runner subscribers ``(state, trial, label, timestamp)``.
    labrecorder : str | Path | None
        LabRecorderCLI executable (default: the bundled one).
    stream_timeout : float
        Seconds to wait for each stream.

    Returns
    -------
    result : RunResult

    Raises
    ------
    ConfigError
        Bad protocol, model, time scale or labels (checked first: nothing is created, no
        subject, no session folder).
    BCIAppError
        The live EEG stream is a replay, or sends nothing (the run is refused:
        :meth:`~bci_app.session.orchestrator.RunOrchestrator.check`).
    StreamError
        The live EEG stream is not found (checked before anything is created), another
        stream is missing or the recorder cannot start (what was recorded is kept as a
        failed run), or a stream failed during the run (the run is saved as interrupted
        first).
    """
    from ..acquisition.lsl import find_stream
    from .layout import check_label

    # Every input is checked before anything is created (the subject, the session folder).
    check_label(session, "session")
    known = registered_subject(root, subject)
    given = protocol
    protocol, trained = check_run_inputs(given, model, known.affected_hand if known else None,
                                         time_scale)
    eeg = None if simulate else find_stream(eeg_stream, "eeg", timeout=stream_timeout)
    store = RecordingStore(root)
    for item in store.recover():
        logger.warning("recovered an interrupted run: %s -> %s%s", item.xdf_path,
                       item.bids_path, f" (error: {item.error})" if item.error else "")
    if not store.has_subject(subject):
        if not create_subject:
            store.subject(subject)  # raises, listing the known subjects
        store.create_subject(subject)
        logger.warning("subject %s was not registered: created with unknown age, sex and "
                       "affected side (complete participants.tsv).", subject)
    subj = store.subject(subject)
    if subj.affected_hand != (known.affected_hand if known else None):  # changed meanwhile
        protocol = resolve_protocol(given, subj.affected_hand, time_scale)
    sess = store.open_session(subj.id, session)
    tag = uuid.uuid4().hex[:8]
    amp = ahead = None
    try:
        if trained is not None:  # loads while the amplifier and the streams start
            from ..online.process import DecoderProcess

            ahead = DecoderProcess(trained, timeout=stream_timeout).prepare()
        if simulate:
            from ..acquisition.simulation import DEFAULT_CHANNELS
            from ..acquisition.simulator import SimulatedAmplifier

            amp = SimulatedAmplifier(
                name=f"bci-app-sim-{tag}",
                ch_names=trained.ch_names if trained else DEFAULT_CHANNELS,
                sfreq=trained.sfreq if trained else 250.0, skill=skill, seed=amp_seed,
                artifacts=artifacts).start()
            source = simulated_source(amp, seed=amp_seed)
        else:
            # A replay of a recording is refused, and a stream sending nothing, at once.
            replayed, problem = probe_stream(eeg)
            source = stream_source(eeg, replay=f"replayed stream {eeg.name}" if replayed
                                   else None, signal=lambda: problem)
        run = RunOrchestrator(
            sess, protocol, source, trained=trained, model_path=model, smoothing=smoothing,
            threshold=threshold, seed=seed, stream_prefix=f"bci-app-{tag}",
            labrecorder=labrecorder, stream_timeout=stream_timeout, lead_s=lead_s,
            tail_s=tail_s, on_event=_fan_out(subscribers), decoder_process=ahead)
        ahead = None  # the run owns it now
        run.start()
        info = run.run_to_end()
    finally:
        if ahead is not None:
            ahead.discard()
        if amp is not None:
            amp.stop()
    return RunResult(info.index, info.task, info.status, run.recorder.path,
                     run.recorder.state_path,
                     Path(info.bids_path) if info.bids_path else None,
                     markers=run.runner.events, online=run.summary, error=info.error)


def _fan_out(callbacks):
    """One runner subscriber calling each of ``callbacks`` (None if there are none)."""
    callbacks = list(callbacks)
    if not callbacks:
        return None

    def notify(state, trial, label, timestamp):
        for callback in callbacks:
            callback(state, trial, label, timestamp)

    return notify


def train_session_model(root, subject, session, model, runs=None, cfg=None, window_s=2.0,
                        step_s=0.1):
    """Train a model on calibration runs of a session and save it with the session.

    The runs are read back from BIDS (:func:`bci_app.session.training.calibration_runs`, as
    the GUI reads them), cropped and filtered as the online engine does, and fitted by the
    one train path (:func:`bci_app.online.train_model.train_model`).

    Parameters
    ----------
    root : str | Path
        The recordings folder.
    subject, session : str
    model : str | Path
        A pipeline file (``models/*.yml``) or the name/stem of one in ``models/``.
    runs : sequence of int | None
        Run numbers (any usable calibration run, aborted ones too); None: the complete and
        interrupted calibration runs (:func:`bci_app.session.training.training_runs`).
    cfg : PseudoOnlineConfig | None
        Classes, window, step, band; None: the protocols' task classes (rest is idle),
        ``window_s`` windows every ``step_s``, 8-35 Hz.
    window_s, step_s : float
        Window and online step of the model when ``cfg`` is None, s.

    Returns
    -------
    path : Path
        The saved ``.bcimodel`` (``derivatives/bci-app/sub-<s>/ses-<e>/models/``).
    report : dict
        What it was trained on (runs, their numbers, task classes, windows per class,
        training accuracy...).

    Raises
    ------
    DataError
        If the session has no such run, or no calibration run to train on.
    """
    from ..online.train_model import train_model
    from ..processing.calibration import PseudoOnlineConfig
    from .training import calibration_runs, task_classes, training_runs

    store = RecordingStore(root)
    sess = store.open_session(subject, session, create=False)
    chosen = training_runs(sess, runs)
    classes = task_classes(chosen)
    if cfg is None:
        cfg = PseudoOnlineConfig(classes=classes, window_s=window_s, step_s=step_s)
    spec = find_model(model)
    recs = calibration_runs(sess, chosen)
    numbers = [r.index for r in chosen]
    trained = train_model(spec, recs, cfg, trained_on={
        "subject": sess.subject, "session": sess.session,
        "runs": [Path(r.bids_path).name for r in chosen], "run_numbers": numbers,
        "task_classes": list(cfg.classes)})
    path = sess.save_model(trained, name=f"sub-{sess.subject}_ses-{sess.session}_"
                                         f"{spec.path.stem}")
    sess.log("training_saved", runs=numbers, statuses={str(r.index): r.status for r in chosen},
             classes=list(cfg.classes), models=[spec.name])
    return path, trained.trained_on
