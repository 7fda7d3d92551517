"""Within-session ROC-AUC of every model in models/ on the local PhysionetMI subjects.

Prints JSON: per pipeline, its channels, the score of each subject, the mean and sd over
subjects, the means over the subjects that chose the default model (1-5) and over those kept
for reporting it (6-9), next to chance: 0.5 ROC-AUC for two classes, and the score a
subject (or the mean) must exceed to differ from chance at p < 0.05 with this many trials.

Like-for-like: every model runs on the same subjects, band (8-35 Hz), epochs, folds (MOABB
within-session 5-fold, seed 42). ``--channels files sensorimotor`` (the default) scores each
model on the channels its file declares and, in addition, on the sensorimotor set of the
augmented-covariance models, so every baseline is also compared on those channels.
``--adapt N`` scores, instead, each chosen model adapting online: a ``Recenter`` step after
its SPD step, its reference starting from the training folds' mean and following the test
trials in time order over N windows (no label; the ``within+adapt`` variant of
``transfer_scores.py``, named ``"<model> | within+adapt"``; ensembles have no such variant).

Usage: python benchmarks/accuracy.py [--subjects 1 2 ...] [--only NAME ...] [--channels SET ...]
           [--adapt N] [--data-path DIR] [--save-results FILE.csv]
       python benchmarks/accuracy.py --results A.csv [B.csv ...]   (summarise finished runs of
           this script, or of ``bci-app evaluate --dataset PhysionetMI --paradigm left-right``)
"""

import argparse
import time
import warnings

import numpy as np
from _common import (
    channel_set,
    describe_channels,
    dump,
    load_average,
    with_adaptation,
    machine,
    use_shared_data,
    with_channels,
)
from threadpoolctl import threadpool_limits

from bci_app.decoding import load_models
from bci_app.resources import shipped_dir

#: Subjects on which the default model was chosen, and those its figures are reported on.
SELECTION_SUBJECTS = (1, 2, 3, 4, 5)
REPORT_SUBJECTS = (6, 7, 8, 9)
FOLDS = 5
Z_95_ONE_SIDED = 1.6449


def auc_chance_level(n_trials, n_folds=FOLDS, n_subjects=1):
    """ROC-AUC that a mean over ``n_subjects`` of ``n_folds``-fold scores must exceed to
    differ from chance (0.5) at p < 0.05, one-sided (normal approximation of the
    Mann-Whitney statistic; balanced classes, ``n_trials`` per subject split into folds)."""
    per_class = n_trials / (2.0 * n_folds)  # test trials per class in one fold
    var_fold = (2 * per_class + 1) / (12.0 * per_class * per_class)
    return 0.5 + Z_95_ONE_SIDED * float(np.sqrt(var_fold / (n_folds * n_subjects)))


def variant_specs(specs, channel_sets):
    """Each model on each requested channel set ("files": as its file says), once each."""
    out, seen = [], set()
    for spec in specs:
        for channels in channel_sets:
            variant = spec if channels == "files" else with_channels(spec, channels)
            if variant.name not in seen:
                seen.add(variant.name)
                out.append(variant)
    return out


def channels_of(name, specs):
    """The channel description of a result row's pipeline name."""
    for spec in specs:
        if spec.name == name:
            return describe_channels(channel_set(spec))
    if name.endswith("]") and " [" in name:
        return describe_channels(name[name.rindex(" [") + 2:-1])
    return "unknown"


def summarise(results, specs):
    """Per pipeline: channels, per-subject scores, means over all / selection / report
    subjects, and the chance levels, best mean first."""
    from bci_app.evaluation.report import score_table

    table = score_table(results)
    subjects = [c for c in table.columns if c not in ("mean", "sd")]
    trials = results.groupby("subject")["samples"].first()
    fit_time = results.groupby("pipeline")["time"].mean()
    pipelines = {}
    for name, row in table.iterrows():
        entry = {"channels": channels_of(name, specs),
                 "per_subject": {s: round(float(row[s]), 4) for s in subjects},
                 "mean": round(float(row["mean"]), 4), "sd": round(float(row["sd"]), 4)}
        for key, group in (("mean_subjects_1_5", SELECTION_SUBJECTS),
                           ("mean_subjects_6_9", REPORT_SUBJECTS)):
            cols = [str(s) for s in group if str(s) in subjects]
            if cols:
                entry[key] = round(float(np.mean([row[c] for c in cols])), 4)
        entry["mean_fit_time_s"] = round(float(fit_time[name]), 3)
        pipelines[name] = entry
    n = float(np.mean(trials))
    chance = {
        "roc_auc": 0.5,
        "p05_level_one_subject": round(auc_chance_level(n), 3),
        "p05_level_mean_of_subjects": round(auc_chance_level(n, n_subjects=len(subjects)), 3),
        "trials_per_subject": {str(s): int(v) for s, v in trials.items()},
        "note": "one-sided p < 0.05 levels from the normal approximation of the Mann-Whitney "
                "statistic for the mean of 5 fold AUCs with these trial counts",
    }
    return pipelines, chance


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, nargs="+", default=list(range(1, 10)))
    parser.add_argument("--only", nargs="+", default=None)
    parser.add_argument("--channels", nargs="+", default=["files", "sensorimotor"],
                        help="channel sets each model is scored on: files (as its model file "
                             "says), all, sensorimotor, motor")
    parser.add_argument("--adapt", type=int, default=0,
                        help="score the models adapting online over this many windows instead")
    parser.add_argument("--data-path", default=None)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--save-results", default=None, help="write MOABB's rows to this CSV")
    parser.add_argument("--results", nargs="+", default=None,
                        help="results CSVs of finished within-session PhysionetMI runs")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    use_shared_data(args.data_path)
    import mne
    import pandas as pd

    mne.set_log_level("WARNING")  # the JSON alone on stdout

    t0 = time.perf_counter()
    load_start = load_average()
    specs = load_models(shipped_dir("models"))
    if args.results:
        results = pd.concat([pd.read_csv(f) for f in args.results], ignore_index=True)
        bad = set(results.get("evaluation", ["within-session"])) - {"within-session"}
        if bad or set(results["dataset"]) != {"PhysionetMotorImagery"}:
            parser.error(f"{args.results} are not within-session PhysionetMI evaluations")
        if results.duplicated(["pipeline", "subject", "session"]).any():
            parser.error(f"{args.results}: a pipeline is scored twice on the same subject")
        args.subjects = sorted(int(s) for s in results["subject"].unique())
        all_specs = variant_specs(specs, ["files", "all", "sensorimotor", "motor"])
    else:
        from bci_app.evaluation.datasets import resolve_dataset
        from bci_app.evaluation.offline import evaluate_models

        chosen = [s for s in specs if args.only is None or s.name in args.only]
        all_specs = variant_specs(chosen, args.channels)
        if args.adapt:
            all_specs = [a for a in (with_adaptation(s, args.adapt) for s in all_specs) if a]
        dataset = resolve_dataset("PhysionetMI", args.subjects, "left-right", args.data_path)
        # One BLAS thread: on a shared 2-core machine, spinning BLAS threads make the
        # Riemannian means many times slower (scores do not depend on it).
        with threadpool_limits(1):
            results = evaluate_models(all_specs, dataset, "left-right", "within-session",
                                      n_jobs=args.n_jobs)
        if args.save_results:
            results.to_csv(args.save_results, index=False)
    pipelines, chance = summarise(results, all_specs)
    dump({
        "benchmark": "accuracy", "machine": machine(),
        "dataset": "PhysionetMI, local files", "subjects": args.subjects,
        "paradigm": "left vs right hand imagery, band-pass 8-35 Hz, MOABB epochs 0-3 s",
        "evaluation": "MOABB within-session, 5-fold (seed 42); grid models: nested grid search "
                      "inside the training folds",
        "metric": "roc_auc", "chance": chance,
        "selection": {"default_model_chosen_on_subjects": list(SELECTION_SUBJECTS),
                      "reported_on_subjects": list(REPORT_SUBJECTS)},
        "source": args.results or "evaluated in this run",
        "adapt_windows": args.adapt or None,
        "blas_threads": 1,
        "wall_time_s": None if args.results else round(time.perf_counter() - t0, 1),
        "load_average_start_end": None if args.results else [load_start, load_average()],
        "pipelines": pipelines,
    })


if __name__ == "__main__":
    main()
