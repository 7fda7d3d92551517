"""Pseudo-online nMCC after one calibration run, within-subject and with transfer, on the
local PhysionetMI subjects, beside chance and with paired tests.

Every model runs in variants of its model file, on the same subjects, channels, band, windows
and split (``bci-app pseudo-online --dataset PhysionetMI`` defaults: calibration on the
first imagery run R04, test on R08 and R12 in time order, idle a class, window 2 s, step
0.25 s, no smoothing):

* ``within``: the file as it is, trained on the target's calibration run only (today's use);
* ``within+adapt``: a Recenter step after the SPD step, its reference following the signal
  online (``--adapt`` windows, fixed a priori at 60 = 15 s; never tuned on these data);
* ``transfer``: leave-one-subject-out: the other subjects' three imagery runs as sources,
  each re-centred on its own mean, the target on its calibration run;
* ``transfer+adapt``: both;
* ``pooled``: the other subjects' runs pooled as they are, without re-centring.

Prints JSON: per variant the per-subject nMCC and its means over all subjects, the subjects
the default model is chosen on (1-5) and those it is reported on (6-9), next to chance
(``majority_nmcc`` 0.5, ``shuffled_nmcc``), with ITR and the offline accuracy of the same
split; then the targets of the transfer issue: the best augmented-covariance or graph
variant against the best baseline (CSP+LDA, TS+LR, MDM, FgMDM) within-subject and in any
variant (like-for-like), each margin with its paired Wilcoxon p-value across subjects.

Usage: python benchmarks/transfer_scores.py [--subjects 1 ...] [--only NAME ...]
           [--variants within transfer ...] [--adapt N] [--jobs N] [--save-metrics F.csv]
       python benchmarks/transfer_scores.py --metrics A.csv [B.csv ...]  (summarise)
"""

import argparse
import time
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from _common import dump, load_average, machine, use_shared_data
from accuracy import REPORT_SUBJECTS, SELECTION_SUBJECTS
from threadpoolctl import threadpool_limits

VARIANTS = ("within", "within+adapt", "transfer", "transfer+adapt", "pooled")
BASELINES = ("CSP+LDA", "TS+LR", "MDM", "FgMDM")
#: Models of the mission (augmented covariance, graph); FUCONE is an ensemble with its own
#: covariance and connectivity branches, measured within-subject only.
MISSION = ("ACM+MDM", "ACM+TS+SVM", "Coh-Graph+LDA")
COLUMNS = ("nmcc", "majority_nmcc", "shuffled_nmcc", "itr_bits_per_min",
           "shuffled_itr_bits_per_min", "offline_accuracy", "offline_majority_accuracy")


def _pipelines(specs, variants, adapt):
    from bci_app.decoding.transfer import with_recentering

    within, transfer = {}, {}
    for spec in specs:
        for v in variants:
            name = f"{spec.name} | {v}"
            if v == "within":
                within[name] = spec.pipeline
            elif v == "pooled":
                transfer[name] = spec.pipeline
            else:
                try:
                    pipe = with_recentering(spec.pipeline, adapt if "adapt" in v else 0)
                except Exception:  # noqa: BLE001 - e.g. an ensemble: no single SPD step
                    continue
                (transfer if v.startswith("transfer") else within)[name] = pipe
    return within, transfer


def evaluate_subject(args):
    """Metrics rows of one target subject (run in a worker process)."""
    subject, subjects, names, variants, adapt, data_path = args
    warnings.filterwarnings("ignore")
    use_shared_data(data_path)
    import mne

    mne.set_log_level("ERROR")
    from bci_app.decoding import load_models
    from bci_app.evaluation.datasets import resolve_dataset
    from bci_app.evaluation.pseudo_online import evaluate_session
    from bci_app.evaluation.recordings import dataset_sessions
    from bci_app.evaluation.transfer import subject_sources
    from bci_app.processing.calibration import PseudoOnlineConfig
    from bci_app.resources import shipped_dir

    cfg = PseudoOnlineConfig()
    specs = [s for s in load_models(shipped_dir("models")) if s.name in names]
    within, transfer = _pipelines(specs, variants, adapt)
    dataset = resolve_dataset("PhysionetMI", subjects, "left-right", data_path)
    (session, runs), = list(dataset_sessions(dataset, subject))
    rows = []
    with threadpool_limits(1):
        if within:
            rows += evaluate_session(runs, within, cfg, str(subject), session)[1]
        if transfer:
            sources = subject_sources(lambda s: dataset_sessions(dataset, s), subjects,
                                      subject, cfg, runs[0].sfreq, runs[0].ch_names,
                                      dataset.code)
            rows += evaluate_session(runs, transfer, cfg, str(subject), session,
                                     sources=sources)[1]
    for r in rows:
        r.pop("confusion", None)
        r.pop("classes", None)
    return rows


def summarise(metrics):
    from bci_app.evaluation.paired import paired_test

    metrics = metrics.assign(subject=metrics["subject"].astype(int))
    per_subject = metrics.groupby(["pipeline", "subject"])["nmcc"].mean().unstack("pipeline")
    out = {}
    for name, rows in metrics.groupby("pipeline"):
        entry = {"per_subject_nmcc": {str(s): round(float(v), 4) for s, v in
                                      rows.groupby("subject")["nmcc"].mean().items()}}
        for key, group in (("all", None), ("subjects_1_5", SELECTION_SUBJECTS),
                           ("subjects_6_9", REPORT_SUBJECTS)):
            sub = rows if group is None else rows[rows["subject"].isin(group)]
            if len(sub):
                entry[f"mean_{key}"] = {c: round(float(np.nanmean(sub[c])), 4)
                                        for c in COLUMNS}
        out[name] = entry
    out = dict(sorted(out.items(), key=lambda kv: -kv[1]["mean_all"]["nmcc"]))

    def best(predicate):
        cands = [n for n in out if predicate(n)]
        return max(cands, key=lambda n: out[n]["mean_all"]["nmcc"]) if cands else None

    def model(n):
        return n.split(" | ")[0]

    def compare(a, b):
        if a is None or b is None:
            return None
        test = paired_test(per_subject[a], per_subject[b])
        return {"best_mission": a, "best_baseline": b,
                "margin_nmcc": round(out[a]["mean_all"]["nmcc"] - out[b]["mean_all"]["nmcc"],
                                     4),
                "target_margin": 0.03, "wilcoxon_p": test.pvalue, "n_subjects": test.n,
                "method": test.method}

    mission = best(lambda n: model(n) in MISSION)
    targets = {
        "vs_baselines_within": compare(
            mission, best(lambda n: model(n) in BASELINES and n.endswith("| within"))),
        "vs_baselines_any_variant": compare(
            mission, best(lambda n: model(n) in BASELINES)),
    }
    return out, targets


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, nargs="+", default=list(range(1, 10)))
    parser.add_argument("--only", nargs="+", default=list(MISSION + BASELINES))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS[:4]),
                        choices=VARIANTS)
    parser.add_argument("--adapt", type=int, default=60)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--data-path", default=None)
    parser.add_argument("--save-metrics", default=None)
    parser.add_argument("--metrics", nargs="+", default=None)
    args = parser.parse_args()
    import pandas as pd

    t0, load_start = time.perf_counter(), load_average()
    if args.metrics:
        metrics = pd.concat([pd.read_csv(f) for f in args.metrics], ignore_index=True)
        args.subjects = sorted(int(s) for s in metrics["subject"].unique())
    else:
        tasks = [(s, args.subjects, args.only, args.variants, args.adapt, args.data_path)
                 for s in args.subjects]
        with ProcessPoolExecutor(args.jobs) as pool:
            rows = [r for part in pool.map(evaluate_subject, tasks) for r in part]
        metrics = pd.DataFrame(rows)
        if args.save_metrics:
            metrics.to_csv(args.save_metrics, index=False)
    pipelines, targets = summarise(metrics)
    dump({
        "benchmark": "transfer_scores", "machine": machine(),
        "dataset": "PhysionetMI, local files", "subjects": args.subjects,
        "settings": {"classes": ["idle", "left_hand", "right_hand"], "idle": "class",
                     "window_s": 2.0, "step_s": 0.25, "smoothing": 1, "band_hz": [8.0, 35.0],
                     "calibration": "first imagery run (R04) of each subject",
                     "test": "the two later imagery runs (R08, R12), in time order",
                     "transfer": "leave-one-subject-out: the other subjects' three imagery "
                                 "runs, each subject its own domain",
                     "adapt_windows": args.adapt},
        "chance": "majority_nmcc = 0.5 (constant decoder), shuffled_nmcc = decisions "
                  "permuted within each run",
        "source": args.metrics or "evaluated in this run", "blas_threads": 1,
        "wall_time_s": None if args.metrics else round(time.perf_counter() - t0, 1),
        "load_average_start_end": None if args.metrics else [load_start, load_average()],
        "targets": targets,
        "pipelines": pipelines,
    })


if __name__ == "__main__":
    main()
