"""``bci-app pseudo-online``: time-ordered pseudo-online evaluation (nMCC, ITR)."""

import time
from pathlib import Path

from . import _options as opt

NAME = "pseudo-online"


def add_parser(subparsers):
    """Add ``pseudo-online`` to the sub-parsers of ``bci-app``; returns its parser."""
    p = subparsers.add_parser(
        NAME, help="time-ordered pseudo-online evaluation (nMCC, ITR)",
        description="Calibrate each model on the first runs (or trials) of every session, then "
                    "sweep the later runs window by window with the online engine. Writes "
                    "predictions.csv, metrics.csv, scores.txt (the scores, then a paired "
                    "Wilcoxon test of the best pipeline's nMCC against each other one across "
                    "subjects) and timeline_S<subject>.png (if "
                    "--out cannot be written at the end: to a fallback folder named in the "
                    "error, exit code 1). Never downloads: each subject's files are checked "
                    "first.")
    opt.add_dataset(p, "PhysionetMI, SyntheticMI, a MOABB dataset with local files, or a "
                       "recording file (EDF, FIF, BrainVision, ..., a BIDS run with its "
                       "events)")
    opt.add_models(p)
    p.add_argument("--window", type=float, default=2.0, help="window length, s")
    p.add_argument("--step", type=float, default=0.25, help="window step, s")
    p.add_argument("--calibration-runs", type=int, default=None,
                   help="first runs of each session used for calibration (default 1)")
    p.add_argument("--calibration-trials", type=int, default=0,
                   help="calibrate on the first N trials instead of whole runs")
    p.add_argument("--idle", choices=["class", "threshold"], default="class",
                   help="idle as a trained class (rest periods) or by a confidence threshold")
    p.add_argument("--transfer-from", metavar="other-subjects|DATASET|FOLDER", default=None,
                   help="train each model with transfer: 'other-subjects' (leave-one-subject-"
                        "out: the dataset's other subjects as sources), or every subject of "
                        "another dataset or recordings folder; each source re-centred on its "
                        "own reference by models with a Recenter step")
    p.add_argument("--transfer-subjects", type=int, nargs="+", metavar="N", default=None,
                   help="subjects of a --transfer-from dataset (default: all)")
    opt.add_decision(p, smoothing="DEFAULT_SMOOTHING")
    opt.add_event_map(p, "for a file: map annotations to classes, e.g. T1=left_hand")
    opt.add_output(p)
    opt.add_cluster(p)
    opt.add_verbose(p)
    return p


def _config(args):
    from ..processing.calibration import PseudoOnlineConfig
    from ..processing.paradigms import PARADIGMS

    runs = args.calibration_runs
    if runs is None:
        runs = 0 if args.calibration_trials else 1
    return PseudoOnlineConfig(
        classes=PARADIGMS[args.paradigm][0], window_s=args.window, step_s=args.step,
        calibration_runs=runs, calibration_trials=args.calibration_trials, idle=args.idle,
        l_freq=args.fmin, h_freq=args.fmax, **opt.decision_settings(args))


def _evaluate(specs, cfg, args, event_map):
    """Predictions and metrics computed task by task: here, or on each worker of a cluster,
    which read the dataset (or the file) themselves (a file with the application's reader:
    a BIDS run keeps the class names and durations of its events). Nothing is written."""
    from ..evaluation.distributed import pseudo_online_distributed

    is_file = Path(args.dataset).is_file()
    with opt.executor_from(args) as executor:
        return pseudo_online_distributed(
            specs, cfg, dataset=None if is_file else args.dataset, subjects=args.subjects,
            paradigm=args.paradigm, recording=args.dataset if is_file else None,
            event_map=event_map, data_path=args.data_path,
            out_dir=None, progress=not args.no_progress, quiet=args.verbose < 2,
            executor=executor, transfer_from=args.transfer_from,
            transfer_subjects=args.transfer_subjects)


def _writer(predictions, metrics, text):
    """``write(folder)``: predictions.csv, metrics.csv, scores.txt and the timelines."""
    from ..evaluation.pseudo_online import finish_pseudo_online, plot_subject_timeline

    code = str(metrics["dataset"].iloc[0])

    def write(folder):
        finish_pseudo_online([predictions], metrics.to_dict("records"), code, folder)
        (folder / "scores.txt").write_text(text + "\n", encoding="utf-8")
        for subject in predictions["subject"].unique():
            plot_subject_timeline([predictions], subject, code, folder)

    return write


def run(args):
    """Evaluate, write the predictions, metrics and timelines, print the table; returns 0.

    The output folder, the dataset's name and the settings are checked before anything is
    computed (the files of each subject when the tasks resolve the dataset).
    """
    from ..cli_common import check_output_folder, save_outputs
    from ..decoding.loading import load_models
    from ..evaluation.report import format_metrics_table

    out = check_output_folder(args.out, "--out")
    from ..evaluation.datasets import check_dataset_name

    if not Path(args.dataset).is_file():
        check_dataset_name(args.dataset)
    if args.transfer_from and args.transfer_from != "other-subjects":
        check_dataset_name(args.transfer_from)
    cfg = _config(args)
    cfg.check()
    event_map = opt.parse_event_map(args.event_map)
    specs = load_models(args.models, names=args.only)
    start = time.perf_counter()
    predictions, metrics = _evaluate(specs, cfg, args, event_map)
    text = format_metrics_table(metrics)
    print(f"\npseudo-online, window {cfg.window_s} s, step {cfg.step_s} s, idle={cfg.idle}: "
          "nMCC per subject, then means and paired tests\n")
    print(text)
    out = save_outputs(_writer(predictions, metrics, text), out,
                       "the results (predictions.csv, metrics.csv, scores.txt, timelines)",
                       NAME)
    print(f"\npredictions: {out / 'predictions.csv'}\nmetrics:     {out / 'metrics.csv'}\n"
          f"timelines:   {out}/timeline_S*.png\n({time.perf_counter() - start:.0f} s)")
    return 0
