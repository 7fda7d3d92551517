"""Within-session ROC-AUC of every model in models/ on the local PhysionetMI subjects.

Prints JSON: per pipeline, the score of each subject, the mean and sd over subjects, and the
published MOABB benchmark figure where one exists (PhysionetMI, left vs right hand, within
session, ROC-AUC, mean over all 109 subjects; ours runs on the local subset).

Usage: python benchmarks/accuracy.py [--subjects 1 2 ...] [--only NAME ...] [--data-path DIR]
       python benchmarks/accuracy.py --results results/results.csv   (summarise a finished
       ``bci-app evaluate --dataset PhysionetMI --paradigm left-right`` run instead)
"""

import argparse
import os
import time
import warnings
from pathlib import Path

from _common import dump, machine

from bci_app.resources import shipped_dir
from bci_app.decoding import load_models
from bci_app.evaluation.datasets import resolve_dataset
from bci_app.evaluation.offline import evaluate_models
from bci_app.evaluation.report import score_table

#: MOABB benchmark, PhysionetMI left vs right hand, within-session ROC-AUC (methods.md).
PUBLISHED = {"ACM+TS+SVM(grid)": 0.6355, "TS+LR": 0.6728, "FgMDM": 0.6846,
             "CSP+LDA": 0.6575, "MDM": 0.5476}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, nargs="+", default=list(range(1, 10)))
    parser.add_argument("--only", nargs="+", default=None)
    parser.add_argument("--data-path", default=None)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--results", default=None,
                        help="results.csv of a finished within-session PhysionetMI evaluation")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    shared = Path(__file__).resolve().parents[2] / "shared" / "data" / "mne_data"
    if args.data_path is None and not os.environ.get("MNE_DATA") and shared.is_dir():
        args.data_path = str(shared)
    t0 = time.perf_counter()
    if args.results:
        import pandas as pd

        results = pd.read_csv(args.results)
        bad = set(results.get("evaluation", ["within-session"])) - {"within-session"}
        if bad or set(results["dataset"]) != {"PhysionetMotorImagery"}:
            parser.error(f"{args.results} is not a within-session PhysionetMI evaluation")
        args.subjects = sorted(int(s) for s in results["subject"].unique())
    else:
        specs = load_models(shipped_dir("models"), names=args.only)
        dataset = resolve_dataset("PhysionetMI", args.subjects, "left-right", args.data_path)
        results = evaluate_models(specs, dataset, "left-right", "within-session",
                                  n_jobs=args.n_jobs)
    table = score_table(results)
    subjects = [c for c in table.columns if c not in ("mean", "sd")]
    fit_time = results.groupby("pipeline")["time"].mean()
    dump({
        "benchmark": "accuracy", "machine": machine(),
        "dataset": "PhysionetMI (local)", "paradigm": "left-right (8-35 Hz)",
        "evaluation": "within-session 5-fold", "metric": "roc_auc", "subjects": args.subjects,
        "source": args.results or "evaluated in this run",
        "wall_time_s": None if args.results else round(time.perf_counter() - t0, 1),
        "pipelines": {
            name: {"per_subject": {s: round(float(row[s]), 4) for s in subjects},
                   "mean": round(float(row["mean"]), 4), "sd": round(float(row["sd"]), 4),
                   "mean_fit_time_s": round(float(fit_time[name]), 3),
                   "published_moabb_mean": PUBLISHED.get(name)}
            for name, row in table.iterrows()
        },
    })


if __name__ == "__main__":
    main()
