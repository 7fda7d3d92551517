"""Wall time of one offline evaluation run locally vs on a local Dask cluster.

Prints JSON, and exits 1 when a check fails: the local wall time (one BLAS thread, as each
worker), the cluster's start-up time, the wall time on the cluster (started, workers warm or
cold as stated) and the speed-up, first run (imports, cold caches) and second run (warm).
Asserted: both cluster runs give the same rows as the local run (MOABB's measured fit time
aside).

Usage: python benchmarks/scale.py [--dataset SyntheticMI|PhysionetMI] [--subjects 1 2 ...]
       [--only NAME ...] [--workers 2] [--evaluation within-session] [--data-path DIR]
"""

import argparse
import sys
import time
import warnings

from _common import Checks, dump, load_average, machine, use_shared_data
from threadpoolctl import threadpool_limits

DEFAULT_MODELS = ["TS+LR", "CSP+LDA", "MDM"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="SyntheticMI",
                        help="SyntheticMI (default) or PhysionetMI (local data)")
    parser.add_argument("--subjects", type=int, nargs="+", default=None,
                        help="default: all (SyntheticMI: 10; PhysionetMI: those on disk)")
    parser.add_argument("--only", nargs="+", default=DEFAULT_MODELS)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--evaluation", default="within-session",
                        choices=["within-session", "cross-session", "cross-subject"])
    parser.add_argument("--data-path", default=None)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    args.data_path = use_shared_data(args.data_path)
    load_start = load_average()

    import mne

    from bci_app.decoding import load_models
    from bci_app.evaluation.datasets import resolve_dataset
    from bci_app.evaluation.distributed import cluster_client, evaluate_distributed
    from bci_app.evaluation.offline import evaluate_models
    from bci_app.resources import shipped_dir

    mne.set_log_level("WARNING")
    specs = load_models(shipped_dir("models"), names=args.only)
    dataset = resolve_dataset(args.dataset, args.subjects, "left-right", args.data_path)
    subjects = list(dataset.subject_list)

    with threadpool_limits(1):
        t0 = time.perf_counter()
        local = evaluate_models(specs, dataset, "left-right", args.evaluation, progress=False)
        local_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        evaluate_models(specs, dataset, "left-right", args.evaluation, progress=False)
        local_warm_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    with cluster_client(local_cluster=args.workers) as client:
        start_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        remote = evaluate_distributed(specs, args.dataset, subjects, "left-right",
                                      args.evaluation, data_path=args.data_path,
                                      client=client, progress=False)
        cold_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        remote_warm = evaluate_distributed(specs, args.dataset, subjects, "left-right",
                                           args.evaluation, data_path=args.data_path,
                                           client=client, progress=False)
        warm_s = time.perf_counter() - t0
    checks = Checks()
    rows = local.drop(columns="time")
    same = [checks.require(f"cluster {run} run: rows differ from the local run",
                           rows.equals(r.drop(columns="time")))
            for run, r in (("first", remote), ("second", remote_warm))]
    dump({
        "benchmark": "scale", "machine": machine(),
        "dataset": dataset.code, "subjects": subjects, "models": [s.name for s in specs],
        "evaluation": args.evaluation, "rows": len(local),
        "local": {"first_run_s": round(local_s, 2), "second_run_s": round(local_warm_s, 2)},
        "cluster": {"workers": args.workers, "threads_per_worker": 1,
                    "start_s": round(start_s, 2),
                    "first_run_s": round(cold_s, 2),
                    "second_run_s": round(warm_s, 2)},
        "speedup_first_run": round(local_s / cold_s, 2),
        "speedup_second_run": round(local_warm_s / warm_s, 2),
        "same_rows_as_local": {"first_run": same[0], "second_run": same[1]},
        "note": "first runs include imports (MOABB in each worker) and cold file caches; "
                "the cluster's start_s is not counted. Other processes may share the CPUs "
                "(see the load average).",
        "load_average_start_end": [load_start, load_average()],
        "checks_failed": checks.failures,
    })
    return checks.exit_status()


if __name__ == "__main__":
    sys.exit(main())
