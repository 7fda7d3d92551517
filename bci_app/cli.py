"""The ``bci-app`` command. Thin: it parses arguments and calls the packages."""

import argparse
import os
import sys
import time
from pathlib import Path

from . import __version__
from ._logging import logger, set_log_level
from .errors import BCIAppError

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def default_models_dir():
    """``./models`` if it exists, else the ``models/`` folder beside the package."""
    here = Path("models")
    return here if here.is_dir() else PROJECT_ROOT / "models"


def _add_common(parser):
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-v info, -vv debug)")


def _build_parser():
    parser = argparse.ArgumentParser(
        prog="bci-app",
        description="Motor-imagery BCI: acquisition, pseudo-online decoding, evaluation.",
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
                    help="folder of model files, or one .yml file (default: models/)")
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
    po.add_argument("--models", default=None, metavar="PATH")
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

    md = sub.add_parser("models", help="list the models of a folder and check their files")
    md.add_argument("--models", default=None, metavar="PATH")
    _add_common(md)
    return parser


def _cmd_evaluate(args):
    from .decoding.loading import load_models
    from .evaluation.datasets import resolve_dataset
    from .evaluation.offline import evaluate_models
    from .evaluation.report import format_score_table, plot_scores, score_table

    specs = load_models(args.models or default_models_dir(), names=args.only)
    dataset = resolve_dataset(args.dataset, args.subjects, args.paradigm, args.data_path)
    out = Path(args.out)
    start = time.perf_counter()
    results = evaluate_models(specs, dataset, paradigm=args.paradigm,
                              evaluation=args.evaluation, out_dir=out, n_jobs=args.n_jobs,
                              fmin=args.fmin, fmax=args.fmax, progress=not args.no_progress)
    table = score_table(results)
    text = format_score_table(table)
    (out / "scores.txt").write_text(text + "\n", encoding="utf-8")
    title = f"{dataset.code} {args.paradigm}, {args.evaluation}"
    png = plot_scores(results, out / "scores.png", title=title)
    print(f"\n{title}: score per pipeline and subject\n")
    print(text)
    print(f"\nresults: {out / 'results.csv'}\ntable:   {out / 'scores.txt'}\nplot:    {png}")
    print(f"({time.perf_counter() - start:.0f} s)")
    return 0


def _parse_event_map(items):
    from .errors import ConfigError

    mapping = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise ConfigError(f"--event-map: {item!r} is not ANNOTATION=CLASS.")
        mapping[key] = value
    return mapping


def _cmd_pseudo_online(args):
    from .decoding.loading import load_models
    from .evaluation.datasets import PARADIGMS, resolve_dataset
    from .evaluation.pseudo_online import PseudoOnlineConfig, file_session, run_pseudo_online
    from .evaluation.report import format_metrics_table

    specs = load_models(args.models or default_models_dir(), names=args.only)
    runs = args.calibration_runs
    if runs is None:
        runs = 0 if args.calibration_trials else 1
    cfg = PseudoOnlineConfig(
        classes=PARADIGMS[args.paradigm][0], window_s=args.window, step_s=args.step,
        calibration_runs=runs, calibration_trials=args.calibration_trials, idle=args.idle,
        threshold=args.threshold, smoothing=args.smoothing, l_freq=args.fmin,
        h_freq=args.fmax)
    if Path(args.dataset).is_file():
        source = file_session(args.dataset, _parse_event_map(args.event_map))
    else:
        source = resolve_dataset(args.dataset, args.subjects, args.paradigm, args.data_path)
    out = Path(args.out)
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


def _cmd_models(args):
    from .decoding.loading import load_models

    for spec in load_models(args.models or default_models_dir()):
        steps = " -> ".join(type(s).__name__ for _, s in spec.pipeline.steps)
        grid = f"  [grid: {', '.join(spec.param_grid)}]" if spec.param_grid else ""
        print(f"{spec.name:<22} {spec.path.name:<24} {steps}{grid}")
    return 0


def _cmd_simulate(args):
    from .acquisition.lsl import use_loopback
    from .acquisition.simulation import DEFAULT_CHANNELS
    from .acquisition.simulator import REST_MARKERS, SimulatedAmplifier
    from .errors import ConfigError, StreamError

    marker_map = {}
    for item in args.marker_map or []:
        marker, sep, label = item.partition("=")
        if not sep or not marker or not label:
            raise ConfigError(f"--marker-map: {item!r} is not MARKER=CLASS.")
        marker_map[marker] = None if label.lower() in REST_MARKERS + ("none",) else label
    if not args.network:
        use_loopback()
    amp = SimulatedAmplifier(
        name=args.name, ch_names=args.channels or DEFAULT_CHANNELS, sfreq=args.sfreq,
        chunk_size=args.chunk_size, skill=args.skill, seed=args.seed,
        marker_stream=args.markers, marker_map=marker_map, artifacts=not args.no_artifacts)
    deadline = None if args.duration is None else time.monotonic() + args.duration
    with amp:
        print(f"streaming {amp.name!r}: {len(amp.ch_names)} channels at {amp.sfreq:g} Hz, "
              f"type eeg, volts (source_id {amp.source_id})"
              + (f", following markers of {args.markers!r}" if args.markers else "")
              + "; Ctrl-C to stop", flush=True)
        try:
            while amp.is_running and (deadline is None or time.monotonic() < deadline):
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass  # Ctrl-C is the normal way to stop
    if amp.error is not None:
        raise StreamError(f"streaming stopped on an error: {amp.error}")
    print(f"stopped after {amp.samples_pushed} samples "
          f"({amp.samples_pushed / amp.sfreq:.1f} s)")
    return 0


_COMMANDS = {"evaluate": _cmd_evaluate, "pseudo-online": _cmd_pseudo_online,
             "simulate": _cmd_simulate, "models": _cmd_models}


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
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    set_log_level(["WARNING", "INFO", "DEBUG"][min(args.verbose, 2)])
    os.environ.setdefault("MOABB_DOWNLOAD_PROVIDER", "upstream")
    _quiet_dependencies(args.verbose)
    try:
        return _COMMANDS[args.command](args)
    except BCIAppError as err:
        logger.debug("command failed", exc_info=True)
        print(f"bci-app {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"bci-app {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
