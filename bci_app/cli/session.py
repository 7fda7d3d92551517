"""``bci-app session``: run a protocol headless, record it, convert it to BIDS.

Examples
--------
A short simulated calibration run, a model trained on it, then an online run with it::

    bci-app session --protocol left_right_hand --subject 01 --session 01 --simulate \\
        --time-scale 0.5 --train mdm
    bci-app session --protocol left_right_hand_online --subject 01 --session 01 --simulate \\
        --time-scale 0.5 --model recordings/derivatives/bci-app/sub-01/ses-01/models/\\
sub-01_ses-01_mdm.bcimodel
    bci-app pseudo-online --dataset recordings/

A later session of the same patient: the earlier sessions and the calibration length
proposed for today are printed first; after a short calibration run, the default model (or
--train) is trained on it plus the earlier sessions' calibration runs::

    bci-app session --protocol left_right_hand --subject 01 --session 02 --simulate \
        --from-previous

Interrupted runs (the application killed mid-run) are recovered at the next start, or with
``bci-app session --recover``.
"""


from .._logging import logger
from ..errors import UsageError
from . import _options as opt

NAME = "session"


def add_parser(subparsers):
    """Add the ``session`` command to an :mod:`argparse` sub-parser collection.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        From ``parser.add_subparsers()``.

    Returns
    -------
    parser : argparse.ArgumentParser
    """
    p = subparsers.add_parser(
        NAME, help="run a protocol headless and record it (XDF + BIDS)",
        description="Run a protocol without a window: the markers go out on LSL, the EEG "
                    "comes from the simulated amplifier (--simulate) or a live LSL stream "
                    "(--stream), a trained model (--model) decodes online and publishes "
                    "its predictions, and LabRecorder records everything to XDF, converted "
                    "to BIDS under --root at the end of the run. Interrupted runs are "
                    "recovered first.")
    p.add_argument("--protocol", metavar="FILE|NAME",
                   help="protocol file (protocols/*.toml) or the name of a shipped one")
    p.add_argument("--subject", metavar="ID", help="subject label, e.g. 01 (created if new)")
    p.add_argument("--session", default="01", metavar="ID",
                   help="session label (default: %(default)s)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--simulate", action="store_true",
                     help="EEG from the simulated amplifier, following the protocol")
    src.add_argument("--stream", metavar="NAME", default=None,
                     help="record a live EEG stream (default without --simulate: the only "
                          "stream of type EEG)")
    p.add_argument("--model", metavar="FILE.bcimodel", default=None,
                   help="trained model: decode online, publish and record the predictions")
    p.add_argument("--train", metavar="YAML|NAME", default=None,
                   help="after the run, train this pipeline (models/*.yml) on the session's "
                        "calibration runs and save it with the session")
    p.add_argument("--from-previous", action="store_true",
                   help="continue the patient's course: print the earlier sessions and the "
                        "calibration length proposed for today before the run; after it, "
                        "train --train (default: the default model) on the session's "
                        "calibration runs plus the earlier sessions' (same classes and "
                        "channels), each session re-centred on its own mean, scores "
                        "cross-validated on today's runs (a first session: today's runs "
                        "only, said so)")
    p.add_argument("--root", default="recordings", metavar="DIR",
                   help="recordings folder (default: %(default)s)")
    p.add_argument("--time-scale", type=float, default=None, metavar="F",
                   help="multiply every duration of the protocol (e.g. 0.1 for demos)")
    p.add_argument("--seed", type=int, default=None, help="seed of the trial order")
    p.add_argument("--skill", type=float, default=0.8, help="simulated subject skill [0, 1]")
    p.add_argument("--amp-seed", type=int, default=None, help="simulated signal seed")
    opt.add_decision(p, smoothing="ONLINE_SMOOTHING")
    p.add_argument("--window", type=float, default=2.0, help="--train window length, s")
    p.add_argument("--step", type=float, default=0.1, help="--train online window step, s")
    eeg = p.add_argument_group(
        "EEG settings of the session (saved with it and written to every recording's BIDS "
        "sidecar; not given: the session's saved value, else the amplifier's stream "
        "description, else the site settings)")
    eeg.add_argument("--line-freq", type=int, choices=(50, 60), default=None, metavar="HZ",
                     help="power line (mains) frequency: 50 or 60 Hz")
    eeg.add_argument("--reference", default=None, metavar="TEXT",
                     help="EEG reference, e.g. 'FCz' or 'linked mastoids'")
    eeg.add_argument("--manufacturer", default=None, metavar="TEXT",
                     help="amplifier manufacturer, e.g. 'Brain Products'")
    eeg.add_argument("--amplifier", default=None, metavar="TEXT",
                     help="amplifier model, e.g. 'BrainAmp DC'")
    who = p.add_argument_group("new subject details (used when the subject is created)")
    who.add_argument("--age", type=int, default=None)
    who.add_argument("--sex", default=None, help="M, F or O")
    who.add_argument("--hand", default=None, help="handedness: R, L or A")
    who.add_argument("--affected-side", default=None, help="left, right, both or none")
    who.add_argument("--notes", default="", help="free notes")
    p.add_argument("--operator", default=None, metavar="NAME",
                   help="who runs the session (stored with it, shown in its report)")
    p.add_argument("--report", action="store_true",
                   help="after the run (and training), write the session report: HTML, and "
                        "PDF when Qt (the gui extra) is installed")
    p.add_argument("--recover", action="store_true",
                   help="only recover interrupted runs of --root (stop orphan recorders, "
                        "convert to BIDS; runs whose conversion failed are converted "
                        "again) and exit")
    opt.add_network(p)
    opt.add_verbose(p)
    return p


def _check_inputs(args):
    """Check every input of a run before anything is created (no subject, no folder).

    Returns
    -------
    subject : Subject | None
        The subject to create (its details checked), or None if it is registered.

    Raises
    ------
    BCIAppError
        The first bad input: the recordings folder, a label, a subject field, an option,
        the protocol, the model file, the pipeline of ``--train`` or the live stream.
    """
    from ..cli_common import check_output_folder
    from ..session.headless import check_run_inputs, registered_subject
    from ..session.layout import check_label
    from ..session.participants import Subject

    check_output_folder(args.root, "--root")
    check_label(args.session, "session")
    known = registered_subject(args.root, args.subject)
    new = None if known else Subject(args.subject, args.age, args.sex, args.hand,
                                     args.affected_side, args.notes)
    opt.decision_settings(args)
    eeg_settings(args)
    if not 0.0 <= args.skill <= 1.0:
        raise UsageError(f"--skill {args.skill:g}: give a simulated skill in [0, 1].")
    if args.from_previous and not args.train:
        from ..resources import DEFAULT_MODEL

        args.train = DEFAULT_MODEL
    if args.train:
        from ..decoding.loading import find_model

        if args.window <= 0 or args.step <= 0:
            raise UsageError(f"--window {args.window:g} --step {args.step:g}: give positive "
                             "durations (s).")
        find_model(args.train)
    check_run_inputs(args.protocol, args.model, (known or new).affected_hand,
                     args.time_scale)
    if not args.simulate and new is not None:  # the stream, before the subject is created
        from ..acquisition.lsl import find_stream
        from ..session.orchestrator import STREAM_TIMEOUT_S

        find_stream(args.stream, "eeg", timeout=STREAM_TIMEOUT_S)
    return new


def eeg_settings(args):
    """The EEG settings given on the command line (checked), as the session stores them
    (:meth:`bci_app.session.Session.set_eeg_settings`); only those given."""
    from ..session.site import check_eeg_settings

    given = {"line_freq": args.line_freq, "eeg_reference": args.reference,
             "amplifier_manufacturer": args.manufacturer, "amplifier_model": args.amplifier}
    return check_eeg_settings(**{k: v for k, v in given.items() if v is not None})


def run(args):
    """Execute ``bci-app session`` with parsed arguments; returns the exit code.

    Raises
    ------
    BCIAppError
        On bad input (file, field, stream named in the message); data already recorded
        is converted before the error propagates.
    """
    from ..acquisition.lsl import use_loopback
    from ..session.store import RecordingStore

    if not args.network:
        use_loopback()
    if args.recover:
        store = RecordingStore(args.root)
        items = store.recover(retry_failed=True)
        for item in items:
            what = item.bids_path or f"not converted ({item.error})"
            print(f"recovered {item.xdf_path}"
                  f"{' (orphan recorder stopped)' if item.orphan_stopped else ''}: {what}")
        print(f"{len(items)} interrupted run(s) recovered in {store.root}")
        return 0 if all(i.error is None for i in items) else 1
    if not args.protocol or not args.subject:
        raise UsageError("--protocol and --subject are required (or use --recover).")
    new_subject = _check_inputs(args)  # every input, before anything is created
    store = RecordingStore(args.root)
    if not args.simulate and args.time_scale not in (None, 1.0):
        logger.warning("--time-scale with a live amplifier: the subject sees the shortened "
                       "phases.")
    if new_subject is not None and not store.has_subject(args.subject):
        store.create_subject(new_subject.id, age=new_subject.age, sex=new_subject.sex,
                             hand=new_subject.hand, affected_side=new_subject.affected_side,
                             notes=new_subject.notes)
        print(f"subject {args.subject} created in {store.participants_tsv}")
    settings = eeg_settings(args)
    if settings:  # saved with the session: its later runs say the same
        store.open_session(args.subject, args.session).set_eeg_settings(**settings)
    if args.operator is not None:
        store.open_session(args.subject, args.session).set_operator(args.operator)
    from ..session.headless import record_run, train_session_model

    if args.from_previous:
        print_continuation(store.open_session(args.subject, args.session), args.protocol)
    result = record_run(
        args.protocol, store.root, args.subject, args.session, model=args.model,
        simulate=args.simulate, eeg_stream=args.stream, time_scale=args.time_scale,
        seed=args.seed, skill=args.skill, amp_seed=args.amp_seed, **opt.decision_settings(args))
    print(f"run {result.run} ({result.task}) of sub-{args.subject} ses-{args.session}: "
          f"{result.status}, {len(result.markers)} markers\n  BIDS: {result.bids_path}\n"
          f"  XDF:  {result.xdf_path}")
    if result.online:
        summary = result.online
        lat = (f", latency p50 {summary['latency_p50_ms']:.1f} ms"
               if "latency_p50_ms" in summary else "")
        print(f"  online: {summary['windows']} windows{lat}, decisions "
              f"{summary.get('decisions', {})}")
    if args.train and args.from_previous:
        train_from_previous(store.open_session(args.subject, args.session), args.train,
                            window_s=args.window, step_s=args.step)
    elif args.train:
        path, report = train_session_model(store.root, args.subject, args.session,
                                           args.train, window_s=args.window,
                                           step_s=args.step)
        counts = ", ".join(f"{k} {v}" for k, v in report["windows_per_class"].items())
        used = ", ".join(str(n) for n in report.get("run_numbers", ())) or "?"
        print(f"  trained {args.train!r} on run(s) {used} (classes "
              f"{', '.join(report.get('task_classes', ()))}; {counts} windows, "
              f"training accuracy {report['training_accuracy']:.2f})\n  model: {path}")
    if args.report:
        write_session_report(store.open_session(args.subject, args.session))
    return 0


def write_session_report(session):
    """Write the session's report (:func:`bci_app.session.report.build_report`): HTML, and
    PDF by Qt's writer (offscreen: no screen needed) when PySide6 is installed. Prints and
    returns the paths written."""
    from ..session.report import build_report

    pdf_writer = None
    try:
        from PySide6 import QtGui

        from ..gui.pdf import write_pdf
    except ImportError:
        logger.warning("report: PySide6 is not installed (the gui extra): HTML only.")
    else:
        if QtGui.QGuiApplication.instance() is None:
            # kept for the process: Qt's PDF writer needs one application, any platform
            write_session_report.app = QtGui.QGuiApplication(
                ["bci-app", "-platform", "offscreen"])
        pdf_writer = write_pdf
    path, _ = build_report(session, pdf_writer=pdf_writer)
    written = [path] + ([path.with_suffix(".pdf")] if pdf_writer else [])
    print("  report: " + ", ".join(str(p) for p in written if p.is_file()))
    return written


def print_continuation(session, protocol=None):
    """Print the patient's earlier sessions and the calibration length proposed for today
    (:func:`bci_app.session.continuation.plan_continuation`; ``protocol``: today's, its
    timing and length when it is a calibration protocol). Returns the plan."""
    from ..session.continuation import plan_continuation
    from ..session.orchestrator import resolve_protocol, subject_hand

    calibration = None
    if protocol is not None:
        proto = resolve_protocol(protocol, subject_hand(session))
        if proto.run_type == "calibration":
            calibration = proto
    plan = plan_continuation(session, protocol=calibration,
                             classes=calibration.classes if calibration else None)
    print(f"{plan.earlier_text()}\n{plan.proposal_text()}")
    return plan


def train_from_previous(session, model, runs=None, window_s=2.0, step_s=0.1):
    """Train ``model`` on the session's calibration runs plus the patient's earlier sessions
    (:func:`bci_app.session.continuation.train_with_earlier_sessions`, the training of the
    GUI's "Train with earlier sessions") and print what it was trained on and its
    cross-validated scores beside chance. Without an earlier session to train with, the
    model is trained on today's runs only, and that is said.

    Returns
    -------
    result : TrainingResult
        Saved with the session.

    Raises
    ------
    DataError
        The training failed (the message says why).
    """
    from ..decoding.loading import find_model
    from ..errors import DataError
    from ..session.continuation import NoEarlierSession, train_with_earlier_sessions
    from ..session.training import TrainingJob

    spec = find_model(model)
    failed = []
    try:
        job = train_with_earlier_sessions(session, [spec], runs, window_s=window_s,
                                          step_s=step_s, on_failed=failed.append,
                                          start=False)
    except NoEarlierSession as exc:
        print(f"  {exc}")
        job = TrainingJob(session, [spec], runs, session.meta.get("bad_channels") or (),
                          window_s=window_s, step_s=step_s, on_failed=failed.append)
    job.start().join()
    if failed or job.result is None:
        raise DataError(f"training on sub-{session.subject} ses-{session.label} failed: "
                        f"{failed[0] if failed else 'no result'}")
    result = job.result
    used = ", ".join(str(n) for n in result.runs)
    for entry in (result.transfer or {}).get("earlier_sessions", ()):
        print(f"  with ses-{entry['session']}: run(s) "
              f"{', '.join(str(n) for n in entry['run_numbers'])} "
              f"({sum(entry['windows_per_class'].values())} windows)")
    for score in result.scores:
        print(f"  trained {score['pipeline']!r} on run(s) {used} (classes "
              f"{', '.join(result.classes)}): cross-validated offline accuracy "
              f"{score['offline_accuracy']:.2f} (chance "
              f"{score['offline_majority_accuracy']:.2f}; binomial p < 0.05: "
              f"{score['offline_binomial_accuracy']:.2f} over "
              f"{score['offline_n_trials']} trials), pseudo-online nMCC "
              f"{score['nmcc']:.2f} (shuffled {score['shuffled_nmcc']:.2f})\n"
              f"  model: {result.paths[score['pipeline']]}")
    return result
