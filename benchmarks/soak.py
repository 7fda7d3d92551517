"""Soak: the online decoder of a run (its own process) on 64 channels for many minutes.

Prints JSON. The decoder process (:class:`bci_app.online.process.DecoderProcess`, ACM+MDM,
one decision every 0.1 s) decodes the amplifier process of ``latency.py`` (64 channels,
160 Hz) for ``--minutes``; the resident memory of the decoder process is read from
``/proc/<pid>/status`` every ``--every`` seconds. Reported: RSS after the warm-up, at the
end, its growth, the growth rate per hour (least-squares slope over the samples after the
warm-up), the number of decisions and the latency percentiles. The target is an RSS growth
below 1 MB per hour after the warm-up.

Usage: python benchmarks/soak.py [--minutes 60] [--warmup 60] [--every 10]
"""

import argparse
import multiprocessing as mp
import os
import time
import warnings

import numpy as np
from _common import PHYSIONET_64, dump, load_average, machine
from latency import _amplifier
from latency_under_load import CHUNK, SFREQ, _trained


def _rss_kb(pid):
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds before measuring")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from bci_app.acquisition.lsl import use_loopback
    from bci_app.online.process import DecoderProcess

    use_loopback()
    model = _trained()
    seconds = args.minutes * 60.0
    name = f"soak-{os.getpid()}"
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    amp = ctx.Process(target=_amplifier, args=(name, PHYSIONET_64, SFREQ, CHUNK,
                                               seconds + args.warmup + 60, ready), daemon=True)
    amp.start()
    ready.wait(60)
    n = {"windows": 0}
    lat = []

    def collect(kind, payload):
        if kind == "predictions":
            n["windows"] += len(payload)
            if len(lat) < 200_000:
                lat.extend(payload.emitted_lsl - payload.times)

    decoder = DecoderProcess(model, name, smoothing=1, timeout=20)
    decoder.subscribe(collect)
    decoder.start()
    time.sleep(args.warmup)
    t0 = time.monotonic()
    samples = []
    while time.monotonic() - t0 < seconds and decoder.error is None:
        samples.append((time.monotonic() - t0, _rss_kb(decoder.pid)))
        time.sleep(args.every)
    samples.append((time.monotonic() - t0, _rss_kb(decoder.pid)))
    decoder.stop()
    amp.terminate()
    amp.join(5)
    t, rss = np.array(samples, dtype=float).T
    slope_kb_per_s = float(np.polyfit(t, rss, 1)[0]) if len(t) > 2 else float("nan")
    values = np.array(lat) * 1e3
    dump({
        "benchmark": "soak", "machine": machine(), "load_average": load_average(),
        "setup": {"channels": len(PHYSIONET_64), "sfreq": SFREQ, "model": "models/acm_mdm.yml",
                  "step_s": 0.1, "minutes": args.minutes, "warmup_s": args.warmup,
                  "decoder": "DecoderProcess (own process)"},
        "error": decoder.error,
        "windows": n["windows"],
        "rss_mb": {"after_warmup": round(rss[0] / 1024, 2), "end": round(rss[-1] / 1024, 2),
                   "growth": round((rss[-1] - rss[0]) / 1024, 3),
                   "growth_per_hour_fit": round(slope_kb_per_s * 3600 / 1024, 3)},
        "latency_ms": {f"p{q}": round(float(np.percentile(values, q)), 2)
                       for q in (50, 95, 99)} if values.size else None,
        "target": "RSS growth < 1 MB per hour after the warm-up",
        "target_met": bool(slope_kb_per_s * 3600 / 1024 < 1.0),
    })


if __name__ == "__main__":
    main()
