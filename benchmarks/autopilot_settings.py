"""Online trial accuracy of the autopilot's session (``make demo``) for several settings.

The session of ``bci-app gui --autopilot`` replayed without real time: the same protocols
(for the patient's affected side), shortened as the GUI's run panel shortens them
(``bci_app.protocol.Protocol.shortened``: every duration times the time scale, the baseline
at most 3 s, imagery at least the shortest imagery), the same schedules (from seeds), the
simulated amplifier's generator (skill 0.9, 22 sensorimotor channels, 250 Hz) following the
protocol's imagery periods, training through the application's training path
(``bci_app.session.training.run_training``), the online decision rule (``WindowedDecoder``
with the online smoothing) and the scoring of the session report
(``bci_app.evaluation.online_runs.score_recorded_run``). Each seed is one
simulated session: a calibration run, then an online run decoded by the trained model.

Prints JSON: per setting, the runs' durations and, per model, the trial accuracy (with its
majority chance), the share of sessions whose trial accuracy reaches 0.8, window accuracy,
nMCC and ITR (with their shuffled chance), means over the seeds.

Usage: python benchmarks/autopilot_settings.py [--seeds N] [--only SETTING ...]
"""

import argparse
import time
import warnings
from dataclasses import replace

import numpy as np
from _common import dump, load_average, machine
from threadpoolctl import threadpool_limits

from bci_app.acquisition.montages import DEFAULT_CHANNELS
from bci_app.acquisition.simulation import CLASS_AREAS, MIEEGGenerator
from bci_app.decoding.loading import find_model
from bci_app.evaluation.online_runs import score_recorded_run
from bci_app.gui.autopilot_config import AutopilotConfig
from bci_app.online.engine import DEFAULT_THRESHOLD, ONLINE_SMOOTHING, WindowedDecoder
from bci_app.processing.labels import task_classes
from bci_app.processing.runs import Run
from bci_app.protocol import load_protocol
from bci_app.protocol.schedule import build_schedule, marker_annotations
from bci_app.resources import DEFAULT_MODEL
from bci_app.session.training import TrainingRequest, run_training

SFREQ = 250.0
SKILL = 0.9
#: Seconds of EEG before the protocol starts and after it ends (as the recorder keeps).
LEAD_S, TAIL_S = 0.7, 1.0
DEFAULT = AutopilotConfig()
#: name -> (calibration protocol, online protocol, time scale, shortest imagery s,
#: window s, calibration trials per class, online trials per class)
SETTINGS = {
    "before: left vs right, imagery 2 s, window 1 s": (
        "left_right_hand", "left_right_hand_online", 0.5, 2.0, 1.0, 8, 4),
    "hand vs rest, imagery 2 s, window 1 s": (
        "hand_vs_rest", "hand_vs_rest_online", 0.5, 2.0, 1.0, 8, 4),
    "hand vs rest, imagery 3 s, window 2 s": (
        "hand_vs_rest", "hand_vs_rest_online", 0.5, 3.0, 2.0, 8, 4),
    "autopilot default": (
        DEFAULT.calibration_protocol, DEFAULT.online_protocol, DEFAULT.time_scale,
        DEFAULT.min_imagery_s, DEFAULT.window_s, DEFAULT.calibration_trials,
        DEFAULT.online_trials),
    "autopilot default, window 2 s": (
        DEFAULT.calibration_protocol, DEFAULT.online_protocol, DEFAULT.time_scale,
        DEFAULT.min_imagery_s, 2.0, DEFAULT.calibration_trials, DEFAULT.online_trials),
}
KEYS = ("trial_accuracy", "majority_trial_accuracy", "accuracy", "majority_accuracy",
        "nmcc", "shuffled_nmcc", "itr_bits_per_min", "shuffled_itr_bits_per_min")


def shortened(name, trials, time_scale, min_imagery_s, side):
    """The protocol as the GUI's run panel runs it (``Protocol.shortened``)."""
    proto = replace(load_protocol(name, affected_hand=side), trials_per_class=trials)
    return proto.shortened(time_scale, min_imagery_s)


def simulated_run(proto, seed, generator, name):
    """One run of ``proto`` (schedule of ``seed``) from the generator, with its events."""
    steps = build_schedule(proto, seed)
    end = steps[-1].onset_s
    n_total = int(round((LEAD_S + end + TAIL_S) * SFREQ))
    pieces, done = [], 0
    for step in steps:
        if step.state == "imagery" and step.label in CLASS_AREAS:
            first = int(np.ceil((LEAD_S + step.onset_s) * SFREQ))
            last = int(np.ceil((LEAD_S + step.onset_s + step.duration_s) * SFREQ))
            pieces.append(generator.generate(first - done, None))
            pieces.append(generator.generate(last - first, step.label))
            done = last
    pieces.append(generator.generate(n_total - done, None))
    events = marker_annotations([(LEAD_S + s.onset_s, s.marker) for s in steps],
                                end=LEAD_S + end, class_of_marker=proto.class_of_marker)
    return Run(np.concatenate(pieces, axis=1), SFREQ, list(DEFAULT_CHANNELS), events, name)


def session(setting, seed, specs, side):
    """Scores of one simulated session: model name -> metrics of the online run."""
    cal_name, onl_name, scale, min_imagery, window, n_cal, n_onl = setting
    cal = shortened(cal_name, n_cal, scale, min_imagery, side)
    onl = shortened(onl_name, n_onl, scale, min_imagery, side)
    generator = MIEEGGenerator(DEFAULT_CHANNELS, SFREQ, skill=SKILL, seed=seed)
    generator.generate(int(5 * SFREQ))  # connecting, signal check
    cal_run = simulated_run(cal, seed * 1000 + 1, generator, "calibration")
    generator.generate(int(20 * SFREQ))  # saving, training, the decoder starting
    onl_run = simulated_run(onl, seed * 1000 + 2, generator, "online")
    request = TrainingRequest([cal_run], specs, tuple(task_classes(cal.classes)),
                              window_s=window, step_s=0.1)
    result = run_training(request)
    out = {}
    for name, trained in result.models.items():
        decoder = WindowedDecoder.from_model(trained, smoothing=ONLINE_SMOOTHING,
                                             threshold=DEFAULT_THRESHOLD)
        pred = decoder.sweep(onl_run.data)
        scored = score_recorded_run(onl_run.events, SFREQ, pred.times, pred.decisions,
                                    pred.smoothed, list(pred.classes), list(onl.classes),
                                    trained.window_s, trained.step_s)
        out[name] = {k: float(scored["metrics"][k]) for k in KEYS}
    return out, cal.total_duration(), onl.total_duration()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="simulated sessions per setting")
    parser.add_argument("--only", nargs="+", metavar="SETTING", choices=list(SETTINGS),
                        help="settings to run (default: all)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    names = [find_model(DEFAULT_MODEL).name, *DEFAULT.compare]
    specs = [find_model(n) for n in names]
    t0, figures = time.perf_counter(), {}
    with threadpool_limits(limits=1):
        for label, setting in SETTINGS.items():
            if args.only and label not in args.only:
                continue
            per_model, durations = {n: [] for n in names}, None
            for seed in range(args.seeds):
                scores, cal_s, onl_s = session(setting, seed, specs, DEFAULT.affected_side)
                durations = (cal_s, onl_s)
                for name, metrics in scores.items():
                    per_model[name].append(metrics)
            entry = {"protocols": list(setting[:2]), "time_scale": setting[2],
                     "min_imagery_s": setting[3], "window_s": setting[4],
                     "trials_per_class": {"calibration": setting[5], "online": setting[6]},
                     "run_durations_s": {"calibration": round(durations[0], 1),
                                         "online": round(durations[1], 1)},
                     "models": {}}
            for name, rows in per_model.items():
                trial = np.array([r["trial_accuracy"] for r in rows])
                entry["models"][name] = {
                    "mean": {k: round(float(np.mean([r[k] for r in rows])), 4) for k in KEYS},
                    "min_trial_accuracy": round(float(trial.min()), 4),
                    "share_trial_accuracy_at_least_0.8": round(float(np.mean(
                        trial >= 0.8 - 1e-9)), 4)}
            figures[label] = entry
    dump({"benchmark": "autopilot_settings", "data": "simulated amplifier's generator "
          f"(skill {SKILL}, {len(DEFAULT_CHANNELS)} channels, {SFREQ:g} Hz), "
          f"{args.seeds} sessions (seeds 0-{args.seeds - 1}) per setting",
          "default_model": DEFAULT_MODEL, "affected_side": DEFAULT.affected_side,
          "settings": figures, "seconds": round(time.perf_counter() - t0, 1),
          "load_average": load_average(), "machine": machine()})


if __name__ == "__main__":
    main()
