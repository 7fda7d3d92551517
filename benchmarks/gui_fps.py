"""Frame rate of the application's signal view while decoding live, 64 channels.

The whole application runs (main window, Online view: traces, decoder output, patient
preview; patient window) on a 64-channel simulated amplifier at 250 Hz while an online run
decodes the stream with an MDM decoder trained on simulated 64-channel data (worker thread).
The figure is the number of paint events the traces really receive per second (frames drawn),
over the run. Prints JSON and writes it to ``--out`` (default
``results/benchmarks/gui_fps.json``).

Offscreen (software rendering, no screen) unless a display is available; ``xvfb-run -a``
measures under a real X server.

Usage: python benchmarks/gui_fps.py [--seconds 12] [--channels 64] [--out FILE]
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from _common import PHYSIONET_64, machine


def _spin(app, predicate, timeout, what):
    """Run the Qt event loop (as the application does) until ``predicate()`` or timeout."""
    from PySide6 import QtCore

    loop = QtCore.QEventLoop()
    deadline = time.monotonic() + timeout
    check = QtCore.QTimer()
    check.timeout.connect(lambda: (predicate() or time.monotonic() > deadline) and loop.quit())
    check.start(50)
    loop.exec()
    check.stop()
    if not predicate():
        raise SystemExit(f"gui_fps: timed out waiting for {what}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="measured run time, s")
    parser.add_argument("--channels", type=int, choices=(22, 64), default=64)
    parser.add_argument("--out", default="results/benchmarks/gui_fps.json")
    args = parser.parse_args()

    from bci_app.acquisition.lsl import use_loopback

    use_loopback()
    from bci_app.gui.app import _needs_offscreen, create_window, make_application

    app = make_application(offscreen=_needs_offscreen())
    from PySide6 import QtWidgets

    from bci_app.acquisition.simulation import (
        DEFAULT_CHANNELS,
        make_trial_schedule,
        simulate_mi_raw,
    )
    from bci_app.decoding.loading import read_model_file
    from bci_app.decoding.persistence import TrainedModel, save_model
    from bci_app.processing.calibration import PseudoOnlineConfig
    from bci_app.processing.runs import run_from_raw
    from bci_app.gui.controller import MONTAGES, SIMULATED
    from bci_app.session import Subject
    from bci_app.gui.signal import FrameRateMeter
    from bci_app.online.training import train_decoder

    chans = list(PHYSIONET_64) if args.channels == 64 else list(DEFAULT_CHANNELS)
    montage = [k for k, v in MONTAGES.items() if (v and len(v) == 64) == (args.channels == 64)][0]
    tmp = Path(tempfile.mkdtemp(prefix="bci-gui-fps-"))
    root = Path(__file__).resolve().parents[1]
    spec = read_model_file(root / "models" / "mdm.yml")
    raw = simulate_mi_raw(make_trial_schedule(n_trials_per_class=10, seed=0), ch_names=chans,
                          skill=0.9, seed=0, artifacts=False)
    cfg = PseudoOnlineConfig(window_s=1.0, step_s=0.1)
    model, report = train_decoder(spec.pipeline, [run_from_raw(raw)], cfg)
    save_model(TrainedModel(model, spec.name, 250.0, chans, window_s=1.0,
                                         step_s=0.1, trained_on=report), tmp / "mdm.bcimodel")

    win = create_window(tmp / "recordings", None, time_scale=0.5, window_s=1.0)
    win.show()
    win.patient.show_on(None, fullscreen=False)
    c = win.controller
    c.save_subject(Subject("BENCH"))
    c.new_session("BENCH")
    ready = []
    c.sourceReady.connect(ready.append)
    c.open_source(SIMULATED, montage)
    _spin(app, lambda: ready, 30, "the simulated amplifier")
    c.select_model(tmp / "mdm.bcimodel")
    view = win.show_step("Online")
    view.panel.select_protocol("left_right_hand_online")
    view.panel.trials.setValue(20)
    started, finished = [], []
    c.runStarted.connect(started.append)
    c.runFinished.connect(finished.append)
    view.panel.start_button.click()
    _spin(app, lambda: started, 30, "the online run")
    meter = FrameRateMeter(view.signal.traces)
    t_end = time.monotonic() + args.seconds
    _spin(app, lambda: time.monotonic() >= t_end, args.seconds + 5, "the measurement")
    rates = meter.rates()
    c.abort_run()
    _spin(app, lambda: finished, 30, "the end of the run")
    summary = finished[0].summary or {}  # the decoder's (its own process), once stopped
    win.close()
    QtWidgets.QApplication.processEvents()
    result = {
        "benchmark": "gui_fps",
        "platform": app.platformName(),
        "channels": len(chans),
        "sfreq": 250.0,
        "timer_fps": round(1000.0 / view.signal.traces._timer.interval(), 1),
        "seconds": round(rates["seconds"], 2),
        "frames_drawn_per_s": round(rates["paints_per_s"], 1),
        "frames_prepared_per_s": round(rates["frames_per_s"], 1),
        "decoder": "MDM (64-ch covariance)" if args.channels == 64 else "MDM",
        "decoded_windows": summary.get("windows"),
        "decode_latency_p50_ms": summary.get("latency_p50_ms"),
        "decode_latency_p95_ms": summary.get("latency_p95_ms"),
        "machine": machine(),
    }
    print(json.dumps(result, indent=2))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
