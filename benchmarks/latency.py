"""Live latency: sample pushed on LSL -> prediction emitted by the online engine.

Prints JSON. A separate process plays an amplifier: it pushes synthetic motor-imagery EEG in
chunks on a real LSL outlet (loopback), stamping the last sample of each chunk with the LSL
time of the push. This process runs the online engine (``EEGInput`` -> ``OnlineDecoder`` with
the default model, ACM+MDM, trained on simulated calibration data) with one decision every
0.1 s. Window and step are multiples of the chunk, so every window ends on the last sample of
a chunk and ``emitted_lsl - timestamp`` is exactly push -> prediction.

For each configuration (22 ch / 250 Hz, 64 ch / 160 Hz) it reports p50/p95/p99/max latency
over the measured period (after a warm-up), the engine process's CPU use (all its threads,
% of one core), and the same with the reference decoding path (MOABB ``AugmentedDataset`` +
pyRiemann ``Covariances("oas")`` + ``MDM``, same channels and embedding) in the same process.

Usage: python benchmarks/latency.py [--duration 60] [--warmup 5] [--no-reference]
"""

import argparse
import multiprocessing as mp
import os
import time
import warnings

import numpy as np
from _common import PHYSIONET_64, dump, machine

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


def _train(ch_names, sfreq, reference):
    from bci_app.acquisition.simulation import make_trial_schedule, simulate_mi_raw
    from bci_app.resources import shipped_dir
    from bci_app.decoding.loading import read_model_file
    from bci_app.processing.calibration import PseudoOnlineConfig
    from bci_app.processing.runs import run_from_raw
    from bci_app.online.training import train_decoder

    raw = simulate_mi_raw(make_trial_schedule(n_trials_per_class=10, seed=0),
                          ch_names=ch_names, sfreq=sfreq, seed=0)
    spec = read_model_file(shipped_dir("models") / "acm_mdm.yml")
    cfg = PseudoOnlineConfig(window_s=WINDOW_S, step_s=STEP_S)
    model, _ = train_decoder(spec.pipeline, [run_from_raw(raw)], cfg)
    if not reference:
        return model
    # The same channels and embedding through MOABB + pyRiemann.
    from moabb.pipelines.features import AugmentedDataset
    from pyriemann.classification import MDM
    from pyriemann.estimation import Covariances
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline

    from bci_app.processing.calibration import calibration_set
    from bci_app.online.engine import fit_decoder_model

    run = run_from_raw(raw)
    X, y, _, _ = calibration_set([run], [run.n_samples], cfg)
    select, acm = model.steps[0][1], model.steps[1][1]
    ref = make_pipeline(clone(select), AugmentedDataset(order=acm.order_, lag=acm.lag_),
                        Covariances("oas"), MDM(metric="riemann"))
    return fit_decoder_model(ref, X, y, sfreq, list(ch_names))


def measure(cname, ch_names, sfreq, chunk, duration, warmup, reference):
    from mne_lsl.lsl import local_clock

    from bci_app.acquisition.stream import EEGInput
    from bci_app.online.engine import WindowedDecoder
    from bci_app.online.live import OnlineDecoder

    model = _train(ch_names, sfreq, reference)
    name = f"latency-{cname}-{os.getpid()}-{'ref' if reference else 'ours'}"
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
    lat, decode_ms = [], []
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
    return {
        "path": "AugmentedDataset+Covariances(oas)+pyriemann.MDM" if reference else
                "models/acm_mdm.yml (SelectChannels motor + AugmentedCovariance + FastMDM)",
        "embedding": {"order": int(model.steps[1][1].order_ if not reference else
                                   model.steps[1][1].order),
                      "lag": int(model.steps[1][1].lag_ if not reference else
                                 model.steps[1][1].lag)},
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
    from bci_app.acquisition.lsl import use_loopback
    from bci_app.acquisition.simulation import DEFAULT_CHANNELS

    use_loopback()
    out = {"benchmark": "latency", "machine": machine(),
           "setup": {"window_s": WINDOW_S, "step_s": STEP_S, "duration_s": args.duration,
                     "warmup_s": args.warmup, "blas_threads": 1,
                     "source": "separate process, real LSL outlet on loopback, last sample "
                               "of each chunk stamped at push time"},
           "target": "p50 <= 10 ms, p99 <= 25 ms (default model)", "configs": {}}
    for cname, (ch_names, sfreq, chunk) in CONFIGS.items():
        ch_names = ch_names or DEFAULT_CHANNELS
        entry = {"n_channels": len(ch_names), "sfreq": sfreq,
                 "chunk_samples": chunk, "chunk_ms": round(1e3 * chunk / sfreq, 1)}
        entry["ours"] = measure(cname, ch_names, sfreq, chunk, args.duration, args.warmup,
                                False)
        if not args.no_reference:
            entry["reference"] = measure(cname, ch_names, sfreq, chunk, args.duration,
                                         args.warmup, True)
            entry["p50_ratio_reference_over_ours"] = round(
                entry["reference"]["latency_ms"]["p50"] / entry["ours"]["latency_ms"]["p50"], 2)
        ours = entry["ours"]["latency_ms"]
        entry["target_met"] = bool(ours["p50"] <= 10 and ours["p99"] <= 25)
        out["configs"][cname] = entry
    dump(out)


if __name__ == "__main__":
    main()
