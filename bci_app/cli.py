"""The ``bci-app`` command. Thin: it parses arguments and calls the packages."""

import argparse
import json
import os
import sys
import time
from pathlib import Path

from . import __version__
from ._logging import set_log_level
from .cli_common import EXIT_CODES_HELP, EXIT_OK, run_command
from .errors import UsageError

_MODELS_HELP = ("folder of model files, or one .yml file (default: the shipped models plus "
                "the user's own in $BCI_APP_HOME/models or the user data folder)")


def _add_common(parser):
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-v info, -vv debug)")


def _build_parser():
    parser = argparse.ArgumentParser(
        prog="bci-app",
        description="Motor-imagery BCI: acquisition, pseudo-online decoding, evaluation.",
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument("--version", action="version", version=f"bci-app {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    ev = sub.add_parser(
        "evaluate", help="offline MOABB evaluation of models on local data",
        description="Run a MOABB evaluation of the models in a folder on a local dataset "
                    "(never downloads). Writes results.csv, scores.txt and scores.png.")
    ev.add_argument("--dataset", default="PhysionetMI",
                    help="PhysionetMI, SyntheticMI, or a MOABB dataset class name with local "
                         "files (default: %(default)s)")
    ev.add_argument("--subjects", type=int, nargs="+", metavar="N",
                    help="subject ids (default: all of the dataset)")
    ev.add_argument("--paradigm", default="left-right",
                    choices=["left-right", "hands-feet", "left-right-feet"])
    ev.add_argument("--evaluation", default="within-session",
                    choices=["within-session", "cross-session", "cross-subject"])
    ev.add_argument("--models", default=None, metavar="PATH",
                    help=_MODELS_HELP)
    ev.add_argument("--only", nargs="+", metavar="NAME",
                    help="evaluate only these models (by name or file stem)")
    ev.add_argument("--out", default="results", metavar="DIR",
                    help="output folder (default: %(default)s)")
    ev.add_argument("--data-path", default=None, metavar="DIR",
                    help="MNE data folder (default: $MNE_DATA)")
    ev.add_argument("--fmin", type=float, default=8.0, help="band-pass low edge, Hz")
    ev.add_argument("--fmax", type=float, default=35.0, help="band-pass high edge, Hz")
    ev.add_argument("--n-jobs", type=int, default=1, help="parallel jobs")
    ev.add_argument("--no-progress", action="store_true", help="no progress bar")
    ev_where = ev.add_mutually_exclusive_group()
    ev_where.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                          help="run the tasks on the Dask cluster of this scheduler (workers "
                               "read their own MNE_DATA; --data-path is their path)")
    ev_where.add_argument("--local-cluster", type=int, default=None, metavar="N",
                          help="run the tasks on a Dask cluster of N local worker processes")
    _add_common(ev)

    po = sub.add_parser(
        "pseudo-online", help="time-ordered pseudo-online evaluation (nMCC, ITR)",
        description="Calibrate each model on the first runs (or trials) of every session, then "
                    "sweep the later runs window by window with the online engine. Writes "
                    "predictions.csv, metrics.csv, scores.txt and timeline_S<subject>.png.")
    po.add_argument("--dataset", default="PhysionetMI",
                    help="PhysionetMI, SyntheticMI, a MOABB dataset with local files, or a "
                         "recording file (EDF, FIF, BrainVision, ...)")
    po.add_argument("--subjects", type=int, nargs="+", metavar="N")
    po.add_argument("--paradigm", default="left-right",
                    choices=["left-right", "hands-feet", "left-right-feet"])
    po.add_argument("--models", default=None, metavar="PATH", help=_MODELS_HELP)
    po.add_argument("--only", nargs="+", metavar="NAME")
    po.add_argument("--window", type=float, default=2.0, help="window length, s")
    po.add_argument("--step", type=float, default=0.25, help="window step, s")
    po.add_argument("--calibration-runs", type=int, default=None,
                    help="first runs of each session used for calibration (default 1)")
    po.add_argument("--calibration-trials", type=int, default=0,
                    help="calibrate on the first N trials instead of whole runs")
    po.add_argument("--idle", choices=["class", "threshold"], default="class",
                    help="idle as a trained class (rest periods) or by a confidence threshold")
    po.add_argument("--threshold", type=float, default=0.0,
                    help="confidence below which the decision is idle")
    po.add_argument("--smoothing", type=int, default=1,
                    help="average the probabilities of the last N windows")
    po.add_argument("--event-map", nargs="+", default=None, metavar="ANNOT=CLASS",
                    help="for a file: map annotations to classes, e.g. T1=left_hand")
    po.add_argument("--out", default="results", metavar="DIR")
    po.add_argument("--data-path", default=None, metavar="DIR")
    po.add_argument("--fmin", type=float, default=8.0)
    po.add_argument("--fmax", type=float, default=35.0)
    po.add_argument("--no-progress", action="store_true", help="no progress bar")
    po_where = po.add_mutually_exclusive_group()
    po_where.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                          help="run the tasks on the Dask cluster of this scheduler (workers "
                               "read their own MNE_DATA; --data-path is their path)")
    po_where.add_argument("--local-cluster", type=int, default=None, metavar="N",
                          help="run the tasks on a Dask cluster of N local worker processes")
    _add_common(po)

    sm = sub.add_parser(
        "simulate", help="stream synthetic motor-imagery EEG over LSL (simulated amplifier)",
        description="Publish synthetic motor-imagery EEG as an LSL stream (type eeg, float32, "
                    "volts) until Ctrl-C or --duration. The imagined class follows the "
                    "markers of --markers: a class name (left_hand, right_hand, feet) starts "
                    "its imagery, rest/idle/end go back to rest. LSL stays on this machine "
                    "unless --network is given or your own LSL configuration (LSLAPICFG, "
                    "lsl_api.cfg) is found.")
    sm.add_argument("--name", default="bci-app-sim",
                    help="LSL stream name (default: %(default)s)")
    sm.add_argument("--channels", nargs="+", default=None, metavar="CH",
                    help="10-05 channel names (default: 22 sensorimotor channels)")
    sm.add_argument("--sfreq", type=float, default=250.0,
                    help="sampling rate, Hz (default: %(default)s)")
    sm.add_argument("--chunk-size", type=int, default=10,
                    help="samples per pushed chunk (default: %(default)s)")
    sm.add_argument("--skill", type=float, default=0.8,
                    help="simulated subject skill in [0, 1], the depth of the imagery ERD "
                         "(default: %(default)s)")
    sm.add_argument("--seed", type=int, default=None, help="random seed (same seed, same signal)")
    sm.add_argument("--markers", default=None, metavar="STREAM",
                    help="name of an LSL marker stream to follow (e.g. the protocol's)")
    sm.add_argument("--marker-map", nargs="+", default=None, metavar="MARKER=CLASS",
                    help="extra markers, e.g. 769=left_hand 770=right_hand pause=rest")
    sm.add_argument("--duration", type=float, default=None,
                    help="stop after this many seconds (default: until Ctrl-C)")
    sm.add_argument("--no-artifacts", action="store_true", help="no blinks or muscle bursts")
    sm.add_argument("--network", action="store_true",
                    help="use liblsl's network configuration instead of keeping LSL on "
                         "this machine")
    _add_common(sm)

    sm.add_argument("--auto", action="store_true",
                    help="run a built-in cue cycle (rest, then imagery of each class in "
                         "turn) and publish its markers on '<name>-markers'")
    sm.add_argument("--classes", nargs="+", default=["left_hand", "right_hand"],
                    metavar="CLASS", help="classes of the --auto cycle (default: %(default)s)")
    sm.add_argument("--rest", type=float, default=3.0, help="--auto rest period, s")
    sm.add_argument("--imagery", type=float, default=4.0, help="--auto imagery period, s")

    tr = sub.add_parser(
        "train", help="train a model from calibration data and save it (.bcimodel)",
        description="Fit a pipeline of models/ on calibration data, cropped and filtered as "
                    "the online engine does, and save it with its settings in a safe "
                    "(non-pickle) .bcimodel file for `bci-app online`.")
    tr.add_argument("--model", required=True, metavar="YAML|NAME",
                    help="a model file, or the name/stem of one in --models")
    tr.add_argument("--models", default=None, metavar="PATH", help=_MODELS_HELP)
    src = tr.add_mutually_exclusive_group(required=True)
    src.add_argument("--file", nargs="+", metavar="FILE",
                     help="calibration recording(s), any MNE-readable format")
    src.add_argument("--dataset", metavar="NAME",
                     help="a dataset (e.g. PhysionetMI): first --calibration-runs of --subject")
    src.add_argument("--simulated", action="store_true",
                     help="a calibration run of the simulated amplifier (same montage/rate "
                          "as `bci-app simulate`)")
    tr.add_argument("--subject", type=int, default=1, help="subject of --dataset")
    tr.add_argument("--calibration-runs", type=int, default=1, help="runs of --dataset used")
    tr.add_argument("--paradigm", default="left-right",
                    help="class set: left-right, hands-feet or left-right-feet (default: %(default)s)")
    tr.add_argument("--event-map", nargs="+", default=None, metavar="ANNOT=CLASS",
                    help="rename a --file's annotations, e.g. T1=left_hand T2=right_hand")
    tr.add_argument("--trials", type=int, default=20, help="--simulated trials per class")
    tr.add_argument("--skill", type=float, default=0.8, help="--simulated subject skill")
    tr.add_argument("--seed", type=int, default=None, help="--simulated random seed")
    tr.add_argument("--window", type=float, default=2.0, help="window length, s")
    tr.add_argument("--step", type=float, default=0.1, help="online window step, s")
    tr.add_argument("--fmin", type=float, default=8.0)
    tr.add_argument("--fmax", type=float, default=35.0)
    tr.add_argument("--idle", choices=["class", "threshold"], default="class",
                    help="rest as a class of the model (default) or only a threshold")
    tr.add_argument("--data-path", default=None, metavar="DIR")
    tr.add_argument("--out", required=True, metavar="FILE.bcimodel")
    _add_common(tr)

    on = sub.add_parser(
        "online", help="decode a live LSL EEG stream with a trained model",
        description="Connect to an LSL EEG stream, check it against the model (channels, "
                    "rate), and decode it window by window on a worker thread. Decisions are "
                    "printed as they change; predictions, markers, status changes and gaps "
                    "are logged under --log. Stops on Ctrl-C or after --duration.")
    on.add_argument("--model", metavar="FILE.bcimodel", help="a model from `bci-app train`")
    on.add_argument("--stream", default=None, metavar="NAME",
                    help="EEG stream name (default: the only stream of type --type)")
    on.add_argument("--type", default="eeg", help="EEG stream type (default: %(default)s)")
    on.add_argument("--markers", default=None, metavar="STREAM",
                    help="a marker stream to log with the predictions")
    on.add_argument("--list", action="store_true", help="list the LSL streams and exit")
    on.add_argument("--step", type=float, default=None, help="window step, s (default: model's)")
    on.add_argument("--smoothing", type=int, default=4,
                    help="windows averaged by the decision rule (default: %(default)s)")
    on.add_argument("--threshold", type=float, default=0.0,
                    help="confidence below which the decision is idle (default: %(default)s)")
    on.add_argument("--duration", type=float, default=None, help="stop after this many s")
    on.add_argument("--log", default=None, metavar="DIR",
                    help="folder for predictions.csv and events.csv (default: "
                         "recordings/online/<date-time>)")
    on.add_argument("--unit-scale", type=float, default=None,
                    help="multiply samples by this to get volts (e.g. 1e-6 for undeclared uV)")
    on.add_argument("--timeout", type=float, default=10.0,
                    help="seconds to wait for the stream (default: %(default)s)")
    on.add_argument("--quiet", action="store_true", help="print only the summary")
    on.add_argument("--network", action="store_true",
                    help="use liblsl's network configuration instead of this machine only")
    _add_common(on)

    rp = sub.add_parser(
        "replay", help="publish a recording as LSL streams in real time",
        description="Replay a recording (EDF, BDF, GDF, FIF, BrainVision, EEGLAB...) as an "
                    "LSL EEG stream and its annotations as string markers on "
                    "'<name>-annotations', at real-time speed.")
    rp.add_argument("file", metavar="FILE")
    rp.add_argument("--name", default="bci-app-replay", help="stream name (default: %(default)s)")
    rp.add_argument("--chunk-size", type=int, default=10, help="samples per chunk")
    rp.add_argument("--repeat", type=int, default=1, help="times to play the file")
    rp.add_argument("--loop", action="store_true", help="play until Ctrl-C")
    rp.add_argument("--event-map", nargs="+", default=None, metavar="ANNOT=CLASS",
                    help="rename annotations, e.g. T1=left_hand T2=right_hand")
    rp.add_argument("--network", action="store_true",
                    help="use liblsl's network configuration instead of this machine only")
    _add_common(rp)

    from .cli_session import add_parser as _add_session_parser

    _add_session_parser(sub)
    sub.add_parser("gui", help="the clinical application (default when no command is given; "
                              "`bci-app gui --help` for its options, --autopilot for a short "
                              "demo session)", add_help=False)
    md = sub.add_parser("models", help="list the models of a folder and check their files")
    md.add_argument("--models", default=None, metavar="PATH", help=_MODELS_HELP)
    _add_common(md)
    return parser


def _cmd_evaluate(args):
    from .decoding.loading import load_models
    from .evaluation.datasets import resolve_dataset
    from .evaluation.offline import evaluate_models
    from .evaluation.report import format_score_table, plot_scores, score_table

    specs = load_models(args.models, names=args.only)
    out = Path(args.out)
    if args.scheduler or args.local_cluster:
        # On a Dask cluster: the workers resolve the dataset from their own data folder.
        from .evaluation.distributed import evaluate_distributed

        start = time.perf_counter()
        results = evaluate_distributed(
            specs, args.dataset, subjects=args.subjects, paradigm=args.paradigm,
            evaluation=args.evaluation, out_dir=out, n_jobs=args.n_jobs, fmin=args.fmin,
            fmax=args.fmax, data_path=args.data_path, progress=not args.no_progress,
            scheduler=args.scheduler, local_cluster=args.local_cluster,
            quiet=args.verbose < 2)
        code = str(results["dataset"].iloc[0])
    else:
        dataset = resolve_dataset(args.dataset, args.subjects, args.paradigm, args.data_path)
        start = time.perf_counter()
        results = evaluate_models(specs, dataset, paradigm=args.paradigm,
                                  evaluation=args.evaluation, out_dir=out, n_jobs=args.n_jobs,
                                  fmin=args.fmin, fmax=args.fmax, progress=not args.no_progress)
        code = dataset.code
    table = score_table(results)
    text = format_score_table(table)
    (out / "scores.txt").write_text(text + "\n", encoding="utf-8")
    title = f"{code} {args.paradigm}, {args.evaluation}"
    png = plot_scores(results, out / "scores.png", title=title)
    print(f"\n{title}: score per pipeline and subject\n")
    print(text)
    print(f"\nresults: {out / 'results.csv'}\ntable:   {out / 'scores.txt'}\nplot:    {png}")
    print(f"({time.perf_counter() - start:.0f} s)")
    return 0


def _parse_event_map(items):

    mapping = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise UsageError(f"--event-map: {item!r} is not ANNOTATION=CLASS.")
        mapping[key] = value
    return mapping


def _cmd_pseudo_online(args):
    from .decoding.loading import load_models
    from .evaluation.datasets import PARADIGMS, resolve_dataset
    from .evaluation.pseudo_online import PseudoOnlineConfig, file_session, run_pseudo_online
    from .evaluation.report import format_metrics_table

    specs = load_models(args.models, names=args.only)
    runs = args.calibration_runs
    if runs is None:
        runs = 0 if args.calibration_trials else 1
    cfg = PseudoOnlineConfig(
        classes=PARADIGMS[args.paradigm][0], window_s=args.window, step_s=args.step,
        calibration_runs=runs, calibration_trials=args.calibration_trials, idle=args.idle,
        threshold=args.threshold, smoothing=args.smoothing, l_freq=args.fmin,
        h_freq=args.fmax)
    out = Path(args.out)
    if args.scheduler or args.local_cluster:
        # On a Dask cluster: the workers read the dataset (or the file) themselves.
        from .evaluation.distributed import pseudo_online_distributed

        is_file = Path(args.dataset).is_file()
        start = time.perf_counter()
        _, metrics = pseudo_online_distributed(
            specs, cfg, dataset=None if is_file else args.dataset, subjects=args.subjects,
            paradigm=args.paradigm, recording=args.dataset if is_file else None,
            event_map=_parse_event_map(args.event_map), data_path=args.data_path,
            out_dir=out, progress=not args.no_progress, scheduler=args.scheduler,
            local_cluster=args.local_cluster, quiet=args.verbose < 2)
    else:
        if Path(args.dataset).is_file():
            source = file_session(args.dataset, _parse_event_map(args.event_map))
        else:
            source = resolve_dataset(args.dataset, args.subjects, args.paradigm,
                                     args.data_path)
        start = time.perf_counter()
        _, metrics = run_pseudo_online(specs, source, cfg, out_dir=out,
                                       progress=not args.no_progress)
    text = format_metrics_table(metrics)
    (out / "scores.txt").write_text(text + "\n", encoding="utf-8")
    print(f"\npseudo-online, window {cfg.window_s} s, step {cfg.step_s} s, idle={cfg.idle}: "
          "nMCC per subject, then means\n")
    print(text)
    print(f"\npredictions: {out / 'predictions.csv'}\nmetrics:     {out / 'metrics.csv'}\n"
          f"timelines:   {out}/timeline_S*.png\n({time.perf_counter() - start:.0f} s)")
    return 0


def _cmd_train(args):
    from .decoding.loading import find_model
    from .decoding.persistence import MODEL_SUFFIX, TrainedModel, save_model
    from .errors import DataError
    from .evaluation.datasets import PARADIGMS
    from .evaluation.pseudo_online import PseudoOnlineConfig, file_session, run_from_raw
    from .online.training import train_decoder

    if args.paradigm not in PARADIGMS:
        raise UsageError(f"--paradigm {args.paradigm!r}: use one of {sorted(PARADIGMS)}.")
    out = Path(args.out)
    if out.suffix != MODEL_SUFFIX:
        raise UsageError(f"--out {out}: a trained model file ends in {MODEL_SUFFIX}.")
    spec = find_model(args.model, args.models)
    classes = PARADIGMS[args.paradigm][0]
    cfg = PseudoOnlineConfig(classes=tuple(classes), window_s=args.window, step_s=args.step,
                             idle=args.idle, l_freq=args.fmin, h_freq=args.fmax)
    if args.file:
        runs, source = [], {"files": [str(Path(f).resolve()) for f in args.file]}
        for f in args.file:
            runs += file_session(f, _parse_event_map(args.event_map))
    elif args.simulated:
        from .acquisition.simulation import DEFAULT_CHANNELS, make_trial_schedule, simulate_mi_raw

        schedule = make_trial_schedule(classes, args.trials, seed=args.seed)
        raw = simulate_mi_raw(schedule, ch_names=DEFAULT_CHANNELS, skill=args.skill,
                              seed=args.seed)
        runs = [run_from_raw(raw, name="simulated-calibration")]
        source = {"simulated": {"trials_per_class": args.trials, "skill": args.skill,
                                "seed": args.seed}}
    else:
        from .evaluation.datasets import resolve_dataset
        from .evaluation.pseudo_online import dataset_sessions

        dataset = resolve_dataset(args.dataset, [args.subject], args.paradigm, args.data_path)
        session, all_runs = next(iter(dataset_sessions(dataset, args.subject)))
        if args.calibration_runs < 1 or args.calibration_runs > len(all_runs):
            raise DataError(f"--calibration-runs {args.calibration_runs}: subject "
                            f"{args.subject} session {session} has {len(all_runs)} run(s).")
        runs = all_runs[:args.calibration_runs]
        source = {"dataset": args.dataset, "subject": args.subject, "session": session}
    model, report = train_decoder(spec.pipeline, runs, cfg, param_grid=spec.param_grid)
    report.update(source)
    trained = TrainedModel(
        model, spec.name, runs[0].sfreq, runs[0].ch_names, window_s=args.window,
        step_s=args.step, l_freq=args.fmin, h_freq=args.fmax,
        pipeline_file=spec.path.read_text(encoding="utf-8"), trained_on=report)
    save_model(trained, out)
    counts = ", ".join(f"{k} {v}" for k, v in report["windows_per_class"].items())
    print(f"trained {spec.name!r} on {len(runs)} run(s): {counts} windows; training accuracy "
          f"{report['training_accuracy']:.2f}\nsaved {out} ({len(runs[0].ch_names)} channels, "
          f"{runs[0].sfreq:g} Hz, window {args.window} s, step {args.step} s)")
    return 0


def _cmd_online(args):
    from .acquisition.lsl import list_streams, use_loopback
    from .acquisition.stream import EEGInput, MarkerInput
    from .decoding.persistence import load_model
    from .errors import StreamError
    from .online.live import OnlineDecoder

    if not args.network:
        use_loopback()
    if args.list:
        streams = list_streams(timeout=1.0)
        print("\n".join(f"{d}  [source_id {d.source_id!r}]" for d in streams)
              or "no LSL stream found")
        return 0
    if not args.model:
        raise UsageError("--model FILE.bcimodel is required (train one with `bci-app train`).")
    trained = load_model(args.model)
    overrides = {"smoothing": args.smoothing, "threshold": args.threshold}
    if args.step is not None:
        overrides["step_s"] = args.step
    decoder = trained.decoder(**overrides)
    log = Path(args.log) if args.log else (
        Path("recordings") / "online" / time.strftime("%Y%m%d-%H%M%S"))
    state = {"decision": None}

    def show(kind, payload):
        if args.quiet:
            return
        if kind == "status":
            print(f"[{payload.status}] {payload.message}", flush=True)
        elif kind == "markers":
            for stamp, text in payload:
                print(f"{stamp:12.3f}  marker {text}", flush=True)
        elif kind == "predictions":
            for t, d, p in zip(payload.times, payload.decisions, payload.smoothed):
                if d != state["decision"]:
                    state["decision"] = d
                    probs = " ".join(f"{c}={v:.2f}" for c, v in zip(payload.classes, p))
                    print(f"{t:12.3f}  {d:<12} {probs}", flush=True)

    eeg = EEGInput(args.stream, args.type, channels=trained.ch_names, sfreq=trained.sfreq,
                   timeout=args.timeout, unit_scale=args.unit_scale)
    markers = MarkerInput(args.markers, timeout=args.timeout) if args.markers else None
    online = OnlineDecoder(decoder, eeg, markers=markers, log_dir=log)
    online.subscribe(show)
    online.start()
    print(f"decoding {eeg.description} with {trained.name!r} "
          f"(classes {', '.join(trained.classes)}; window {decoder.window_s} s, step "
          f"{decoder.step_s} s); log in {log}; Ctrl-C to stop", flush=True)
    deadline = None if args.duration is None else time.monotonic() + args.duration
    try:
        while online.is_running and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.1)
    except KeyboardInterrupt:
        pass
    finally:
        online.stop()
    summary = online.summary()
    (log / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    lat = (f"latency p50 {summary['latency_p50_ms']:.1f} ms, p95 "
           f"{summary['latency_p95_ms']:.1f} ms" if "latency_p50_ms" in summary else "no window")
    print(f"{summary['windows']} windows from {summary['samples']} samples, "
          f"{summary['gaps']} gap(s); {lat}; decisions {summary.get('decisions', {})}")
    if online.error is not None:
        raise StreamError(f"decoding stopped on an error: {online.error}")
    return 0


def _cmd_replay(args):
    import numpy as np

    from .acquisition.lsl import use_loopback
    from .acquisition.replay import Replay

    if not args.network:
        use_loopback()
    replay = Replay(args.file, name=args.name, chunk_size=args.chunk_size,
                    repeat=np.inf if args.loop else args.repeat,
                    event_map=_parse_event_map(args.event_map))
    with replay:
        raw = replay.raw
        print(f"replaying {args.file} as {replay.name!r}: {len(raw.ch_names)} channels at "
              f"{raw.info['sfreq']:g} Hz, {replay.duration:.1f} s"
              + (f", markers on {replay.marker_stream!r}" if replay.marker_stream else "")
              + "; Ctrl-C to stop", flush=True)
        try:
            replay.wait()
        except KeyboardInterrupt:
            pass
    print("replay ended")
    return 0


def _cmd_session(args):
    from .cli_session import run

    return run(args)


def _cmd_models(args):
    from .decoding.loading import load_models
    from .resources import search_path

    for spec in load_models(args.models):
        steps = " -> ".join(type(s).__name__ for _, s in spec.pipeline.steps)
        grid = f"  [grid: {', '.join(spec.param_grid)}]" if spec.param_grid else ""
        print(f"{spec.name:<22} {spec.path.name:<24} {steps}{grid}")
    where = [args.models] if args.models else search_path("models")
    print(f"\nfrom {' + '.join(str(w) for w in where)}")
    return EXIT_OK


class _AutoCues:
    """A fixed cue cycle for a stand-alone simulator: rest, then each class in turn.

    Sets the simulator's class directly and publishes the same changes as string markers on
    ``<name>-markers`` (``rest``, then the class name), so an online decoder can log them.
    """

    def __init__(self, amp, classes, rest_s, imagery_s):
        from mne_lsl.lsl import StreamInfo, StreamOutlet, local_clock

        self.name = f"{amp.name}-markers"
        info = StreamInfo(self.name, "Markers", 1, 0.0, "string", f"{amp.source_id}-cues")
        self._outlet = StreamOutlet(info)
        self._amp = amp
        self._plan = [(None, rest_s)] + [x for c in classes for x in ((c, imagery_s),
                                                                      (None, rest_s))][:-1]
        self._plan = self._plan if len(self._plan) > 1 else [(None, rest_s)]
        self._index = -1
        self._next = local_clock()

    def poll(self):
        from mne_lsl.lsl import local_clock

        now = local_clock()
        if now < self._next:
            return
        self._index = (self._index + 1) % len(self._plan)
        label, duration = self._plan[self._index]
        stamp = self._next
        self._amp.set_label(label, stamp)
        self._outlet.push_sample([label or "rest"], stamp)
        self._next = stamp + duration

    def close(self):
        destroy = getattr(self._outlet, "_del", None)
        if destroy is not None:
            destroy()


def _cmd_simulate(args):
    from .acquisition.lsl import use_loopback
    from .acquisition.simulation import DEFAULT_CHANNELS
    from .acquisition.simulation import CLASS_AREAS
    from .acquisition.simulator import REST_MARKERS, SimulatedAmplifier
    from .errors import StreamError

    marker_map = {}
    for item in args.marker_map or []:
        marker, sep, label = item.partition("=")
        if not sep or not marker or not label:
            raise UsageError(f"--marker-map: {item!r} is not MARKER=CLASS.")
        marker_map[marker] = None if label.lower() in REST_MARKERS + ("none",) else label
    if args.auto:
        if args.markers:
            raise UsageError("--auto runs its own cue cycle: do not combine it with --markers.")
        if args.rest <= 0 or args.imagery <= 0:
            raise UsageError("--rest and --imagery must be positive (s).")
        unknown = [c for c in args.classes if c not in CLASS_AREAS]
        if unknown:
            raise UsageError(f"--classes {unknown}: the simulator knows {sorted(CLASS_AREAS)}.")
    if not args.network:
        use_loopback()
    amp = SimulatedAmplifier(
        name=args.name, ch_names=args.channels or DEFAULT_CHANNELS, sfreq=args.sfreq,
        chunk_size=args.chunk_size, skill=args.skill, seed=args.seed,
        marker_stream=args.markers, marker_map=marker_map, artifacts=not args.no_artifacts)
    deadline = None if args.duration is None else time.monotonic() + args.duration
    with amp:
        cue = _AutoCues(amp, args.classes, args.rest, args.imagery) if args.auto else None
        print(f"streaming {amp.name!r}: {len(amp.ch_names)} channels at {amp.sfreq:g} Hz, "
              f"type eeg, volts (source_id {amp.source_id})"
              + (f", following markers of {args.markers!r}" if args.markers else "")
              + (f", cue cycle markers on {cue.name!r}" if cue else "")
              + "; Ctrl-C to stop", flush=True)
        try:
            while amp.is_running and (deadline is None or time.monotonic() < deadline):
                if cue is not None:
                    cue.poll()
                time.sleep(0.02)
        except KeyboardInterrupt:
            pass  # Ctrl-C is the normal way to stop
        finally:
            if cue is not None:
                cue.close()
    if amp.error is not None:
        raise StreamError(f"streaming stopped on an error: {amp.error}")
    print(f"stopped after {amp.samples_pushed} samples "
          f"({amp.samples_pushed / amp.sfreq:.1f} s)")
    return 0


_COMMANDS = {"evaluate": _cmd_evaluate, "pseudo-online": _cmd_pseudo_online,
             "simulate": _cmd_simulate, "models": _cmd_models, "train": _cmd_train,
             "online": _cmd_online, "replay": _cmd_replay, "session": _cmd_session}


def _quiet_dependencies(verbose):
    """Keep MNE's per-file chatter and known upstream deprecation notices off the console."""
    import warnings

    if verbose < 2:
        import mne

        mne.set_log_level("WARNING")
        warnings.filterwarnings("ignore", message="Montage name 'standard_1005'",
                                category=FutureWarning)
        warnings.filterwarnings("ignore", category=FutureWarning, module="moabb")
        warnings.filterwarnings("ignore", message="Creating a dataset without passing data")
        # pyRiemann's iterative means on ill-conditioned connectivity matrices (imaginary
        # coherence) stop at their iteration limit; the result is used as it is.
        warnings.filterwarnings("ignore", message="Convergence not reached")


def main(argv=None):
    """Entry point of ``bci-app``; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] == "gui":
        from .cli_gui import main as gui_main

        return gui_main(argv[1:])
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    set_log_level(["WARNING", "INFO", "DEBUG"][min(args.verbose, 2)])
    os.environ.setdefault("MOABB_DOWNLOAD_PROVIDER", "upstream")
    _quiet_dependencies(args.verbose)
    return run_command(f"bci-app {args.command}", _COMMANDS[args.command], args)


if __name__ == "__main__":
    sys.exit(main())
