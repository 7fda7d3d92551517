"""Live latency: sample pushed on LSL -> prediction emitted by the online engine.

Prints JSON, and exits 1 when a check fails. A separate process plays an amplifier: it pushes
synthetic motor-imagery EEG in chunks on a real LSL outlet (loopback), stamping the last
sample of each chunk with the LSL time of the push. This process runs the online engine
(``EEGInput`` -> ``OnlineDecoder`` on one BLAS thread, with the default model,
``bci_app.resources.DEFAULT_MODEL``, trained on a simulated calibration run) with one
decision every 0.1 s. Window and step are multiples of the chunk, so every window ends on the
last sample of a chunk and ``emitted_lsl - timestamp`` is exactly push -> prediction.

For each configuration (22 ch / 250 Hz, 64 ch / 160 Hz) it reports p50/p95/p99/max latency
over the measured period (after a warm-up), the engine process's CPU use (all its threads,
% of one core), and the same with the model's reference decoding path (MOABB
``AugmentedDataset`` + pyRiemann ``Covariances("oas")`` + ``MDM`` for our augmented
covariance and fast MDM, same channels, embedding and later steps) in the same process.
Asserted (exit 1 otherwise): the reference path and ours decide alike, with probabilities
within 1e-9, on the windows of a second simulated run (out of sample).

Usage: python benchmarks/latency.py [--duration 60] [--warmup 5] [--no-reference]
"""

import argparse
import multiprocessing as mp
import os
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
    reference_pipeline,
)

CONFIGS = {"22ch_250Hz": (None, 250.0, 5), "64ch_160Hz": (PHYSIONET_64, 160.0, 4)}
STEP_S = 0.1
WINDOW_S = 2.0


def _amplifier(name, ch_names, sfreq, chunk, duration, ready):
    """Child process: push chunks at the nominal rate, last sample stamped at push time."""
    from bci_app.acquisition.lsl import use_loopback

    use_loopback()
    from mne_lsl.lsl import StreamInfo, StreamOutlet, local_clock

    from bci_app.acquisition.simulation import MIEEGGenerator

    gen = MIEEGGenerator(ch_names=ch_names, sfreq=sfreq, skill=0.8, seed=1)
    n_loop = int(10 * sfreq) // chunk * chunk
    data = np.concatenate([gen.generate(n_loop // 2, None),
                           gen.generate(n_loop - n_loop // 2, "left_hand")], axis=1)
    data = np.ascontiguousarray(data.T, dtype=np.float32)
    info = StreamInfo(name, "eeg", len(ch_names), sfreq, "float32", f"{name}-bench")
    info.set_channel_names(list(ch_names))
    info.set_channel_types("eeg")
    info.set_channel_units("volts")
    outlet = StreamOutlet(info, chunk_size=chunk)
    ready.set()
    t0 = local_clock()
    k = 0
    while local_clock() - t0 < duration:
        due = t0 + (k + 1) * chunk / sfreq
        wait = due - local_clock()
        if wait > 0:
            time.sleep(wait)
        start = (k * chunk) % n_loop
        outlet.push_chunk(data[start:start + chunk], timestamp=local_clock())
        k += 1


def _train(ch_names, sfreq, checks, cname):
    """The default model trained on a simulated calibration run, its MOABB/pyRiemann
    equivalent (None when it has none) and the check that both decide alike on the windows
    of another simulated run (out of sample)."""
    from bci_app.acquisition.simulation import make_trial_schedule, simulate_mi_raw
    from bci_app.decoding import find_model
    from bci_app.online.engine import class_probabilities, fit_decoder_model
    from bci_app.online.training import train_decoder
    from bci_app.processing.calibration import PseudoOnlineConfig, calibration_set
    from bci_app.processing.runs import run_from_raw
    from bci_app.resources import DEFAULT_MODEL, shipped_dir

    cfg = PseudoOnlineConfig(window_s=WINDOW_S, step_s=STEP_S)
    runs = [run_from_raw(simulate_mi_raw(make_trial_schedule(n_trials_per_class=10, seed=s),
                                         ch_names=ch_names, sfreq=sfreq, seed=s))
            for s in (0, 1)]
    spec = find_model(DEFAULT_MODEL, shipped_dir("models"))
    model, _ = train_decoder(spec.pipeline, runs[:1], cfg, param_grid=spec.param_grid)
    if hasattr(model, "best_estimator_"):
        model = model.best_estimator_
    if not has_reference(model):
        return spec, model, None, None
    X, y, _, _ = calibration_set(runs[:1], [runs[0].n_samples], cfg)
    ref = fit_decoder_model(reference_pipeline(model), X, y, sfreq, list(ch_names))
    X_test = calibration_set(runs[1:], [runs[1].n_samples], cfg)[0]
    p_ours, p_ref = class_probabilities(model, X_test), class_probabilities(ref, X_test)
    check = checks.identical(f"{cname}: {spec.name} vs its MOABB/pyRiemann path",
                             p_ours.argmax(1), p_ref.argmax(1), p_ours, p_ref, 1e-9)
    return spec, model, ref, check


def _path(model):
    return " + ".join(type(s).__name__ for _, s in model.steps)


def measure(cname, ch_names, sfreq, chunk, duration, warmup, model, tag):
    from mne_lsl.lsl import local_clock

    from bci_app.acquisition.stream import EEGInput
    from bci_app.online.engine import WindowedDecoder
    from bci_app.online.live import OnlineDecoder

    name = f"latency-{cname}-{os.getpid()}-{tag}"
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=_amplifier, args=(name, ch_names, sfreq, chunk,
                                                duration + warmup + 5, ready), daemon=True)
    proc.start()
    ready.wait(60)
    eeg = EEGInput(name, channels=list(ch_names), sfreq=sfreq, timeout=20)
    decoder = WindowedDecoder(model, sfreq, list(ch_names), WINDOW_S, STEP_S)
    assert decoder.window % chunk == 0 and decoder.step % chunk == 0
    online = OnlineDecoder(decoder, eeg, blas_threads=1)
    lat = []
    online.subscribe(lambda kind, p: lat.extend(p.emitted_lsl - p.times)
                     if kind == "predictions" else None)
    online.start()
    time.sleep(warmup)
    lat.clear()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    t_end = local_clock() + duration
    while local_clock() < t_end and online.is_running:
        time.sleep(0.2)
    cpu = time.process_time() - cpu0
    wall = time.perf_counter() - wall0
    values = np.array(lat) * 1e3
    online.stop()
    proc.terminate()
    proc.join(5)
    if online.error is not None:
        raise RuntimeError(online.error)
    acm = [s for _, s in model.steps if hasattr(s, "order_") or type(s).__name__ ==
           "AugmentedDataset"]
    return {
        "path": _path(model),
        **({"embedding": {"order": int(getattr(acm[0], "order_", acm[0].order)),
                          "lag": int(getattr(acm[0], "lag_", acm[0].lag))}} if acm else {}),
        "windows": int(values.size),
        "windows_per_s": round(values.size / wall, 2),
        "latency_ms": {f"p{q}": round(float(np.percentile(values, q)), 2)
                       for q in (50, 95, 99)} | {"max": round(float(values.max()), 2)},
        "cpu_percent_of_one_core": round(100.0 * cpu / wall, 1),
        "gaps": len(eeg.gaps),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds discarded first")
    parser.add_argument("--no-reference", action="store_true",
                        help="skip the reference decoding path")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from threadpoolctl import threadpool_limits

    from bci_app.acquisition.lsl import use_loopback
    from bci_app.acquisition.simulation import DEFAULT_CHANNELS

    use_loopback()
    checks = Checks()
    out = {"benchmark": "latency", "machine": machine(), "load_average_start": load_average(),
           "setup": {"window_s": WINDOW_S, "step_s": STEP_S, "duration_s": args.duration,
                     "warmup_s": args.warmup, "blas_threads": 1,
                     "source": "separate process, real LSL outlet on loopback, last sample "
                               "of each chunk stamped at push time"},
           "target": "p50 <= 10 ms, p99 <= 25 ms (default model)", "configs": {}}
    for cname, (ch_names, sfreq, chunk) in CONFIGS.items():
        ch_names = ch_names or DEFAULT_CHANNELS
        with threadpool_limits(1):
            spec, model, ref, check = _train(ch_names, sfreq, checks, cname)
        entry = {"n_channels": len(ch_names), "sfreq": sfreq, "model": spec.name,
                 "chunk_samples": chunk, "chunk_ms": round(1e3 * chunk / sfreq, 1)}
        entry["ours"] = measure(cname, ch_names, sfreq, chunk, args.duration, args.warmup,
                                model, "ours")
        if ref is not None and not args.no_reference:
            entry["reference"] = measure(cname, ch_names, sfreq, chunk, args.duration,
                                         args.warmup, ref, "ref")
            entry["reference_vs_ours_offline"] = check
            entry["p50_ratio_reference_over_ours"] = round(
                entry["reference"]["latency_ms"]["p50"] / entry["ours"]["latency_ms"]["p50"], 2)
        ours = entry["ours"]["latency_ms"]
        entry["target_met"] = bool(ours["p50"] <= 10 and ours["p99"] <= 25)
        out["configs"][cname] = entry
    out["load_average_end"] = load_average()
    out["checks_failed"] = checks.failures
    dump(out)
    return checks.exit_status()


if __name__ == "__main__":
    sys.exit(main())
