"""Helpers shared by the benchmark scripts: data (real PhysioNet windows when present,
synthetic otherwise), channel-set variants of the models, timing, checks that fail loudly."""

import json
import os
import platform
import sys
import time
from dataclasses import replace
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
    n = round(win_s * sfreq)
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


#: The MNE data folder with the local PhysioNet EEGMMIDB files, beside the project.
SHARED_MNE_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mne_data"
PHYSIONET_DIR = SHARED_MNE_DATA / "MNE-eegbci-data" / "files" / "eegmmidb" / "1.0.0"
#: Imagined left / right fist runs of PhysioNet EEGMMIDB (T1 = left, T2 = right).
LR_IMAGERY_RUNS = (4, 8, 12)


def use_shared_data(data_path=None):
    """Point MNE and MOABB at local data only: ``data_path``, else ``$MNE_DATA``, else the
    shared folder beside the project (as ``tests/conftest.py`` and the Makefile do).

    Returns the folder used, or None when there is none.
    """
    os.environ.setdefault("MOABB_DOWNLOAD_PROVIDER", "upstream")
    if data_path is None and not os.environ.get("MNE_DATA") and SHARED_MNE_DATA.is_dir():
        data_path = SHARED_MNE_DATA
    if data_path is not None:
        os.environ["MNE_DATA"] = str(Path(data_path).resolve())
    return os.environ.get("MNE_DATA")


def physionet_edf(subject, run):
    """Path of a local PhysioNet EDF file, or None when absent."""
    path = PHYSIONET_DIR / f"S{subject:03d}" / f"S{subject:03d}R{run:02d}.edf"
    return path if path.is_file() else None


def read_physionet_raw(subject, run):
    """One local PhysioNet run as an MNE Raw: 10-10 channel names, standard montage,
    annotations renamed to rest / left_hand / right_hand (imagery runs 4, 8, 12)."""
    import mne

    from bci_app.acquisition.simulation import standard_montage

    raw = mne.io.read_raw_edf(physionet_edf(subject, run), preload=True, verbose="error")
    raw.rename_channels(lambda c: c.strip("."))
    raw.rename_channels({c: n for c in raw.ch_names for n in PHYSIONET_64
                         if c.lower() == n.lower()})
    raw.set_montage(standard_montage(), verbose="error")
    raw.annotations.description = np.array(
        [{"T0": "rest", "T1": "left_hand", "T2": "right_hand"}[d]
         for d in raw.annotations.description])
    return raw


def physionet_windows(subject=1, win_s=2.0, offset_s=0.5):
    """Cue-locked 2-class windows of one local PhysioNet subject, band-passed 8-35 Hz.

    Returns ``{run: (X, y)}`` for the imagery runs 4, 8, 12 (X: (n, 64, T) in volts,
    y: "left_hand"/"right_hand"), or None when the files are absent.
    """
    from scipy.signal import butter, sosfiltfilt

    if not all(physionet_edf(subject, r) for r in LR_IMAGERY_RUNS):
        return None
    out = {}
    for run in LR_IMAGERY_RUNS:
        raw = read_physionet_raw(subject, run)
        sfreq = raw.info["sfreq"]
        data = sosfiltfilt(butter(4, [8, 35], btype="band", fs=sfreq, output="sos"),
                           raw.get_data(), axis=-1)
        n, X, y = round(win_s * sfreq), [], []
        for onset, label in zip(raw.annotations.onset, raw.annotations.description):
            start = round((onset + offset_s) * sfreq)
            if label != "rest" and start + n <= data.shape[1]:
                X.append(data[:, start:start + n])
                y.append(label)
        out[run] = (np.array(X), np.array(y))
    return out


def channel_set(spec):
    """The channel set a model file declares: its first ``SelectChannels`` step's
    ``channels`` (a set name or a list), or ``"all"``."""
    from bci_app.decoding import SelectChannels

    first = spec.pipeline.steps[0][1]
    if isinstance(first, SelectChannels) and first.channels is not None:
        return first.channels
    return "all"


def describe_channels(channels, n_recording=64):
    """``"sensorimotor (21)"``, ``"all (64)"``, ... for a channel set of :func:`channel_set`."""
    from bci_app.decoding import channels as sets

    if channels == "all":
        return f"all ({n_recording})"
    if isinstance(channels, str):  # a named set: MOTOR, SENSORIMOTOR in decoding.channels
        return f"{channels} ({len(getattr(sets, channels.upper()))})"
    return f"{len(channels)} listed"


def with_channels(spec, channels):
    """``spec`` on the channel set ``channels`` ("all", a set name or a list of names).

    The model's own ``SelectChannels`` first step gets the new set; a model without one gets
    ``SelectChannels(channels)`` in front of its pipeline (step names, hence grid keys, are
    kept). Returns ``spec`` itself when it already uses that set, else a copy named
    ``"<name> [<set>]"``.
    """
    from sklearn.base import clone
    from sklearn.pipeline import Pipeline

    from bci_app.decoding import SelectChannels

    if channel_set(spec) == channels:
        return spec
    pipe = clone(spec.pipeline)
    first_name, first = pipe.steps[0]
    if isinstance(first, SelectChannels):
        pipe.set_params(**{f"{first_name}__channels": None if channels == "all" else channels})
    elif channels != "all":
        pipe = Pipeline([("selectchannels", SelectChannels(channels=channels))] + pipe.steps)
    label = channels if isinstance(channels, str) else "+".join(channels)
    return replace(spec, name=f"{spec.name} [{label}]", pipeline=pipe)


#: The name suffix of a model adapting online (as ``transfer_scores.py`` names its variant).
ADAPT_SUFFIX = " | within+adapt"


def with_adaptation(spec, adapt):
    """``spec`` with a ``Recenter`` step after its SPD step whose reference follows the
    signal over ``adapt`` windows (:func:`bci_app.decoding.transfer.with_recentering`, as the
    ``within+adapt`` variant of ``transfer_scores.py``), named ``"<name> | within+adapt"``.

    Returns None for a model with no single SPD step to re-centre (an ensemble).
    """
    from bci_app.decoding.transfer import with_recentering
    from bci_app.errors import ConfigError

    try:
        pipe = with_recentering(spec.pipeline, adapt)
    except ConfigError:
        return None
    return replace(spec, name=spec.name + ADAPT_SUFFIX, pipeline=pipe)


class Checks:
    """Assertions a benchmark makes about what it prints: every failed check is recorded
    (and goes into the JSON), and :meth:`exit_status` makes the script exit non-zero."""

    def __init__(self):
        self.failures = []

    def identical(self, what, ours, reference, proba_ours=None, proba_reference=None,
                  atol=1e-8):
        """Record (and return) whether two prediction arrays are equal, and the
        probabilities within ``atol``; a failure names ``what``."""
        ok = bool(np.array_equal(np.asarray(ours), np.asarray(reference)))
        detail = {"identical_predictions": ok, "n_compared": int(np.size(ours))}
        if not ok:
            detail["n_different"] = int(np.sum(np.asarray(ours) != np.asarray(reference)))
        if proba_ours is not None:
            diff = float(np.max(np.abs(np.asarray(proba_ours) - np.asarray(proba_reference))))
            detail["max_abs_proba_diff"] = diff
            detail["proba_atol"] = atol
            ok = ok and diff <= atol
        detail["check_passed"] = ok
        if not ok:
            self.failures.append(f"{what}: ours and the reference disagree ({detail})")
        return detail

    def require(self, what, condition):
        """Record a failure named ``what`` unless ``condition``."""
        if not condition:
            self.failures.append(what)
        return bool(condition)

    def exit_status(self):
        """0 when every check passed; otherwise the failures on stderr and 1."""
        for failure in self.failures:
            print(f"CHECK FAILED: {failure}", file=sys.stderr)
        return 1 if self.failures else 0


def warm_up(fn, items, n=5):
    """Call ``fn`` on the first ``n`` items, untimed (caches, lazy imports, BLAS set-up)."""
    for item in list(items)[:n]:
        fn(item)


def load_average():
    """The 1, 5 and 15 min load averages of the machine (other work sharing the cores)."""
    return [round(x, 2) for x in os.getloadavg()]


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


def reference_pipeline(model):
    """The MOABB/pyRiemann equivalent of a fitted pipeline of ours (unfitted).

    ``AugmentedCovariance`` becomes ``AugmentedDataset`` (with the fitted order and lag) +
    ``Covariances(estimator)``, ``ShrunkCovariances`` becomes ``Covariances(estimator)``,
    ``FastMDM`` becomes pyRiemann's ``MDM``; the other steps are cloned.
    """
    from moabb.pipelines.features import AugmentedDataset
    from pyriemann.classification import MDM
    from pyriemann.estimation import Covariances
    from sklearn.base import clone
    from sklearn.pipeline import Pipeline

    from bci_app.decoding import AugmentedCovariance, FastMDM, ShrunkCovariances

    steps = []
    for name, step in model.steps:
        if isinstance(step, AugmentedCovariance):
            steps += [("augmented", AugmentedDataset(order=step.order_, lag=step.lag_)),
                      ("cov", Covariances(step.estimator))]
        elif isinstance(step, ShrunkCovariances):
            steps.append(("cov", Covariances(step.estimator)))
        elif isinstance(step, FastMDM):
            steps.append(("mdm", MDM(metric=step.metric)))
        else:
            steps.append((name, clone(step)))
    return Pipeline(steps)


def has_reference(model):
    """True when :func:`reference_pipeline` replaces one of the model's steps."""
    from bci_app.decoding import AugmentedCovariance, FastMDM, ShrunkCovariances

    return any(isinstance(s, (AugmentedCovariance, ShrunkCovariances, FastMDM))
               for _, s in model.steps)
