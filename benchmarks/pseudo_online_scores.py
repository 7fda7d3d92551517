"""Pseudo-online nMCC of every model on the local PhysionetMI subjects, beside chance.

Prints JSON: per pipeline, its channels, the nMCC of each subject and the means over all
subjects, over the subjects that chose the default model (1-5) and over those kept for
reporting it (6-9), each next to its chance levels (``majority_nmcc``: always deciding the
most frequent label, 0.5; ``shuffled_nmcc``: the run's own decisions permuted), with the
information-based ITR (bits/min, one decision per window length) and its shuffled chance,
and the offline score of the same split. It is the evaluation of ``bci-app pseudo-online
--dataset PhysionetMI`` (``bci_app.evaluation.pseudo_online.run_pseudo_online``) with its
default settings: calibration on the first imagery run (R04), test on the two later runs in
time order, idle a class, window 2 s, step 0.25 s, no smoothing.

``--channels files sensorimotor`` (the default) also scores each model on the sensorimotor
set of the augmented-covariance models (like-for-like, as ``accuracy.py``).

Usage: python benchmarks/pseudo_online_scores.py [--subjects 1 2 ...] [--only NAME ...]
           [--channels SET ...] [--data-path DIR] [--save-metrics FILE.csv]
"""

import argparse
import time
import warnings

import numpy as np
from _common import dump, load_average, machine, use_shared_data
from accuracy import REPORT_SUBJECTS, SELECTION_SUBJECTS, channels_of, variant_specs
from threadpoolctl import threadpool_limits

from bci_app.decoding import load_models
from bci_app.resources import shipped_dir

#: Means reported per pipeline (score, then its chance levels).
COLUMNS = ("nmcc", "majority_nmcc", "shuffled_nmcc", "itr_bits_per_min",
           "shuffled_itr_bits_per_min", "accuracy", "majority_accuracy", "shuffled_accuracy",
           "trial_accuracy", "majority_trial_accuracy", "offline_accuracy",
           "offline_majority_accuracy")


def summarise(metrics, specs):
    """Per pipeline: channels, per-subject nMCC, means of :data:`COLUMNS` over all /
    selection / report subjects; best mean nMCC first."""
    out = {}
    for name, rows in metrics.groupby("pipeline"):
        rows = rows.assign(subject=rows["subject"].astype(int))
        per_subject = rows.groupby("subject")["nmcc"].mean()
        entry = {"channels": channels_of(name, specs),
                 "per_subject_nmcc": {str(s): round(float(v), 4)
                                      for s, v in per_subject.items()}}
        for key, group in (("all", None), ("subjects_1_5", SELECTION_SUBJECTS),
                           ("subjects_6_9", REPORT_SUBJECTS)):
            sub = rows if group is None else rows[rows["subject"].isin(group)]
            if len(sub):
                entry[f"mean_{key}"] = {c: round(float(np.nanmean(sub[c])), 4)
                                        for c in COLUMNS}
        if any(s.name == name and s.param_grid for s in specs):
            entry["note"] = ("the pseudo-online evaluation fits the pipeline with the file's "
                             "fixed parameters; the file's param_grid is not searched")
        out[name] = entry
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["mean_all"]["nmcc"]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, nargs="+", default=list(range(1, 10)))
    parser.add_argument("--only", nargs="+", default=None)
    parser.add_argument("--channels", nargs="+", default=["files", "sensorimotor"])
    parser.add_argument("--data-path", default=None)
    parser.add_argument("--save-metrics", default=None, help="write metrics rows to this CSV")
    parser.add_argument("--metrics", nargs="+", default=None,
                        help="summarise metrics CSVs of finished runs instead")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    use_shared_data(args.data_path)
    import mne
    import pandas as pd

    mne.set_log_level("WARNING")  # the JSON alone on stdout

    from bci_app.processing.calibration import PseudoOnlineConfig

    cfg = PseudoOnlineConfig()
    specs = load_models(shipped_dir("models"))
    t0, load_start = time.perf_counter(), load_average()
    if args.metrics:
        metrics = pd.concat([pd.read_csv(f) for f in args.metrics], ignore_index=True)
        all_specs = variant_specs(specs, ["files", "all", "sensorimotor", "motor"])
        args.subjects = sorted(int(s) for s in metrics["subject"].unique())
    else:
        from bci_app.evaluation.datasets import resolve_dataset
        from bci_app.evaluation.pseudo_online import run_pseudo_online

        chosen = [s for s in specs if args.only is None or s.name in args.only]
        all_specs = variant_specs(chosen, args.channels)
        dataset = resolve_dataset("PhysionetMI", args.subjects, "left-right", args.data_path)
        with threadpool_limits(1):
            _, metrics = run_pseudo_online(all_specs, dataset, cfg, progress=False)
        if args.save_metrics:
            metrics.drop(columns=["confusion", "classes"]).to_csv(args.save_metrics,
                                                                  index=False)
    dump({
        "benchmark": "pseudo_online_scores", "machine": machine(),
        "dataset": "PhysionetMI, local files", "subjects": args.subjects,
        "settings": {"classes": ["idle", *cfg.classes], "idle": cfg.idle,
                     "window_s": cfg.window_s, "step_s": cfg.step_s,
                     "smoothing": cfg.smoothing, "band_hz": [cfg.l_freq, cfg.h_freq],
                     "calibration": "first imagery run (R04) of each subject",
                     "test": "the two later imagery runs (R08, R12), in time order"},
        "chance": "majority_nmcc = 0.5 (constant decoder), shuffled_nmcc = decisions permuted "
                  "within each run (100 seeded permutations); ITR chance: shuffled_itr_*",
        "selection": {"default_model_chosen_on_subjects": list(SELECTION_SUBJECTS),
                      "reported_on_subjects": list(REPORT_SUBJECTS)},
        "source": args.metrics or "evaluated in this run", "blas_threads": 1,
        "wall_time_s": None if args.metrics else round(time.perf_counter() - t0, 1),
        "load_average_start_end": None if args.metrics else [load_start, load_average()],
        "pipelines": summarise(metrics, all_specs),
    })


if __name__ == "__main__":
    main()
