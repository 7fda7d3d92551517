"""Pseudo-online sweep speed of every model, and a naive window-by-window reference.

Prints JSON, and exits 1 when a check fails. Each model is calibrated on the first imagery
run of a real recording (PhysioNet subject 1, run 4; cue-locked 2 s crops plus idle crops, as
the pseudo-online evaluation does), then the engine sweeps the next run (run 8, out of
sample) at step 0.1 s and 0.5 s: speed is recording seconds per second of compute ("x real
time"), on one core (BLAS limited to one thread), after an untimed warm-up sweep. The
reference is the same sweep done naively -- every window on its own through the
pyRiemann/MOABB path (``AugmentedDataset`` + ``Covariances("oas")`` + ``pyriemann`` MDM for
the augmented-covariance models, ``Covariances("oas")`` + the same later steps for the
covariance baselines), warmed up too -- and the single-thread ratio. Asserted (exit 1
otherwise): the reference and ours decide the same class on every compared window and their
probabilities agree within 1e-9.

Without the real data (a fresh clone) it falls back to a synthetic 64-channel recording
(``recording`` says which).

Usage: python benchmarks/pseudo_online.py [--naive-windows 150] [--only NAME ...]
"""
import argparse
import sys
import time
import warnings

import numpy as np
from _common import (
    PHYSIONET_64,
    Checks,
    dump,
    has_reference,
    load_average,
    machine,
    physionet_edf,
    read_physionet_raw,
    reference_pipeline,
)
from sklearn.base import clone
from threadpoolctl import threadpool_limits

from bci_app.decoding import find_model, load_models
from bci_app.online.engine import (
    WindowedDecoder,
    class_probabilities,
    fit_decoder_model,
)
from bci_app.processing.calibration import balance_idle, calibration_crops
from bci_app.processing.filters import CausalFilter
from bci_app.processing.labels import IDLE
from bci_app.processing.runs import run_from_raw
from bci_app.resources import DEFAULT_MODEL, shipped_dir

PROBA_ATOL = 1e-9


def load_runs():
    """(calibration run, test run) and a description of where they come from."""
    if physionet_edf(1, 4) and physionet_edf(1, 8):
        runs = [run_from_raw(read_physionet_raw(1, r), name=f"R{r:02d}") for r in (4, 8)]
        return runs, "PhysioNet EEGMMIDB S001 R04 (calibration) / R08 (sweep), 64 ch, 160 Hz"
    from bci_app.acquisition.simulation import make_trial_schedule, simulate_mi_raw

    runs = [run_from_raw(simulate_mi_raw(make_trial_schedule(n_trials_per_class=8, seed=s),
                                         ch_names=PHYSIONET_64, sfreq=160.0, seed=s), str(s))
            for s in range(2)]
    return runs, "synthetic 64 ch, 160 Hz (real data absent)"


def naive_sweep(ref, filtered, window, step, n_windows, warm=5):
    """Window-by-window predict_proba of the reference path (no batching), after ``warm``
    untimed windows; returns the probabilities of the timed windows and the time of one."""
    starts = np.arange(0, filtered.shape[1] - window + 1, step)[:n_windows]
    for s in starts[:warm]:
        class_probabilities(ref, filtered[None, :, s:s + window])
    t0 = time.perf_counter()
    proba = [class_probabilities(ref, filtered[None, :, s:s + window]) for s in starts]
    return np.vstack(proba), (time.perf_counter() - t0) / len(starts)


def timed_sweeps(model, test, sfreq, ch_names, duration):
    """Sweep speed of the engine at step 0.1 s and 0.5 s, each after a warm-up sweep of the
    first 20 s of the run."""
    entry = {}
    for step_s in (0.1, 0.5):
        dec = WindowedDecoder(model, sfreq, ch_names, 2.0, step_s)
        dec.sweep(test.data[:, :int(20 * sfreq)])
        dec = WindowedDecoder(model, sfreq, ch_names, 2.0, step_s)
        t0 = time.perf_counter()
        pred = dec.sweep(test.data)
        elapsed = time.perf_counter() - t0
        entry[f"step_{step_s}"] = {
            "windows": len(pred), "seconds": round(elapsed, 3),
            "x_real_time": round(duration / elapsed, 1),
            "ms_per_window": round(1e3 * elapsed / len(pred), 3)}
    return entry


def compare_naive(checks, name, model, X, y, test, sfreq, ch_names, duration, entry, n):
    """The naive reference sweep of the first ``n`` windows at step 0.1 s, its speed ratio,
    and the check that its decisions and probabilities are ours."""
    window, step = int(2.0 * sfreq), int(0.1 * sfreq)
    ref = reference_pipeline(model).fit(X, y)
    filtered_test = CausalFilter(sfreq, 8.0, 35.0).process_whole(test.data)
    p_ref, per_window = naive_sweep(ref, filtered_test, window, step, n)
    p_ours = WindowedDecoder(model, sfreq, ch_names, 2.0, 0.1).sweep(test.data).proba
    p_ours = p_ours[:len(p_ref)]
    naive_x = duration / (per_window * entry["step_0.1"]["windows"])
    return {
        "path": " + ".join(type(s).__name__ for _, s in ref.steps),
        "ms_per_window": round(1e3 * per_window, 3),
        "x_real_time": round(naive_x, 1),
        "speedup_one_thread": round(entry["step_0.1"]["x_real_time"] / naive_x, 1),
        **checks.identical(f"{name}: naive reference sweep", p_ours.argmax(1),
                           p_ref.argmax(1), p_ours, p_ref, PROBA_ATOL),
    }


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
    default = find_model(DEFAULT_MODEL, shipped_dir("models")).name
    checks = Checks()
    out = {"benchmark": "pseudo_online", "machine": machine(), "recording": source,
           "load_average_start": load_average(),
           "recording_s": round(duration, 1), "window_s": 2.0, "threads": 1,
           "default_model": default,
           "target": f"{default} >= 200x real time at step 0.1 s", "models": {}}
    with threadpool_limits(1):
        for spec in load_models(shipped_dir("models"), names=args.only):
            model = fit_decoder_model(clone(spec.pipeline), X, y, sfreq, ch_names)
            entry = timed_sweeps(model, test, sfreq, ch_names, duration)
            if has_reference(model):
                entry["naive_reference_step_0.1"] = compare_naive(
                    checks, spec.name, model, X, y, test, sfreq, ch_names, duration, entry,
                    args.naive_windows)
            out["models"][spec.name] = entry
    if default in out["models"]:
        out["target_met"] = bool(out["models"][default]["step_0.1"]["x_real_time"] >= 200)
    out["load_average_end"] = load_average()
    out["checks_failed"] = checks.failures
    dump(out)
    return checks.exit_status()


if __name__ == "__main__":
    sys.exit(main())
