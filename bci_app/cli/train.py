"""``bci-app train``: train a model on calibration data and save it (``.bcimodel``)."""

from pathlib import Path

from ..errors import UsageError
from . import _options as opt

NAME = "train"


def add_parser(subparsers):
    """Add ``train`` to the sub-parsers of ``bci-app``; returns its parser."""
    p = subparsers.add_parser(
        NAME, help="train a model from calibration data and save it (.bcimodel)",
        description="Fit a pipeline of models/ on calibration data, cropped and filtered as "
                    "the online engine does, and save it with its settings in a safe "
                    "(non-pickle) .bcimodel file for `bci-app online`.")
    p.add_argument("--model", required=True, metavar="YAML|NAME",
                   help="a model file, or the name/stem of one in --models")
    opt.add_models(p, only=False)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--file", nargs="+", metavar="FILE",
                     help="calibration recording(s): any MNE-readable format, or BIDS "
                          "runs with their events (the application's recordings)")
    src.add_argument("--dataset", metavar="NAME",
                     help="a dataset (e.g. PhysionetMI): first --calibration-runs of --subject")
    src.add_argument("--simulated", action="store_true",
                     help="a calibration run of the simulated amplifier (same montage/rate "
                          "as `bci-app simulate`)")
    p.add_argument("--subject", type=int, default=1, help="subject of --dataset")
    p.add_argument("--calibration-runs", type=int, default=1, help="runs of --dataset used")
    opt.add_paradigm(p)
    opt.add_event_map(p, "rename a --file's annotations, e.g. T1=left_hand T2=right_hand")
    p.add_argument("--trials", type=int, default=20, help="--simulated trials per class")
    p.add_argument("--skill", type=float, default=0.8, help="--simulated subject skill")
    p.add_argument("--seed", type=int, default=None, help="--simulated random seed")
    p.add_argument("--window", type=float, default=2.0, help="window length, s")
    p.add_argument("--step", type=float, default=0.1, help="online window step, s")
    opt.add_band(p)
    p.add_argument("--idle", choices=["class", "threshold"], default="class",
                   help="rest as a class of the model (default) or only a threshold")
    opt.add_data_path(p)
    p.add_argument("--transfer-from", metavar="DATASET|FOLDER", default=None,
                   help="train with transfer: every session of every subject of this dataset "
                        "(a MOABB dataset with local files, or the app's recordings folder: "
                        "earlier sessions, other patients) as sources, each re-centred on its "
                        "own reference by a model with a Recenter step; --subject is left out "
                        "when it is --dataset itself")
    p.add_argument("--transfer-subjects", type=int, nargs="+", metavar="N", default=None,
                   help="subjects of --transfer-from (default: all)")
    p.add_argument("--out", required=True, metavar="FILE.bcimodel")
    opt.add_verbose(p)
    return p


def _file_runs(args):
    from ..evaluation.recordings import read_recording_run

    event_map = opt.parse_event_map(args.event_map)
    runs = [read_recording_run(f, event_map) for f in args.file]
    return runs, {"files": [str(Path(f).resolve()) for f in args.file]}


def _simulated_runs(args, classes):
    from ..acquisition.simulation import (
        DEFAULT_CHANNELS,
        make_trial_schedule,
        simulate_mi_raw,
    )
    from ..processing.runs import run_from_raw

    schedule = make_trial_schedule(classes, args.trials, seed=args.seed)
    raw = simulate_mi_raw(schedule, ch_names=DEFAULT_CHANNELS, skill=args.skill, seed=args.seed)
    source = {"simulated": {"trials_per_class": args.trials, "skill": args.skill,
                            "seed": args.seed}}
    return [run_from_raw(raw, name="simulated-calibration")], source


def _dataset_runs(args):
    from ..errors import DataError
    from ..evaluation.datasets import resolve_dataset
    from ..evaluation.recordings import dataset_sessions

    dataset = resolve_dataset(args.dataset, [args.subject], args.paradigm, args.data_path)
    session, all_runs = next(iter(dataset_sessions(dataset, args.subject)))
    if args.calibration_runs < 1 or args.calibration_runs > len(all_runs):
        raise DataError(f"--calibration-runs {args.calibration_runs}: subject "
                        f"{args.subject} session {session} has {len(all_runs)} run(s).")
    source = {"dataset": args.dataset, "subject": args.subject, "session": session}
    return all_runs[:args.calibration_runs], source


def run(args):
    """Train the model, save it to ``--out`` and print what it was trained on; returns 0."""
    from ..cli_common import check_output_folder, save_outputs
    from ..decoding.loading import find_model
    from ..decoding.persistence import MODEL_SUFFIX, save_model
    from ..online.train_model import train_model
    from ..processing.calibration import PseudoOnlineConfig
    from ..processing.paradigms import PARADIGMS

    if args.paradigm not in PARADIGMS:
        raise UsageError(f"--paradigm {args.paradigm!r}: use one of {sorted(PARADIGMS)}.")
    out = Path(args.out)
    if out.suffix != MODEL_SUFFIX:
        raise UsageError(f"--out {out}: a trained model file ends in {MODEL_SUFFIX}.")
    if out.is_dir():
        raise UsageError(f"--out {out}: a folder; give the model file's path "
                         f"(e.g. {out / ('model' + MODEL_SUFFIX)}).")
    check_output_folder(out.parent, "--out")
    for name in (args.dataset, args.transfer_from):
        if name:
            from ..evaluation.datasets import check_dataset_name

            check_dataset_name(name)
    spec = find_model(args.model, args.models)
    classes = PARADIGMS[args.paradigm][0]
    cfg = PseudoOnlineConfig(classes=tuple(classes), window_s=args.window, step_s=args.step,
                             idle=args.idle, l_freq=args.fmin, h_freq=args.fmax)
    cfg.check()
    if args.file:
        runs, source = _file_runs(args)
    elif args.simulated:
        runs, source = _simulated_runs(args, classes)
    else:
        runs, source = _dataset_runs(args)
    sources = None
    if args.transfer_from:
        from ..evaluation.transfer import dataset_sources

        exclude = args.subject if args.dataset and args.transfer_from == args.dataset else None
        sources = dataset_sources(args.transfer_from, cfg, runs[0].sfreq, runs[0].ch_names,
                                  subjects=args.transfer_subjects, paradigm=args.paradigm,
                                  data_path=args.data_path, exclude=exclude)
        print(f"transfer: {len(sources)} source domain(s) from {args.transfer_from} "
              f"({sum(len(s.y) for s in sources)} windows)")
    trained = train_model(spec, runs, cfg, trained_on=source, sources=sources)
    report = trained.trained_on
    counts = ", ".join(f"{k} {v}" for k, v in report["windows_per_class"].items())
    print(f"trained {spec.name!r} on {len(runs)} run(s): {counts} windows; training accuracy "
          f"{report['training_accuracy']:.2f}")
    saved = save_outputs(lambda folder: save_model(trained, folder / out.name), out.parent,
                         f"the trained model {out.name}", NAME)
    print(f"saved {saved / out.name} ({len(runs[0].ch_names)} channels, {runs[0].sfreq:g} Hz, "
          f"window {args.window} s, step {args.step} s)")
    return 0
