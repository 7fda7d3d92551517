"""Pseudo-online sweep speed of every model, and a naive window-by-window reference.

Prints JSON. Each model is calibrated on the first imagery run of a real recording
(PhysioNet subject 1, run 4; cue-locked 2 s crops plus idle crops, as the pseudo-online
evaluation does), then the engine sweeps the next run at step 0.1 s and 0.5 s: speed is
recording seconds per second of compute ("x real time"), on one core (BLAS limited to one
thread). The reference is the same sweep done naively — every window on its own through the
pyRiemann/MOABB path (``AugmentedDataset`` + ``Covariances("oas")`` + ``pyriemann`` MDM for
the augmented-covariance model, ``Covariances("oas")`` + the same later steps for the
covariance baselines) — with identical predictions checked, and the ratio.

Without the real data (a fresh clone) it falls back to a synthetic 64-channel recording.

Usage: python benchmarks/pseudo_online.py [--naive-windows 150] [--only NAME ...]
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from _common import PHYSIONET_64, dump, machine
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from bci_app.decoding import AugmentedCovariance, ShrunkCovariances, load_models
from bci_app.online.engine import WindowedDecoder, class_probabilities, fit_decoder_model
from bci_app.processing.calibration import balance_idle, calibration_crops
from bci_app.processing.filters import CausalFilter
from bci_app.processing.labels import IDLE
from bci_app.processing.runs import run_from_raw
from bci_app.resources import shipped_dir

DEFAULT_MODEL = "ACM+MDM"


def load_runs():
    shared = Path(__file__).resolve().parents[2] / "shared" / "data" / "mne_data"
    edf = shared / "MNE-eegbci-data" / "files" / "eegmmidb" / "1.0.0" / "S001"
    if (edf / "S001R04.edf").is_file() and (edf / "S001R08.edf").is_file():
        import mne

        from bci_app.acquisition.simulation import standard_montage

        runs = []
        for r in (4, 8):
            raw = mne.io.read_raw_edf(edf / f"S001R{r:02d}.edf", preload=True, verbose="error")
            raw.rename_channels(lambda c: c.strip("."))
            mapping = {c: n for c in raw.ch_names for n in PHYSIONET_64
                       if c.lower() == n.lower()}
            raw.rename_channels(mapping)
            raw.set_montage(standard_montage(), verbose="error")
            raw.annotations.description = np.array(
                [{"T0": "rest", "T1": "left_hand", "T2": "right_hand"}[d]
                 for d in raw.annotations.description])
            runs.append(run_from_raw(raw, name=f"R{r:02d}"))
        return runs, "PhysioNet EEGMMIDB S001 R04 (calibration) / R08 (sweep), 64 ch, 160 Hz"
    from bci_app.acquisition.simulation import make_trial_schedule, simulate_mi_raw

    runs = [run_from_raw(simulate_mi_raw(make_trial_schedule(n_trials_per_class=8, seed=s),
                                         ch_names=PHYSIONET_64, sfreq=160.0, seed=s), str(s))
            for s in range(2)]
    return runs, "synthetic 64 ch, 160 Hz (real data absent)"


def reference_pipeline(model):
    """The pyRiemann/MOABB equivalent of a fitted pipeline, refitted on the same data."""
    from moabb.pipelines.features import AugmentedDataset
    from pyriemann.classification import MDM
    from pyriemann.estimation import Covariances

    steps = []
    for name, step in model.steps:
        if isinstance(step, AugmentedCovariance):
            steps += [("augmented", AugmentedDataset(order=step.order_, lag=step.lag_)),
                      ("cov", Covariances(step.estimator))]
        elif isinstance(step, ShrunkCovariances):
            steps.append(("cov", Covariances(step.estimator)))
        elif type(step).__name__ == "FastMDM":
            steps.append(("mdm", MDM(metric=step.metric)))
        else:
            steps.append((name, clone(step)))
    return Pipeline(steps)


def naive_sweep(ref, filtered, window, step, n_windows):
    """Window-by-window predict_proba of the reference path (no batching)."""
    starts = np.arange(0, filtered.shape[1] - window + 1, step)[:n_windows]
    t0 = time.perf_counter()
    proba = [class_probabilities(ref, filtered[None, :, s:s + window]) for s in starts]
    return np.vstack(proba), (time.perf_counter() - t0) / len(starts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--naive-windows", type=int, default=150)
    parser.add_argument("--only", nargs="+", default=None)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    (cal, test), source = load_runs()
    sfreq, ch_names = cal.sfreq, cal.ch_names
    classes = (IDLE, "left_hand", "right_hand")
    window = int(2.0 * sfreq)
    filtered_cal = CausalFilter(sfreq, 8.0, 35.0).process_whole(cal.data)
    X, y, spans = calibration_crops(filtered_cal, cal, classes, window, int(0.5 * sfreq), 0.5,
                                    cal.n_samples, True)
    X, y, _ = balance_idle(X, y, spans)
    duration = test.n_samples / sfreq
    filtered_test = CausalFilter(sfreq, 8.0, 35.0).process_whole(test.data)
    out = {"benchmark": "pseudo_online", "machine": machine(), "recording": source,
           "recording_s": round(duration, 1), "window_s": 2.0, "threads": 1,
           "target": f"{DEFAULT_MODEL} >= 200x real time at step 0.1 s", "models": {}}
    with threadpool_limits(1):
        for spec in load_models(shipped_dir("models"), names=args.only):
            model = fit_decoder_model(clone(spec.pipeline), X, y, sfreq, ch_names)
            entry = {}
            for step_s in (0.1, 0.5):
                dec = WindowedDecoder(model, sfreq, ch_names, 2.0, step_s)
                t0 = time.perf_counter()
                pred = dec.sweep(test.data)
                elapsed = time.perf_counter() - t0
                entry[f"step_{step_s}"] = {
                    "windows": len(pred), "seconds": round(elapsed, 3),
                    "x_real_time": round(duration / elapsed, 1),
                    "ms_per_window": round(1e3 * elapsed / len(pred), 3)}
            names = {type(s).__name__ for _, s in model.steps}
            if names & {"AugmentedCovariance", "ShrunkCovariances", "FastMDM"}:
                ref = reference_pipeline(model).fit(X, y)
                step = int(0.1 * sfreq)
                p_ref, per_window = naive_sweep(ref, filtered_test, window, step,
                                                args.naive_windows)
                dec = WindowedDecoder(model, sfreq, ch_names, 2.0, 0.1)
                p_ours = dec.sweep(test.data).proba[:len(p_ref)]
                naive_x = duration / (per_window * entry["step_0.1"]["windows"])
                entry["naive_reference_step_0.1"] = {
                    "path": " + ".join(type(s).__name__ for _, s in ref.steps),
                    "ms_per_window": round(1e3 * per_window, 3),
                    "x_real_time": round(naive_x, 1),
                    "speedup": round(entry["step_0.1"]["x_real_time"] / naive_x, 1),
                    "identical_predictions": bool(np.array_equal(p_ref.argmax(1),
                                                                 p_ours.argmax(1))),
                    "max_abs_proba_diff": float(np.abs(p_ref - p_ours).max()),
                }
            out["models"][spec.name] = entry
    dump(out)


if __name__ == "__main__":
    main()
