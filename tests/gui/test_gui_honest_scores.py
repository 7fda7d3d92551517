"""Scores the GUI shows say what they measure: a sweep of a recording the decoder was trained
on is labelled in-sample (optimistic), and the running window accuracy of an online run
counts only the windows the decoder can decide."""

import tomllib
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from bci_app.evaluation.calibration_scores import IN_SAMPLE_NOTE
from bci_app.online.decision import DecisionRule
from bci_app.online.engine import Predictions
from bci_app.protocol import build_schedule, protocol_from_dict


def test_a_sweep_of_the_calibration_run_trained_on_is_labelled_in_sample(window, qtbot,
                                                                         simulated_run):
    from bci_app.session import Subject

    c = window.controller
    c.save_subject(Subject("T01"))
    session = c.new_session("T01")
    simulated_run(session, seed=0)
    simulated_run(session, seed=1)
    training = window.show_step("Training")
    training.set_runs([1])  # run 2 is not trained on
    training.set_checked(["MDM"])
    training.window.setValue(1.0)
    with qtbot.waitSignal(c.trainingFinished, timeout=120000):
        training.train_button.click()
    training.use_button.click()
    assert c.trained.trained_on["run_numbers"] == [1]
    runs = {r.index: Path(r.bids_path) for r in c.session.runs}
    view = window.show_step("Replay")
    view.file.setText(str(runs[1]))
    with qtbot.waitSignal(view._swept, timeout=60000):
        view.sweep_button.click()
    # Run 1 trained the decoder: its sweep is in-sample, said above the scores, with the
    # decoder's cross-validated (out-of-sample) scores to compare.
    assert view.in_sample.isVisible()
    assert view.in_sample.text().startswith(IN_SAMPLE_NOTE)
    cv = c.trained.trained_on["cross_validation"]
    assert f"nMCC {cv['nmcc']:.2f}" in view.in_sample.text()
    assert view.status.text().startswith("In-sample pseudo-online sweep (optimistic")
    assert view.last_sweep["in_sample"]
    # Run 2 was not trained on: an out-of-sample sweep, no label.
    view.file.setText(str(runs[2]))
    with qtbot.waitSignal(view._swept, timeout=60000):
        view.sweep_button.click()
    assert not view.in_sample.isVisible()
    assert view.status.text().startswith("Pseudo-online sweep:")
    assert not view.last_sweep["in_sample"]


PROTOCOL = """
name = "Short online"
run_type = "online"
classes = ["left_hand", "right_hand"]
trials_per_class = 3
seed = 3
[timing]
baseline_s = 3.0
fixation_s = 0.5
cue_s = 0.5
imagery_s = 2.5
iti_min_s = 1.5
iti_max_s = 2.0
"""
SFREQ, WINDOW_S, STEP_S = 100.0, 1.0, 0.1


class _Runner:
    """What the controller reads of a protocol runner: its protocol, the markers sent."""

    def __init__(self, protocol, markers):
        self.protocol, self.markers, self.now = protocol, markers, -np.inf

    @property
    def events(self):
        return [m for m in self.markers if m[0] <= self.now]


def test_the_running_window_accuracy_counts_what_the_decoder_can_decide(window):
    """A decoder of the two hands only (no rest class, no threshold: it never decides rest)
    decides the cued hand throughout each imagery period and keeps it until the next cue.
    Every window it can decide (the imagery windows) is right: 100 %. The rest windows
    (baseline, between trials) it can never decide are not scored, and the view says so."""
    c = window.controller
    view = window.show_step("Online")
    protocol = protocol_from_dict(tomllib.loads(PROTOCOL))
    t0 = 1000.0
    steps = build_schedule(protocol, seed=3)
    markers = [(t0 + s.onset_s, s.marker) for s in steps]
    runner = _Runner(protocol, markers)
    classes = np.array(["left_hand", "right_hand"])
    decoder = SimpleNamespace(sfreq=SFREQ, window=int(WINDOW_S * SFREQ), step_s=STEP_S,
                              classes=classes, rule=DecisionRule(classes))
    c._start_score(runner, decoder)
    times = t0 + np.arange(int(WINDOW_S * SFREQ), int((markers[-1][0] - t0) * SFREQ),
                           int(STEP_S * SFREQ)) / SFREQ
    cued, decisions = "left_hand", []
    for t in times:
        state = [s for s in steps if t0 + s.onset_s <= t]
        if state and state[-1].state == "imagery":
            cued = state[-1].label
        decisions.append(cued)
    decisions = np.array(decisions)
    for k in range(0, times.size, 5):  # batches of 5 windows, each once its last is in
        runner.now = times[min(k + 4, times.size - 1)]
        for step in steps:  # the protocol's events up to now
            if runner.now - 0.5 < t0 + step.onset_s <= runner.now:
                c.protocolEvent.emit(step.state, step.trial, step.label, t0 + step.onset_s)
        sel = slice(k, k + 5)
        n = decisions[sel].size
        proba = np.tile([0.9, 0.1], (n, 1))
        c.predictions.emit(Predictions(times[sel], np.arange(n), proba, proba,
                                       decisions[sel], decisions[sel], classes, np.zeros(n)))
    runner.now = markers[-1][0]
    c.protocolEvent.emit("end", None, None, markers[-1][0])
    score = c.score
    assert score.undecidable > 0 and score.windows > 0
    assert score.correct == score.windows  # every decidable window is right
    assert (score.trials_done, score.trials_correct) == (6, 6)
    text = view.score_label.text()
    assert text.startswith(f"Run accuracy: windows 100 % ({score.windows}); trials 6/6")
    assert f"Not scored: {score.undecidable} rest windows" in text


def test_the_running_trial_accuracy_shows_the_accuracy_its_trials_must_reach(window):
    """20 trials of hand vs rest: the trial accuracy is shown beside 75 %, what 20 trials
    must reach to beat guessing between two classes at p < 0.05; 4 trials cannot."""
    from bci_app.evaluation.scoring import score_decisions
    from bci_app.gui.views.online import live_score_text

    def run(n_trials):
        events, t = [], 0.0
        for k in range(n_trials):
            events += [(t, 2.0, "idle"), (t + 2.0, 3.0, ("right_hand", "rest")[k % 2])]
            t += 5.0
        times = np.arange(1.0, t, 0.5)
        decisions = np.where(np.arange(times.size) % 3, "right_hand", "idle")
        return score_decisions(events, times, decisions, 10, 10.0, ["right_hand", "rest"],
                               0.5)

    text = live_score_text(run(20))
    assert "; trials 50 % (majority), " in text
    assert text.endswith(" (shuffled), 75 % needed for p < 0.05")
    assert live_score_text(run(4)).endswith(" (shuffled), too few for p < 0.05")
    view = window.show_step("Online")
    view._on_score(run(20))
    assert view.score_label.text() == text
