"""The running score a clinician watches and the report's score of the same online run agree.

One online run is built the way the application records it: the protocol runner's markers
(LSL time), the decoder's decisions (one per window, stamped with the time of the window's
last sample) and, for the report, the same run as its BIDS conversion writes it (events on
the recording's sample grid, the predictions table of the run). The live path is the
controller fed signal by signal in the order they arrive during the run (each batch of
decisions a little after its last sample; only what the controller receives: from just
before the run starts to its end marker). The report path is
:func:`bci_app.session.report.online_run_metrics` on the recorded run (every recorded decision,
from the start of the recording to its end, after the protocol's end).
"""

import tomllib
from types import SimpleNamespace

import numpy as np
import pytest

from bci_app.online.engine import Predictions
from bci_app.protocol import build_schedule, marker_annotations, protocol_from_dict

SFREQ = 100.0
WINDOW_S, STEP_S = 1.0, 0.1
CLASSES = ["idle", "left_hand", "right_hand"]  # the decoder's classes
PROTOCOL = """
name = "Short online"
run_type = "online"
classes = ["left_hand", "right_hand"]
trials_per_class = 4
seed = 7
[timing]
baseline_s = 3.0
fixation_s = 0.5
cue_s = 0.5
imagery_s = 2.0
iti_min_s = 1.0
iti_max_s = 1.5
"""
TS0 = 5000.0          # LSL time of the recording's first EEG sample
RUN_T0 = TS0 + 2.4567  # the runner's start (markers off the sample grid, as live)
LATENCY = 0.03        # decision delivered this long after its window's last sample
TAIL_S = 0.5          # recorded after the end marker


def _recorded_run():
    """Markers, transitions and every decision of one online run, on the LSL clock."""
    protocol = protocol_from_dict(tomllib.loads(PROTOCOL))
    steps = build_schedule(protocol, seed=7)
    markers = [(RUN_T0 + s.onset_s, s.marker) for s in steps]
    transitions = [(RUN_T0 + s.onset_s, s.state, s.trial, s.label) for s in steps]
    t_end = markers[-1][0]
    n_samples = int(np.ceil((t_end + TAIL_S - TS0) * SFREQ))
    # The decoder started before the recording: its windows end on samples 37 + 10 k.
    last = np.arange(37, n_samples, int(STEP_S * SFREQ))
    times = TS0 + last / SFREQ
    rng = np.random.default_rng(3)
    decisions = []
    for t in times:  # a lagged decoder that is right most of the time
        state = [tr for tr in transitions if tr[0] <= t - 0.4]
        cued = state[-1][3] if state and state[-1][1] == "imagery" else "idle"
        decisions.append(cued if rng.random() > 0.3 else CLASSES[rng.integers(3)])
    return dict(protocol=protocol, markers=markers, transitions=transitions, last=last,
                times=times, decisions=np.array(decisions), n_samples=n_samples)


def _bids_annotations(run):
    """The run's events as :func:`bci_app.session.bids.load_xdf_run` writes them."""
    ts = TS0 + np.arange(run["n_samples"]) / SFREQ

    def to_seconds(t):
        return float(np.interp(t, ts, np.arange(ts.size, dtype=float), left=0.0,
                               right=ts.size - 1.0)) / SFREQ

    out = []
    for onset, duration, desc in marker_annotations(
            run["markers"], origin=TS0, end=ts[-1] + 1 / SFREQ,
            class_of_marker=run["protocol"].class_of_marker):
        start = to_seconds(TS0 + onset)
        stop = to_seconds(TS0 + onset + duration) if duration > 0 else start
        out.append((start, max(0.0, stop - start), desc))
    return out


def _recorded_run_info(run, tmp_path, monkeypatch):
    """The run as the session knows it once converted (RunInfo's fields the report reads),
    its recording served by ``runs.load_run_recording``."""
    import mne

    from bci_app.session import runs

    raw = mne.io.RawArray(np.zeros((2, run["n_samples"])),
                          mne.create_info(["C3", "C4"], SFREQ, "eeg"), verbose="error")
    onsets, durations, descs = zip(*_bids_annotations(run))
    raw.set_annotations(mne.Annotations(onsets, durations, descs))
    monkeypatch.setattr(runs, "load_run_recording", lambda info: raw)
    table = tmp_path / "run_predictions.tsv"
    lines = ["onset\tlsl_time\t" + "\t".join(f"p_{c}" for c in CLASSES) + "\tdecision"]
    for t, d in zip(run["times"], run["decisions"]):
        p = ["0.8" if c == d else "0.1" for c in CLASSES]
        lines.append(f"{round(t - TS0, 6)}\t{t}\t" + "\t".join(p) + f"\t{d}")
    table.write_text("\n".join(lines) + "\n")
    return SimpleNamespace(index=2, predictions_path=table, model=None,
                           classes=list(run["protocol"].classes), run_type="online",
                           status="complete", protocol="Short online", n_trials=8,
                           bids_path=str(tmp_path / "sub-01_ses-01_task-x_run-02_eeg.vhdr"),
                           error=None,
                           sidecar={"BciAppModel": {"window_s": WINDOW_S, "step_s": STEP_S,
                                                    "name": "MDM"}})


def _report_scores(run, tmp_path, monkeypatch):
    from bci_app.session import report

    return report.online_run_metrics(_recorded_run_info(run, tmp_path, monkeypatch))


class _Runner:
    """What the controller reads of the protocol runner: the markers sent so far."""

    def __init__(self, protocol, markers):
        self.protocol, self._markers, self.now = protocol, markers, -np.inf

    @property
    def events(self):
        return [m for m in self._markers if m[0] <= self.now]


def _live_score(run, qapp, tmp_path):
    from bci_app.gui.controller import SessionController

    c = SessionController(tmp_path / "recordings")
    runner = _Runner(run["protocol"], run["markers"])
    decoder = SimpleNamespace(sfreq=SFREQ, window=int(WINDOW_S * SFREQ), step_s=STEP_S)
    c._start_score(runner, decoder)
    received = (run["times"] >= RUN_T0 - 0.3) & (run["times"] <= run["markers"][-1][0])
    index = np.flatnonzero(received)
    deliveries = [(ts, 0, (state, trial, label))
                  for ts, state, trial, label in run["transitions"]]
    for batch in np.array_split(index, len(index) // 2):  # decisions come 2 by 2
        deliveries.append((run["times"][batch[-1]] + LATENCY, 1, batch))
    for when, kind, item in sorted(deliveries, key=lambda d: (d[0], d[1])):
        runner.now = when
        if kind == 0:
            state, trial, label = item
            c.protocolEvent.emit(state, trial, label, when)
            continue
        n = len(item)
        proba = np.full((n, 3), 0.1)
        c.predictions.emit(Predictions(
            run["times"][item], run["last"][item], proba, proba,
            run["decisions"][item], run["decisions"][item], np.array(CLASSES),
            np.zeros(n)))
    return c.score


def test_live_running_score_equals_the_report_of_the_same_run(qapp, tmp_path, monkeypatch):
    run = _recorded_run()
    live = _live_score(run, qapp, tmp_path)
    report = _report_scores(run, tmp_path, monkeypatch)
    m = report["metrics"]
    assert live.windows == int(np.sum(m["confusion"])) > 100
    assert live.window_accuracy == pytest.approx(m["accuracy"])
    assert (live.trials_done, live.trial_accuracy) == (report["n_trials"],
                                                       pytest.approx(report["trial_accuracy"]))
    assert live.trials_done == 8
    assert live.metrics["nmcc"] == pytest.approx(m["nmcc"])
    assert live.metrics["confusion"] == m["confusion"]


def test_running_score_counts_a_trial_once_all_its_windows_are_in(qapp, tmp_path):
    """While the run goes on, a trial counts only once no later window can vote on it."""
    from bci_app.gui.controller import SessionController

    run = _recorded_run()
    c = SessionController(tmp_path / "recordings")
    runner = _Runner(run["protocol"], run["markers"])
    c._start_score(runner, SimpleNamespace(sfreq=SFREQ, window=int(WINDOW_S * SFREQ),
                                           step_s=STEP_S))
    first_imagery = next(t for t in run["transitions"] if t[1] == "imagery")[0]
    seen = []
    for k in np.flatnonzero(run["times"] >= RUN_T0 - 0.3)[:200]:
        runner.now = run["times"][k] + LATENCY
        c.predictions.emit(Predictions(
            run["times"][[k]], run["last"][[k]], np.full((1, 3), 0.1), np.full((1, 3), 0.1),
            run["decisions"][[k]], run["decisions"][[k]], np.array(CLASSES), np.zeros(1)))
        seen.append((run["times"][k], c.score.trials_done))
    assert all(done == 0 for t, done in seen if t < first_imagery + 2.0)
    counts = [done for _, done in seen]
    assert counts == sorted(counts) and counts[-1] >= 2


def test_report_shows_the_numbers_the_clinician_saw(qapp, tmp_path, monkeypatch):
    """The report's runs table (what build_report renders, tested end to end on a recorded
    session in tests/session/test_session_report.py) shows the live numbers."""
    from bci_app.session.report import online_run_metrics, runs_table

    run = _recorded_run()
    live = _live_score(run, qapp, tmp_path)
    info = _recorded_run_info(run, tmp_path, monkeypatch)
    table, summary = runs_table([info], {info.index: online_run_metrics(info)})
    s = summary[2]
    assert (s["windows"], s["n_trials"]) == (live.windows, live.trials_done)
    assert s["accuracy"] == pytest.approx(live.window_accuracy)
    assert s["trial_accuracy"] == pytest.approx(live.trial_accuracy)
    assert s["nmcc"] == pytest.approx(live.metrics["nmcc"])
    cells = [text for text, _ in table["rows"][0]]
    assert f"{live.window_accuracy:.2f}" in cells and f"{live.metrics['nmcc']:.2f}" in cells
