"""Per-window decoding cost of every model in models/, and our ACM+MDM against pyRiemann.

Prints JSON. For each configuration (22 ch / 250 Hz / 2 s and 64 ch / 160 Hz / 2 s) every model
is fitted on synthetic motor-imagery windows, then each window is predicted alone, as online
(median and p95 ms, one BLAS thread). The reference comparison runs, in the same process and on the same
windows, the augmented covariance (order 8) + MDM path through MOABB/pyRiemann
(``AugmentedDataset`` + ``Covariances("oas")`` + ``pyriemann.classification.MDM``) and ours
(``AugmentedCovariance`` + ``FastMDM``), checks that the predictions are identical and gives
the speed ratio.

Usage: python benchmarks/decode.py [--quick]
"""

import argparse
import warnings

import numpy as np
from _common import PHYSIONET_64, dump, machine, synthetic_windows, time_per_call
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from threadpoolctl import threadpool_limits

from bci_app.acquisition.simulation import DEFAULT_CHANNELS
from bci_app.resources import shipped_dir
from bci_app.decoding import AugmentedCovariance, FastMDM, bind_recording_info, load_models

CONFIGS = {"22ch_250Hz_2s": (DEFAULT_CHANNELS, 250.0), "64ch_160Hz_2s": (PHYSIONET_64, 160.0)}


def reference_comparison(X, y, order, lag, n_test):
    from moabb.pipelines.features import AugmentedDataset
    from pyriemann.classification import MDM
    from pyriemann.estimation import Covariances

    ref = make_pipeline(AugmentedDataset(order=order, lag=lag), Covariances("oas"),
                        MDM(metric="riemann"))
    ours = make_pipeline(AugmentedCovariance(order=order, lag=lag, estimator="oas"),
                         FastMDM(metric="riemann"))
    ref.fit(X, y)
    ours.fit(X, y)
    windows = [X[i:i + 1] for i in range(n_test)]
    t_ref = time_per_call(ref.predict, windows)
    t_ours = time_per_call(ours.predict, windows)
    same = bool(np.array_equal(ref.predict(X), ours.predict(X)))
    proba_diff = float(np.max(np.abs(ref.predict_proba(X) - ours.predict_proba(X))))
    return {
        "order": order, "lag": lag, "dims": order * X.shape[1],
        "reference": {"path": "AugmentedDataset+Covariances(oas)+pyriemann.MDM", **t_ref},
        "ours": {"path": "AugmentedCovariance+FastMDM", **t_ours},
        "speedup_median": round(t_ref["median_ms"] / t_ours["median_ms"], 2),
        "identical_predictions": same,
        "max_abs_proba_diff": proba_diff,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer windows")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    n_test = 10 if args.quick else 40
    specs = load_models(shipped_dir("models"))
    out = {"benchmark": "decode", "machine": machine(), "threads": "1 (and default for the "
           "reference comparison, *_default_threads)",
           "target": "ACM (22 ch, order 8) + FastMDM >= 5x faster than the reference",
           "configs": {}}
    with threadpool_limits(1):
        _run(specs, n_test, out)
    # The same reference comparison with the default BLAS threads (all cores).
    for cname, (ch_names, sfreq) in CONFIGS.items():
        X, y = synthetic_windows(ch_names, sfreq, n_per_class=30)
        n_ref = n_test if cname.startswith("22") else max(5, n_test // 4)
        out["configs"][cname]["acm_order8_vs_reference_default_threads"] = reference_comparison(
            X[:, :22] if cname.startswith("22") else X, y, order=8, lag=2, n_test=n_ref)
    dump(out)


def _run(specs, n_test, out):
    for cname, (ch_names, sfreq) in CONFIGS.items():
        X, y = synthetic_windows(ch_names, sfreq, n_per_class=30)
        windows = [X[i:i + 1] for i in range(n_test)]
        models = {}
        for spec in specs:
            pipe = bind_recording_info(clone(spec.pipeline), sfreq=sfreq, ch_names=ch_names)
            pipe.fit(X, y)
            models[spec.name] = time_per_call(pipe.predict, windows)
        n_ref = n_test if cname.startswith("22") else max(5, n_test // 4)
        out["configs"][cname] = {
            "n_channels": len(ch_names), "sfreq": sfreq, "window_s": 2.0,
            "models_predict_per_window": models,
            "acm_order8_vs_reference": reference_comparison(
                X[:, :22] if cname.startswith("22") else X, y, order=8, lag=2, n_test=n_ref),
        }


if __name__ == "__main__":
    main()
