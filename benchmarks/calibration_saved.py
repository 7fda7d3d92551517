"""Calibration minutes saved by training with the patient's earlier sessions, at equal
accuracy, on simulated courses recorded as the app records them.

Each simulated patient has a course of ``--sessions`` sessions, a week apart, written to a
recordings folder (BIDS, as ``bci-app session`` leaves them): per session a calibration run
of the shipped ``left_right_hand`` protocol (20 trials per class) and a test run of
``--test-trials`` trials per class (the session's cued imagery, scored like an online run).
The app's simulated amplifier has no session-to-session variability of its own (a seed and
a skill only), so each session here gets the changes a real course has between sessions:

* the cap placed up to about a centimetre off: every electrode reads the field where it
  now sits (Gaussian interpolation, 1.5 cm, of the fields at the template positions,
  shifted by N(0, 7 mm) front-back and left-right);
* electrode contact: a gain per channel (log-normal, 10 %) and white sensor noise per
  channel (0.5-3 uV rms, drawn per session);
* the patient's day: a skill (depth of the imagery's desynchronisation) drawn around the
  patient's own (patients 0.45-0.85, sessions +-0.08).

Every session from the second on is a target; its earlier sessions are found and read back
by :mod:`bci_app.session.continuation` (``plan_continuation``, ``earlier_sources``: the
path of the GUI's "Train with earlier sessions" and ``bci-app session --from-previous``).
For each calibration size (the first trials of today's calibration run until every class
has N, ``bci_app.evaluation.transfer.trials_for``), the default model is trained on them
alone ("within", today's runs only) and with the earlier sessions as sources ("transfer":
``transfer_spec``, a Recenter step re-centring every session on its own mean, adapting
online over 15 s), and scored on today's test run
(``bci_app.evaluation.pseudo_online.evaluate_session``: offline accuracy on one epoch per
test trial, pseudo-online nMCC and trial success of the sweep, each beside its chance).

Minutes saved = duration of the calibration run within-session training needs for its
accuracy with 15 trials per class, minus that of the smallest size at which training with
the earlier sessions reaches the same mean accuracy (same targets), both from the
protocol's timing (baseline + trials x mean trial length); and the same at the length the
app proposes (``bci_app.session.continuation.PROPOSAL_RULE``, set from this measurement),
with every score of transfer at that length beside within-session's at 15, pooled and per
number of earlier sessions. Prints JSON.

The paired tests (two-sided Wilcoxon) take each target session as a pair; sessions of one
patient are not independent, so their p-values are optimistic.

Usage: python benchmarks/calibration_saved.py [--patients 8] [--sessions 4]
           [--sizes 3 5 10 15 20] [--test-trials 20] [--jobs 2] [--seed 0]
           [--save-rows F.csv]
       python benchmarks/calibration_saved.py --rows F.csv  (summarise saved rows)
"""

import argparse
import datetime as dt
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from _common import dump, load_average, machine
from threadpoolctl import threadpool_limits

CLASSES = ("left_hand", "right_hand")
#: The protocol whose calibration runs are recorded, and whose timing gives the minutes.
PROTOCOL = "left_right_hand"
#: Within-session training with this many trials per class is the reference accuracy.
REFERENCE = 15
#: Decoder window and pseudo-online step, s; band-pass, Hz (those of the GUI's training).
WINDOW_S, STEP_S, BAND = 2.0, 0.25, (8.0, 30.0)
#: Session-to-session changes (see the module docstring).
CAP_SHIFT_SD_M, KERNEL_M, GAIN_SD, NOISE_UV = 0.007, 0.015, 0.10, (0.5, 3.0)
SKILLS, SKILL_SD = (0.45, 0.85), 0.08
#: Scores summarised, with their chance levels.
SCORES = (("offline_accuracy", ("offline_majority_accuracy",)),
          ("nmcc", ("majority_nmcc", "shuffled_nmcc")),
          ("trial_accuracy", ("majority_trial_accuracy", "shuffled_trial_accuracy")))


def session_effects(rng, ch_names):
    """The session's mixing (channels x channels) and sensor noise (V rms per channel)."""
    from bci_app.acquisition.simulation import standard_montage

    pos = standard_montage().get_positions()["ch_pos"]
    lower = {k.lower(): v for k, v in pos.items()}
    xyz = np.array([lower[c.lower()] for c in ch_names])
    shift = np.r_[rng.normal(0.0, CAP_SHIFT_SD_M, 2), 0.0]
    d2 = (((xyz + shift)[:, None, :] - xyz[None, :, :]) ** 2).sum(-1)
    interp = np.exp(-d2 / (2 * KERNEL_M ** 2))
    interp /= interp.sum(axis=1, keepdims=True)
    gains = np.exp(rng.normal(0.0, GAIN_SD, len(ch_names)))
    noise = rng.uniform(*NOISE_UV, len(ch_names)) * 1e-6
    return gains[:, None] * interp, noise, float(np.hypot(*shift[:2]))


def simulated_run(skill, seed, trials, effects, rng):
    """A simulated run of ``trials`` per class, with the session's effects applied."""
    from bci_app.acquisition.simulation import make_trial_schedule, simulate_mi_raw

    raw = simulate_mi_raw(make_trial_schedule(CLASSES, trials, imagery=4.0, seed=seed),
                          skill=skill, seed=seed)
    mixing, noise, _ = effects
    raw.apply_function(lambda data: mixing @ data
                       + noise[:, None] * rng.standard_normal(data.shape),
                       picks="eeg", channel_wise=False)
    raw.info["line_freq"] = 50.0
    return raw


def record_course(root, patient, n_sessions, test_trials, seed):
    """A simulated patient's course, written as the app writes sessions; returns the
    sessions (oldest first) and what was drawn for each."""
    from bci_app.acquisition.simulation import DEFAULT_CHANNELS
    from bci_app.protocol.spec import load_protocol
    from bci_app.session import RecordingStore
    from bci_app.session.bids import XdfRun, protocol_record, write_run

    rng = np.random.default_rng([seed, patient])
    store = RecordingStore(root)
    sid = f"P{patient:02d}"
    store.create_subject(sid)
    protocol = load_protocol(PROTOCOL)
    record = protocol_record(protocol)
    record.pop("text", None)
    base = rng.uniform(*SKILLS)
    start = dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    sessions, drawn = [], []
    for k in range(n_sessions):
        session = store.new_session(sid)
        skill = float(np.clip(base + rng.normal(0.0, SKILL_SD), 0.05, 1.0))
        effects = session_effects(rng, DEFAULT_CHANNELS)
        when = start + dt.timedelta(weeks=k)
        for run_type, trials, offset in (("calibration", protocol.trials_per_class, 0),
                                         ("online", test_trials, 1)):
            raw = simulated_run(skill, int(rng.integers(1 << 30)), trials, effects, rng)
            rec = dict(record, run_type=run_type, trials_per_class=trials)
            write_run(XdfRun(raw=raw, markers=[], eeg={"name": "simulated"}), store.root,
                      sid, session.label, run_type, session.next_run(), sidecar={
                          "BciAppProtocol": rec,
                          "BciAppRecording": {"status": "complete", "started": (
                              when + dt.timedelta(minutes=10 * offset)).isoformat()}})
        sessions.append(session)
        drawn.append({"session": session.label, "skill": round(skill, 3),
                      "cap_shift_mm": round(1000 * effects[2], 1)})
    return sessions, drawn


def evaluate_patient(args):
    """Rows of one simulated patient: every target session x size x training."""
    patient, n_sessions, sizes, test_trials, seed = args
    warnings.filterwarnings("ignore")
    import mne

    mne.set_log_level("ERROR")
    from dataclasses import replace

    from bci_app.decoding.loading import find_model
    from bci_app.evaluation.pseudo_online import evaluate_session
    from bci_app.evaluation.transfer import trials_for
    from bci_app.processing.calibration import PseudoOnlineConfig
    from bci_app.resources import DEFAULT_MODEL
    from bci_app.session.continuation import (
        earlier_sources,
        plan_continuation,
        transfer_spec,
    )
    from bci_app.session.training import calibration_runs

    spec = find_model(DEFAULT_MODEL)
    pipelines = {"within": spec.pipeline, "transfer": transfer_spec(spec, STEP_S).pipeline}
    cfg = PseudoOnlineConfig(classes=CLASSES, window_s=WINDOW_S, step_s=STEP_S,
                             l_freq=BAND[0], h_freq=BAND[1])
    rows = []
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(1):
        sessions, drawn = record_course(Path(tmp) / "recordings", patient, n_sessions,
                                        test_trials, seed)
        for session, info in zip(sessions[1:], drawn[1:]):
            cal_info = session.runs_of_type("calibration")
            test_info = session.runs_of_type("online")
            cal, test = calibration_runs(session, cal_info + test_info)
            plan = plan_continuation(session, classes=CLASSES, ch_names=cal.ch_names)
            sources, _ = earlier_sources(plan, cfg, cal.sfreq, cal.ch_names)
            for k in sizes:
                n = trials_for([cal], CLASSES, k)
                ck = replace(cfg, calibration_runs=0, calibration_trials=n)
                for mode, pipeline in pipelines.items():
                    _, metrics, _ = evaluate_session(
                        [cal, test], {mode: pipeline}, ck, f"P{patient:02d}", session.label,
                        sources=sources if mode == "transfer" else None, test_from=1)
                    m = metrics[0]
                    row = {"patient": patient, "session": session.label,
                           "n_earlier": len(plan.sources), "trials_per_class": k,
                           "training": mode, "test_trials": int(m.get("n_trials", 0)),
                           **info}
                    for key, chance in SCORES:
                        for c in (key,) + chance:
                            row[c] = float(m.get(c, np.nan))
                    rows.append(row)
    return rows


def binomial_level(n, p=0.5, alpha=0.05):
    """Accuracy above which ``n`` trials differ from chance ``p`` (one-sided binomial)."""
    from scipy.stats import binom

    k = int(binom.isf(alpha, n, p)) + 1
    return k / n


def minutes(trials_per_class):
    from bci_app.protocol.spec import load_protocol
    from bci_app.session.continuation import calibration_minutes

    protocol = load_protocol(PROTOCOL)
    return calibration_minutes(protocol.timing, len(CLASSES), trials_per_class)


def summarise(frame, sizes, score):
    """Per group of targets (all, and by number of earlier sessions): the mean curves, the
    within reference and where transfer reaches it, the minutes saved, paired tests."""
    from bci_app.evaluation.paired import paired_test

    groups = {"all": frame}
    for n, part in frame.groupby("n_earlier"):
        groups[f"{int(n)} earlier"] = part
    out = {}
    for name, part in groups.items():
        curve = {}
        for mode in ("within", "transfer"):
            curve[mode] = []
            for k in sizes:
                rows = part[(part.training == mode) & (part.trials_per_class == k)]
                entry = {"trials_per_class": k, "minutes": round(minutes(k), 2),
                         "n_targets": len(rows)}
                for key, chance in SCORES:
                    entry[key] = round(float(rows[key].mean()), 4)
                    for c in chance:
                        entry[c] = round(float(rows[c].mean()), 4)
                curve[mode].append(entry)
        ref = next(c for c in curve["within"] if c["trials_per_class"] == REFERENCE)
        reached = [c["trials_per_class"] for c in curve["transfer"] if c[score] >= ref[score]]
        reach = min(reached) if reached else None
        keyed = part.set_index(["patient", "session"])
        within_ref = keyed[(keyed.training == "within")
                           & (keyed.trials_per_class == REFERENCE)][score]
        paired = []
        for k in sizes:
            tr = keyed[(keyed.training == "transfer") & (keyed.trials_per_class == k)][score]
            wi = keyed[(keyed.training == "within") & (keyed.trials_per_class == k)][score]
            same = paired_test(tr, wi)
            vs_ref = paired_test(tr, within_ref)
            paired.append({"trials_per_class": k, "transfer_minus_within": {
                               "mean": round(same.mean_diff, 4), "p": same.pvalue,
                               "n": same.n},
                           f"transfer_minus_within_at_{REFERENCE}": {
                               "mean": round(vs_ref.mean_diff, 4), "p": vs_ref.pvalue,
                               "n": vs_ref.n}})
        out[name] = {
            "curve": curve, "paired_wilcoxon": paired,
            "reference": {"score": score, "within_trials_per_class": REFERENCE,
                          "within_score": ref[score],
                          "within_minutes": round(minutes(REFERENCE), 2),
                          "transfer_reaches_at": reach,
                          "transfer_minutes": round(minutes(reach), 2) if reach else None,
                          "minutes_saved": (round(minutes(REFERENCE) - minutes(reach), 2)
                                            if reach else None)}}
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=8)
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--sizes", type=int, nargs="+", default=[3, 5, 10, 15, 20])
    parser.add_argument("--test-trials", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-rows", default=None, metavar="CSV")
    parser.add_argument("--rows", default=None, metavar="CSV",
                        help="summarise the rows of an earlier run (--save-rows) instead")
    args = parser.parse_args()
    if REFERENCE not in args.sizes:
        parser.error(f"--sizes must include the reference size {REFERENCE}.")
    if args.sessions < 2:
        parser.error("--sessions: at least 2 (a target needs an earlier session).")
    import pandas as pd

    from bci_app.protocol.spec import load_protocol
    from bci_app.session.continuation import PROPOSAL_RULE

    t0, load_start = time.perf_counter(), load_average()
    if args.rows:
        frame = pd.read_csv(args.rows, dtype={"session": str})
        args.sizes = sorted(int(k) for k in frame["trials_per_class"].unique())
        args.patients = int(frame["patient"].nunique())
        args.sessions = int(frame["session"].astype(int).max())
    else:
        tasks = [(p, args.sessions, sorted(args.sizes), args.test_trials, args.seed)
                 for p in range(1, args.patients + 1)]
        with ProcessPoolExecutor(args.jobs) as pool:
            rows = [r for part in pool.map(evaluate_patient, tasks) for r in part]
        frame = pd.DataFrame(rows)
    if args.save_rows:
        frame.to_csv(args.save_rows, index=False)
    protocol = load_protocol(PROTOCOL)
    test_trials = int(frame["test_trials"].median())
    by_accuracy = summarise(frame, sorted(args.sizes), "offline_accuracy")
    pooled = by_accuracy["all"]["reference"]
    proposed = min(k for _, k in PROPOSAL_RULE)
    at_proposal = {"trials_per_class": proposed, "minutes": round(minutes(proposed), 2),
                   "minutes_saved_per_session": round(minutes(REFERENCE) - minutes(proposed),
                                                      2),
                   "transfer_vs_within_at_15": {}}
    for group, entry in by_accuracy.items():
        tr = next((c for c in entry["curve"]["transfer"]
                   if c["trials_per_class"] == proposed), None)
        wi = next(c for c in entry["curve"]["within"] if c["trials_per_class"] == REFERENCE)
        if tr is not None:
            at_proposal["transfer_vs_within_at_15"][group] = {
                key: [tr[key], wi[key]] for key, _ in SCORES}
    dump({
        "benchmark": "calibration_saved", "machine": machine(),
        "result": {
            "targets": int(frame.drop_duplicates(["patient", "session"]).shape[0]),
            "within_offline_accuracy_at_15": pooled["within_score"],
            "transfer_reaches_it_at_trials_per_class": pooled["transfer_reaches_at"],
            "calibration_minutes_within_vs_transfer": [pooled["within_minutes"],
                                                       pooled["transfer_minutes"]],
            "minutes_saved_per_session": pooled["minutes_saved"],
            "chance_offline_accuracy": 0.5,
            "at_the_proposed_length": at_proposal},
        "data": (f"simulated courses: {args.patients} patients x {args.sessions} sessions a "
                 "week apart, written to BIDS and read back by bci_app.session.continuation"),
        "session_variability": {
            "cap_shift_sd_mm": 1000 * CAP_SHIFT_SD_M, "interpolation_kernel_mm":
                1000 * KERNEL_M, "channel_gain_sd": GAIN_SD,
            "sensor_noise_uv_rms": list(NOISE_UV), "patient_skill": list(SKILLS),
            "session_skill_sd": SKILL_SD,
            "drawn": frame.drop_duplicates(["patient", "session"])[
                ["patient", "session", "skill", "cap_shift_mm"]].to_dict("records")},
        "settings": {"model": "the default model (FgMDM); transfer: + Recenter (adapt 15 s)",
                     "classes": ["idle", *CLASSES], "window_s": WINDOW_S, "step_s": STEP_S,
                     "band_hz": list(BAND), "calibration": "first trials of today's "
                     "calibration run until every class has N",
                     "test": f"today's test run ({args.test_trials} trials per class)",
                     "sources": "every earlier session's calibration run (20 per class)",
                     "protocol": PROTOCOL, "trial_s": protocol.timing.trial_s,
                     "baseline_s": protocol.timing.baseline_s, "seed": args.seed},
        "chance": {"offline_accuracy": "majority class (offline_majority_accuracy); "
                   f"one target's {test_trials} test trials differ from 0.5 at p < 0.05 "
                   f"from {binomial_level(test_trials):.3f} up (one-sided binomial)",
                   "nmcc": "0.5; shuffled decisions (shuffled_nmcc)",
                   "trial_accuracy": "majority and shuffled decisions"},
        "rule_in_code": [list(r) for r in PROPOSAL_RULE],
        "source": args.rows or "evaluated in this run", "blas_threads": 1,
        "wall_time_s": None if args.rows else round(time.perf_counter() - t0, 1),
        "load_average_start_end": None if args.rows else [load_start, load_average()],
        "paired_unit": "a target session (patient x session); sessions of one patient "
                       "are not independent: the p-values are optimistic",
        "by_offline_accuracy": by_accuracy,
        "by_trial_accuracy": {k: v["reference"] for k, v in summarise(
            frame, sorted(args.sizes), "trial_accuracy").items()},
        "by_nmcc": {k: v["reference"] for k, v in summarise(
            frame, sorted(args.sizes), "nmcc").items()},
    })


if __name__ == "__main__":
    main()
