"""Live latency on a busy machine: the decoder in its own process, the GUI drawing, two burners.

Prints JSON. The online decoder of a run runs in its own process
(:class:`bci_app.online.process.DecoderProcess`, as in every session). Its latency, sample
pushed on LSL -> decision emitted (the amplifier process of ``latency.py``: the last sample of
each chunk stamped at its push), is measured twice on the same configuration (64 channels,
160 Hz, ACM+MDM, one decision every 0.1 s):

* **quiet**: nothing else runs;
* **loaded**: the application's GUI runs at the same time, drawing 64 live channels
  (``gui_fps.py``, in its own process, decoding in its own thread too), with two processes
  burning a core each (the machine's two cores are then oversubscribed).

The loaded measurement is made twice: with the amplifier process at normal priority (its
LSL sender then waits behind the burners: the latency includes that wait), and with it at
the decoder's raised priority (as an amplifier's acquisition program usually runs). The
headline is the p99 under load and its ratio to the quiet p99; the target is p99 <= 25 ms
under load. The GUI's frame rate during the loaded measurement is reported beside it.

Usage: python benchmarks/latency_under_load.py [--duration 30] [--warmup 5]
"""

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from _common import PHYSIONET_64, dump, load_average, machine
from latency import STEP_S, WINDOW_S, _amplifier

HERE = Path(__file__).resolve().parent
SFREQ, CHUNK = 160.0, 4
BURNERS = 2


def _trained():
    """ACM+MDM trained on simulated 64-channel calibration data (the one train path)."""
    from bci_app.acquisition.simulation import make_trial_schedule, simulate_mi_raw
    from bci_app.decoding.loading import find_model
    from bci_app.online.train_model import train_model
    from bci_app.processing.calibration import PseudoOnlineConfig
    from bci_app.processing.runs import run_from_raw

    raw = simulate_mi_raw(make_trial_schedule(n_trials_per_class=10, seed=0),
                          ch_names=PHYSIONET_64, sfreq=SFREQ, seed=0)
    return train_model(find_model("acm_mdm"), [run_from_raw(raw)],
                       PseudoOnlineConfig(window_s=WINDOW_S, step_s=STEP_S))


def _raised_amplifier(*args):
    """The amplifier process of ``latency.py`` at the decoder's raised priority (as an
    amplifier's acquisition program usually runs)."""
    from bci_app.online.process import _raise_priority

    _raise_priority()
    _amplifier(*args)


def _decoder_latencies(model, duration, warmup, raised_amplifier=False):
    """Latencies (ms) of a DecoderProcess on a fresh amplifier process."""
    from mne_lsl.lsl import local_clock

    from bci_app.online.process import DecoderProcess

    name = f"busy-{os.getpid()}-{int(time.time() * 1e3) % 100000}"
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    amp = ctx.Process(target=_raised_amplifier if raised_amplifier else _amplifier, args=(name, PHYSIONET_64, SFREQ, CHUNK,
                                               duration + warmup + 40, ready), daemon=True)
    amp.start()
    ready.wait(60)
    lat = []
    decoder = DecoderProcess(model, name, smoothing=1, timeout=20)
    decoder.subscribe(lambda kind, p: lat.extend(p.emitted_lsl - p.times)
                      if kind == "predictions" else None)
    decoder.start()
    time.sleep(warmup)
    lat.clear()
    t_end = local_clock() + duration
    while local_clock() < t_end and decoder.error is None:
        time.sleep(0.2)
    values = np.array(lat) * 1e3
    decoder.stop()
    amp.terminate()
    amp.join(5)
    if decoder.error is not None:
        raise RuntimeError(decoder.error)
    return values, decoder.priority_raised


def _summary(values):
    return {"windows": int(values.size),
            "latency_ms": {f"p{q}": round(float(np.percentile(values, q)), 2)
                           for q in (50, 95, 99)} | {"max": round(float(values.max()), 2)}}


def _start_load(seconds, out):
    """The GUI (gui_fps.py, 64 channels) and the burners; returns their processes."""
    gui = subprocess.Popen([sys.executable, str(HERE / "gui_fps.py"), "--seconds",
                            str(seconds), "--channels", "64", "--out", str(out)],
                           cwd=HERE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True)
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
               for _ in range(BURNERS)]
    return gui, burners


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds discarded first")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from bci_app.acquisition.lsl import use_loopback

    use_loopback()
    model = _trained()
    out = {"benchmark": "latency_under_load", "machine": machine(),
           "setup": {"channels": len(PHYSIONET_64), "sfreq": SFREQ, "chunk_samples": CHUNK,
                     "window_s": WINDOW_S, "step_s": STEP_S, "duration_s": args.duration,
                     "warmup_s": args.warmup, "model": "models/acm_mdm.yml",
                     "decoder": "DecoderProcess (own process)",
                     "load": f"GUI drawing 64 channels (gui_fps.py) + {BURNERS} burners"},
           "target": "p99 <= 25 ms under load"}
    quiet, raised = _decoder_latencies(model, args.duration, args.warmup)
    out["quiet"] = _summary(quiet) | {"load_average": load_average()}
    with tempfile.TemporaryDirectory() as tmp:
        fps_file = Path(tmp) / "gui_fps.json"
        gui, burners = _start_load(2 * (args.duration + args.warmup) + 80, fps_file)
        try:
            time.sleep(15)  # the GUI is up and drawing
            loaded, _ = _decoder_latencies(model, args.duration, args.warmup)
            out["loaded"] = _summary(loaded) | {"load_average": load_average()}
            loaded, _ = _decoder_latencies(model, args.duration, args.warmup, True)
            out["loaded_amplifier_raised"] = _summary(loaded) | {
                "load_average": load_average()}
        finally:
            for p in burners:
                p.kill()
            gui.wait(args.duration + args.warmup + 120)
        fps = json.loads(fps_file.read_text()) if fps_file.is_file() else None
    out["decoder_priority_raised"] = raised
    out["gui_while_loaded"] = None if fps is None else {
        k: fps[k] for k in fps if "per_s" in k or k in ("channels", "seconds", "timer_fps")}
    out["p99_ratio_loaded_over_quiet"] = round(
        out["loaded"]["latency_ms"]["p99"] / out["quiet"]["latency_ms"]["p99"], 2)
    out["p99_ratio_loaded_amplifier_raised_over_quiet"] = round(
        out["loaded_amplifier_raised"]["latency_ms"]["p99"]
        / out["quiet"]["latency_ms"]["p99"], 2)
    out["target_met"] = bool(out["loaded"]["latency_ms"]["p99"] <= 25)
    out["target_met_amplifier_raised"] = bool(
        out["loaded_amplifier_raised"]["latency_ms"]["p99"] <= 25)
    dump(out)


if __name__ == "__main__":
    main()
