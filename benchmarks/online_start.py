"""Start and end of an online run: seconds from "start the run" to its first decision, and
seconds to stop its recorder.

Prints JSON. Real runs of the application's one run path
(:class:`bci_app.session.orchestrator.RunOrchestrator`: simulated amplifier, protocol
runner, decoder process, LabRecorder on loopback, BIDS conversion) with an MDM model trained
on a simulated calibration run (22 channels, 250 Hz, 1 s windows every 0.1 s). Two ways to
start the decoder process are measured alternately on the same machine:

* **cold**: the run starts its decoder process (a new interpreter imports numpy, scipy,
  scikit-learn, pyRiemann and loads the model, then connects its streams);
* **prepared**: the process was started ahead for the model
  (:meth:`bci_app.online.process.DecoderProcess.prepare`, as the GUI does when a model is
  selected and after each run) and the run only hands it its streams.

For each run: ``start_s`` (``RunOrchestrator.start`` returning: decoder, recorder and
protocol started), ``first_decision_s`` (the first decision delivered; it includes the
first window filling: 1 s), and ``recorder_stop_s`` (``XDFRecorder.stop`` at the run's end:
LabRecorder writing what it received and closing the file). The run is aborted after its
first decisions; the recording is checked to hold the run's last marker. Medians and the
extremes over the runs of each kind; the load average says how busy the machine was.

Usage: python benchmarks/online_start.py [--runs 3]
"""

import argparse
import statistics
import tempfile
import time
import uuid
import warnings
from pathlib import Path

from _common import dump, load_average, machine

HERE = Path(__file__).resolve().parent


def _trained():
    from bci_app.acquisition.simulation import make_trial_schedule, simulate_mi_raw
    from bci_app.decoding.loading import read_model_file
    from bci_app.online.train_model import train_model
    from bci_app.processing.calibration import PseudoOnlineConfig
    from bci_app.processing.runs import run_from_raw

    raw = simulate_mi_raw(make_trial_schedule(n_trials_per_class=6, seed=0), skill=1.0,
                          seed=0, artifacts=False)
    return train_model(read_model_file(HERE.parent / "models" / "mdm.yml"),
                       [run_from_raw(raw)], PseudoOnlineConfig(window_s=1.0, step_s=0.1))


def _protocol():
    from bci_app.protocol import protocol_from_dict

    return protocol_from_dict({
        "name": "Start benchmark", "run_type": "online",
        "classes": ["left_hand", "right_hand"], "trials_per_class": 2, "seed": 1,
        "timing": {"baseline_s": 2.0, "fixation_s": 0.5, "cue_s": 0.5, "imagery_s": 2.0,
                   "iti_min_s": 1.0, "iti_max_s": 1.5}})


def one_run(session, amp, trained, prepared):
    """Figures of one online run (aborted after its first decisions)."""
    import pyxdf

    from bci_app.online.process import DecoderProcess
    from bci_app.session import RunOrchestrator
    from bci_app.session.orchestrator import simulated_source

    process, ready_s = None, None
    if prepared:
        t = time.perf_counter()
        process = DecoderProcess(trained, timeout=10).prepare()
        if not process.wait_ready(180):
            raise RuntimeError(f"the prepared decoder did not load: {process.error}")
        ready_s = time.perf_counter() - t
    first = []
    orch = RunOrchestrator(session, _protocol(), simulated_source(amp), trained=trained,
                           stream_prefix=f"bench-{uuid.uuid4().hex[:6]}",
                           decoder_process=process,
                           on_predictions=lambda p: first or first.append(time.perf_counter()))
    t0 = time.perf_counter()
    orch.start()
    start_s = time.perf_counter() - t0
    deadline = time.monotonic() + 60
    while not first and time.monotonic() < deadline:
        time.sleep(0.005)
    if not first:
        raise RuntimeError("no decision within 60 s of the start")
    first_s = first[0] - t0
    stops = []
    recorder, stop = orch.recorder, orch.recorder.stop

    def timed_stop(*args, **kwargs):
        t = time.perf_counter()
        try:
            return stop(*args, **kwargs)
        finally:
            stops.append(time.perf_counter() - t)

    recorder.stop = timed_stop
    orch.abort()
    info = orch.finish()
    streams, _ = pyxdf.load_xdf(str(recorder.path), synchronize_clocks=False,
                                dejitter_timestamps=False)
    markers = [s for s in streams if s["info"]["type"][0] == "Markers"]
    last_marker = markers[0]["time_series"][-1][0] if markers else None
    return {"start_s": round(start_s, 2), "first_decision_s": round(first_s, 2),
            "recorder_stop_s": round(stops[0], 2) if stops else None,
            "prepared_ready_s": None if ready_s is None else round(ready_s, 2),
            "status": info.status, "last_marker_recorded": last_marker,
            "same_process": None if process is None else orch.decoder is process}


def _stats(rows, key):
    values = [r[key] for r in rows if r[key] is not None]
    if not values:
        return None
    return {"median": round(statistics.median(values), 2), "min": round(min(values), 2),
            "max": round(max(values), 2)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each kind")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    from bci_app.acquisition.lsl import use_loopback
    from bci_app.acquisition.simulator import SimulatedAmplifier
    from bci_app.session import RecordingStore

    use_loopback()
    trained = _trained()
    loads = [load_average()]
    rows = {"cold": [], "prepared": []}
    with tempfile.TemporaryDirectory() as tmp:
        store = RecordingStore(Path(tmp) / "recordings")
        store.create_subject("01")
        session = store.open_session("01", "01")
        amp = SimulatedAmplifier(name=f"bench-sim-{uuid.uuid4().hex[:6]}", seed=1,
                                 artifacts=False).start()
        try:
            for _ in range(args.runs):
                for kind in rows:
                    rows[kind].append(one_run(session, amp, trained, kind == "prepared"))
                    loads.append(load_average())
        finally:
            amp.stop()
    keys = ("start_s", "first_decision_s", "recorder_stop_s", "prepared_ready_s")
    dump({"benchmark": "online_start", "runs_per_kind": args.runs,
          "model": "MDM, 22 channels, 250 Hz, window 1 s, step 0.1 s",
          "summary": {kind: {k: _stats(r, k) for k in keys} for kind, r in rows.items()},
          "runs": rows, "load_average": loads, "machine": machine()})


if __name__ == "__main__":
    main()
