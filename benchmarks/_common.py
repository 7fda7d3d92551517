"""Helpers shared by the benchmark scripts (synthetic windows, timing)."""

import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: The 64 channels of the PhysioNet EEG Motor Movement/Imagery recordings (10-10 names).
PHYSIONET_64 = (
    "FC5", "FC3", "FC1", "FCz", "FC2", "FC4", "FC6", "C5", "C3", "C1", "Cz", "C2", "C4", "C6",
    "CP5", "CP3", "CP1", "CPz", "CP2", "CP4", "CP6", "Fp1", "Fpz", "Fp2", "AF7", "AF3", "AFz",
    "AF4", "AF8", "F7", "F5", "F3", "F1", "Fz", "F2", "F4", "F6", "F8", "FT7", "FT8", "T7",
    "T8", "T9", "T10", "TP7", "TP8", "P7", "P5", "P3", "P1", "Pz", "P2", "P4", "P6", "P8",
    "PO7", "PO3", "POz", "PO4", "PO8", "O1", "Oz", "O2", "Iz",
)  # fmt: skip


def synthetic_windows(ch_names, sfreq, n_per_class=30, win_s=2.0, seed=0):
    """Band-passed 2-class MI windows from the simulator: X (n, C, T), y (n,)."""
    from scipy.signal import butter, sosfiltfilt

    from bci_app.acquisition.simulation import MIEEGGenerator

    gen = MIEEGGenerator(ch_names=ch_names, sfreq=sfreq, skill=0.8, seed=seed)
    n = int(round(win_s * sfreq))
    sos = butter(4, [8, 35], btype="band", fs=sfreq, output="sos")
    X, y = [], []
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(["left_hand", "right_hand"], n_per_class))
    for label in labels:
        gen.generate(int(sfreq), None)  # rest between trials
        gen.generate(int(0.5 * sfreq), label)  # ERD onset
        X.append(sosfiltfilt(sos, gen.generate(n, label), axis=-1))
        y.append(label)
    return np.array(X), np.array(y)


def time_per_call(fn, items, repeat=1):
    """Median and p95 time (ms) of ``fn(item)`` over items (each called ``repeat`` times)."""
    times = []
    for item in items:
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn(item)
            times.append((time.perf_counter() - t0) * 1e3)
    times = np.asarray(times)
    return {"median_ms": round(float(np.median(times)), 4),
            "p95_ms": round(float(np.percentile(times, 95)), 4), "n": int(times.size)}


def machine():
    import os

    return {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count()}


def dump(obj):
    print(json.dumps(obj, indent=2))
