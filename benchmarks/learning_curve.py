"""Learning curve on the local PhysionetMI subjects: offline accuracy and pseudo-online nMCC
against calibration trials per class, within-subject and with leave-one-subject-out
transfer, beside chance, with a paired test per size.

It is ``bci-app learning-curve --dataset PhysionetMI`` (:func:`bci_app.evaluation.transfer.
learning_curve`): the last imagery run (R12) of each subject is the fixed test part; the
calibration is the first trials of R04 and R08 until every class has N; with transfer the
other subjects' three imagery runs are the sources. The target of the transfer issue: with
transfer, the offline accuracy within-subject training reaches with the largest size (15
trials per class) is reached with 7 or fewer.

Usage: python benchmarks/learning_curve.py [--subjects 1 ...] [--only NAME ...]
           [--sizes 3 5 7 10 15] [--jobs N] [--save-metrics F.csv]
       python benchmarks/learning_curve.py --metrics A.csv [B.csv ...]  (summarise)
"""

import argparse
import time
import warnings
from concurrent.futures import ProcessPoolExecutor

from _common import dump, load_average, machine, use_shared_data
from threadpoolctl import threadpool_limits


def evaluate(args):
    """Learning-curve rows of one model (run in a worker process)."""
    name, subjects, sizes, data_path, recenter = args
    warnings.filterwarnings("ignore")
    use_shared_data(data_path)
    import mne

    mne.set_log_level("ERROR")
    from bci_app.decoding import load_models
    from bci_app.evaluation.datasets import resolve_dataset
    from bci_app.evaluation.transfer import learning_curve
    from bci_app.processing.calibration import PseudoOnlineConfig
    from bci_app.resources import shipped_dir

    specs = load_models(shipped_dir("models"), names=[name])
    if recenter is not None:  # the same model with a Recenter step after its SPD step
        from dataclasses import replace

        from bci_app.decoding.transfer import with_recentering

        specs = [replace(s, name=f"{s.name} | recentred",
                         pipeline=with_recentering(s.pipeline, **recenter)) for s in specs]
    dataset = resolve_dataset("PhysionetMI", subjects, "left-right", data_path)
    with threadpool_limits(1):
        metrics = learning_curve(specs, dataset, PseudoOnlineConfig(), sizes=sizes,
                                 progress=False)
    return metrics.drop(columns=["confusion", "classes"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, nargs="+", default=list(range(1, 10)))
    parser.add_argument("--only", nargs="+", required=False, default=None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[3, 5, 7, 10, 15])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--data-path", default=None)
    parser.add_argument("--save-metrics", default=None)
    parser.add_argument("--metrics", nargs="+", default=None)
    parser.add_argument("--recenter", action="store_true",
                        help="measure each model with a Recenter step after its SPD step "
                             "(within-subject: the same decisions for an affine-invariant "
                             "classifier; with transfer: every domain on its own reference)")
    parser.add_argument("--metric", default="riemann", choices=["riemann", "logeuclid"],
                        help="the mean each domain's reference is (with --recenter)")
    parser.add_argument("--target-weight", type=float, default=None,
                        help="the target's share of the training weight (with --recenter)")
    parser.add_argument("--adapt", type=int, default=0,
                        help="online adaptation of the target's reference (with --recenter)")
    args = parser.parse_args()
    import pandas as pd

    from bci_app.evaluation.transfer import summarise_learning_curve

    t0, load_start = time.perf_counter(), load_average()
    if args.metrics:
        metrics = pd.concat([pd.read_csv(f) for f in args.metrics], ignore_index=True)
        args.subjects = sorted(int(s) for s in metrics["subject"].unique())
    else:
        if not args.only:
            parser.error("--only NAME ...: the models to measure")
        recenter = None if not args.recenter else {
            "adapt": args.adapt, "metric": args.metric, "target_weight": args.target_weight}
        tasks = [(n, args.subjects, args.sizes, args.data_path, recenter) for n in args.only]
        with ProcessPoolExecutor(args.jobs) as pool:
            metrics = pd.concat(list(pool.map(evaluate, tasks)), ignore_index=True)
        if args.save_metrics:
            metrics.to_csv(args.save_metrics, index=False)
    summary = summarise_learning_curve(metrics)
    targets = {}
    for name, entry in summary.items():
        ref = entry.get("reference")
        if ref:
            reach = ref["transfer_reaches_at"]
            targets[name] = {**ref, "target_trials_per_class": 7,
                             "met": reach is not None and reach <= 7}
    dump({
        "benchmark": "learning_curve", "machine": machine(),
        "dataset": "PhysionetMI, local files", "subjects": args.subjects,
        "settings": {"classes": ["idle", "left_hand", "right_hand"], "window_s": 2.0,
                     "step_s": 0.25, "band_hz": [8.0, 35.0],
                     "calibration": "first trials of R04, R08 until every class has N",
                     "test": "R12, swept pseudo-online; offline: one epoch per trial",
                     "transfer": "the other subjects' three imagery runs, each its own "
                                 "domain"},
        "chance": "offline: majority class; nMCC: 0.5, shuffled decisions",
        "source": args.metrics or "evaluated in this run",
        "recenter": None if args.metrics or not args.recenter else {
            "metric": args.metric, "target_weight": args.target_weight, "adapt": args.adapt}, "blas_threads": 1,
        "wall_time_s": None if args.metrics else round(time.perf_counter() - t0, 1),
        "load_average_start_end": None if args.metrics else [load_start, load_average()],
        "targets": targets,
        "pipelines": summary,
    })


if __name__ == "__main__":
    main()
