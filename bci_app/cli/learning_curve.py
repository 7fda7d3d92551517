"""``bci-app learning-curve``: scores against calibration length, within-subject and with
transfer from the other subjects."""

import json
import time

from . import _options as opt

NAME = "learning-curve"


def add_parser(subparsers):
    """Add ``learning-curve`` to the sub-parsers of ``bci-app``; returns its parser."""
    p = subparsers.add_parser(
        NAME, help="scores against calibration trials per class, within and with transfer",
        description="For each subject, the last runs of each session are a fixed test part; "
                    "each model is calibrated on the first trials until every class has N "
                    "of them (for each N of --sizes), on the subject's trials alone "
                    "('within') and with every other subject's runs as transfer sources "
                    "('transfer'), then swept pseudo-online over the test part. Writes "
                    "learning_curve.csv, learning_curve.json, learning_curve.png and "
                    "scores.txt (offline accuracy and nMCC with chance, a paired test per "
                    "size). Never downloads.")
    opt.add_dataset(p, "PhysionetMI, SyntheticMI, a MOABB dataset with local files, or the "
                       "app's recordings folder (at least two subjects for transfer)")
    opt.add_models(p)
    p.add_argument("--sizes", type=int, nargs="+", default=[3, 5, 7, 10, 15], metavar="N",
                   help="calibration trials per class (default: %(default)s)")
    p.add_argument("--test-runs", type=int, default=1,
                   help="last runs of each session kept for testing (default: %(default)s)")
    p.add_argument("--training", nargs="+", choices=["within", "transfer"],
                   default=["within", "transfer"], help="training(s) compared")
    p.add_argument("--window", type=float, default=2.0, help="window length, s")
    p.add_argument("--step", type=float, default=0.25, help="window step, s")
    p.add_argument("--idle", choices=["class", "threshold"], default="class",
                   help="idle as a trained class (rest periods) or by a confidence threshold")
    opt.add_decision(p, smoothing="DEFAULT_SMOOTHING")
    opt.add_output(p)
    opt.add_verbose(p)
    return p


def run(args):
    """Evaluate, write the curve, its summary, plot and table; returns 0."""
    from ..cli_common import check_output_folder, save_outputs
    from ..decoding.loading import load_models
    from ..evaluation.datasets import check_dataset_name, resolve_dataset
    from ..evaluation.transfer import (
        format_learning_curve,
        learning_curve,
        plot_learning_curve,
        summarise_learning_curve,
    )
    from ..processing.calibration import PseudoOnlineConfig
    from ..processing.paradigms import PARADIGMS

    out = check_output_folder(args.out, "--out")
    check_dataset_name(args.dataset)
    cfg = PseudoOnlineConfig(classes=PARADIGMS[args.paradigm][0], window_s=args.window,
                             step_s=args.step, idle=args.idle, l_freq=args.fmin,
                             h_freq=args.fmax, **opt.decision_settings(args))
    cfg.check()
    specs = load_models(args.models, names=args.only)
    dataset = resolve_dataset(args.dataset, args.subjects, args.paradigm, args.data_path)
    start = time.perf_counter()
    metrics = learning_curve(specs, dataset, cfg, sizes=args.sizes, test_runs=args.test_runs,
                             training=args.training, progress=not args.no_progress)
    text = format_learning_curve(metrics)
    print(f"\nlearning curve, {dataset.code}, subjects {list(dataset.subject_list)}\n")
    print(text)

    def write(folder):
        flat = metrics.drop(columns=[c for c in ("confusion", "classes") if c in metrics])
        flat.to_csv(folder / "learning_curve.csv", index=False)
        (folder / "learning_curve.json").write_text(
            json.dumps(summarise_learning_curve(metrics), indent=1), encoding="utf-8")
        plot_learning_curve(metrics, folder / "learning_curve.png",
                            title=f"{dataset.code}: calibration length")
        (folder / "scores.txt").write_text(text + "\n", encoding="utf-8")

    out = save_outputs(write, out, "the learning curve (learning_curve.csv/.json/.png, "
                                   "scores.txt)", NAME)
    print(f"\ncurve: {out / 'learning_curve.csv'}\nplot:  {out / 'learning_curve.png'}\n"
          f"({time.perf_counter() - start:.0f} s)")
    return 0
