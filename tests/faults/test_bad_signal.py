"""Bad signal never becomes a command: flat, all-zero, NaN and inf EEG, live and offline.

Live cases inject the faults into a real LSL stream (a recording replayed in real time by
mne-lsl's PlayerLSL on loopback) decoded by models trained for real on simulated
calibration runs: one with an idle class (augmented covariance + MDM on the sensorimotor
channels) and one with idle decided by a confidence threshold (MDM on every channel), both
decoding the same replay at once, each with its own stream input and outlet. A run
of a session is carried out through the run orchestrator over such a stream. Offline cases
read recordings with non-finite samples and flat channels. Nothing asserts speed.
"""

import contextlib
import csv
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import mne
import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from bci_app.acquisition.replay import Replay
from bci_app.acquisition.simulation import DEFAULT_CHANNELS, make_trial_schedule, simulate_mi_raw
from bci_app.acquisition.stream import EEGInput
from bci_app.decoding.loading import read_model_file
from bci_app.errors import DataError
from bci_app.online.engine import DecisionRule, WindowedDecoder
from bci_app.online.live import ALERT, ARTIFACT_CODE, RESUMED, OnlineDecoder
from bci_app.online.training import train_decoder
from bci_app.processing.calibration import PseudoOnlineConfig
from bci_app.processing.quality import ARTIFACT, FLAT_STRETCH_S
from bci_app.processing.runs import Run, run_from_raw

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SFREQ = 250.0
WINDOW_S, STEP_S = 2.0, 0.25
FLAT = (7.0, 10.0)  # s of the recording: every channel at exactly 0 V
BURST = (13.0, 13.2)  # s of the recording: every channel NaN
DURATION = 20.0
MARGIN = 0.05  # s: window ends within this of a boundary are not judged (clock rounding)


def _unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _calibration():
    raw = simulate_mi_raw(make_trial_schedule(n_trials_per_class=8, seed=0), skill=1.0,
                          seed=0, artifacts=False)
    return [run_from_raw(raw, name="calibration")]


@pytest.fixture(scope="module")
def models():
    """name -> (fitted pipeline, decision settings): idle as a class, idle by threshold."""
    runs = _calibration()
    acm = read_model_file(PROJECT_ROOT / "models" / "acm_mdm.yml")
    with_idle, _ = train_decoder(acm.pipeline, runs, PseudoOnlineConfig(step_s=0.1))
    mdm = read_model_file(PROJECT_ROOT / "models" / "mdm.yml")
    tasks_only, _ = train_decoder(mdm.pipeline, runs,
                                  PseudoOnlineConfig(step_s=0.1, idle="threshold"))
    return {"idle class": (with_idle, {"smoothing": 2}),
            "threshold": (tasks_only, {"threshold": 0.7, "idle_by_threshold": True,
                                       "smoothing": 2})}


def _faulty_raw(flat=FLAT, burst=BURST, duration=DURATION, seed=7, value=np.nan):
    """Simulated left-hand imagery with every channel at 0 V during ``flat`` and ``value``
    (NaN, inf) during ``burst`` (s)."""
    raw = simulate_mi_raw([(None, 1.0), ("left_hand", duration - 1.0)], skill=1.0,
                          seed=seed, artifacts=False)
    data = raw.get_data()
    for (a, b), v in ((flat, 0.0), (burst, value)):
        if a is not None:
            data[:, int(round(a * SFREQ)):int(round(b * SFREQ))] = v
    out = mne.io.RawArray(data, raw.info, verbose="error")
    out.set_annotations(raw.annotations)
    return out


def _decode_live(raw, decoders, wait_until, alert_after_s=1.0):
    """Replay ``raw`` on LSL and decode it online with each of ``decoders`` at once (a
    dict: name -> (model, settings, log folder)), each with its own stream input, online
    decoder and predictions outlet; return, per name, what its subscribers and its
    predictions outlet got, with each window's end in seconds of the recording."""
    from mne_lsl.lsl import StreamInlet

    from bci_app.acquisition.lsl import find_stream

    name = _unique("bad-signal")
    n_total = int(np.floor((raw.times[-1] - WINDOW_S) / STEP_S))
    got = {}
    with Replay(raw, name=name, chunk_size=10) as replay, contextlib.ExitStack() as running:
        inputs = [EEGInput(name, channels=list(DEFAULT_CHANNELS), sfreq=SFREQ, timeout=20)
                  for _ in decoders]
        with ThreadPoolExecutor(len(inputs)) as pool:  # at once: each decoder starts early
            list(pool.map(EEGInput.connect, inputs))
        for k, (eeg, (key, (model, settings, log_dir))) in enumerate(
                zip(inputs, decoders.items())):
            chunks, preds, statuses = [], [], []

            def collect(kind, payload, out={"samples": chunks, "predictions": preds,
                                            "status": statuses}):
                out.get(kind, []).append(payload)

            decoder = WindowedDecoder(model, SFREQ, list(DEFAULT_CHANNELS), WINDOW_S, STEP_S,
                                      **settings)
            online = OnlineDecoder(decoder, eeg, log_dir=log_dir, publish=f"{name}-p{k}",
                                   alert_after_s=alert_after_s)
            online.subscribe(collect)
            running.enter_context(online)
            got[key] = {"online": online, "chunks": chunks, "preds": preds,
                        "statuses": statuses, "log": log_dir}
        for k, one in enumerate(got.values()):
            one["inlet"] = StreamInlet(find_stream(f"{name}-p{k}", "Predictions", 20).sinfo)
            one["inlet"].open_stream(timeout=20)
        replay.wait(raw.times[-1] + 60)
        for key, one in got.items():
            wait_until(lambda: sum(len(p) for p in one["preds"]) >= n_total - 12, 60,
                       f"the windows of the replay ({key})")
            published, _ = one["inlet"].pull_chunk(timeout=2.0)
            online = one["online"]
            one.update(published=np.asarray(published), running=online.is_running,
                       error=online.error, summary=online.summary())
    data = raw.get_data()
    for one in got.values():
        preds, first = one["preds"], one["chunks"][0]
        pred = type(preds[0]).concatenate(preds, preds[0].classes)
        # The recording's sample of each window end: the first samples received are found
        # in the recording, the others follow at the stream's rate.
        hits = [k for k in range(int((FLAT[0] - 0.5) * SFREQ)) if
                np.array_equal(data[:, k:k + 8], first.data[:, :8])]
        assert len(hits) == 1
        ends = (hits[0] + np.round((pred.times - first.timestamps[0]) * SFREQ)) / SFREQ
        one.update(pred=pred, ends=ends)
    return got


@pytest.fixture(scope="module")
def live(models, tmp_path_factory, wait_until):
    """The faulty recording (flat, then a NaN burst) replayed once on LSL and decoded online
    by both models at once: name -> what :func:`_decode_live` returns."""
    base = tmp_path_factory.mktemp("bad-signal")
    return _decode_live(_faulty_raw(), {kind: (model, settings, base / f"log{k}")
                                        for k, (kind, (model, settings)) in
                                        enumerate(models.items())}, wait_until)


def _csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("kind", ["idle class", "threshold"])
def test_flat_stream_and_nan_burst_give_no_command_and_decoding_resumes(kind, live):
    got = live[kind]
    pred, ends = got["pred"], got["ends"]
    decisions, reasons = pred.decisions, pred.reasons
    artifact = decisions == ARTIFACT
    # The worker survived both faults.
    assert got["running"] and got["error"] is None
    # Before the faults: decisions of the model.
    before = ends < FLAT[0] - MARGIN
    assert before.sum() >= 4 and not artifact[before].any()
    # Flat: every window holding a stretch of it is no decision, with its reason.
    flat = (ends > FLAT[0] + FLAT_STRETCH_S + MARGIN) & \
        (ends < FLAT[1] + WINDOW_S - FLAT_STRETCH_S - MARGIN)
    assert flat.sum() >= 15 and artifact[flat].all()
    assert all(r.startswith("flat signal (below 0.5 µV) on ") for r in reasons[flat])
    # NaN burst: every window holding one of its samples.
    burst = (ends > BURST[0] + MARGIN) & (ends < BURST[1] + WINDOW_S - MARGIN)
    assert burst.sum() >= 7 and artifact[burst].all()
    assert all(r.startswith("non-finite samples (NaN/inf) on ") for r in reasons[burst])
    # Zero class decisions during the bad parts; never a label of the model either.
    assert not np.isin(decisions[flat | burst], list(pred.classes) + ["idle"]).any()
    assert (pred.labels[artifact] == ARTIFACT).all()
    assert np.isnan(pred.smoothed[artifact]).all()
    # Decoding resumes: once the windows are clear of the burst, decisions again.
    after = ends > BURST[1] + WINDOW_S + MARGIN
    assert after.sum() >= 10 and not artifact[after].any()
    assert set(decisions[after]) <= set(pred.classes) | {"idle"}
    # An alert for each bad stretch longer than alert_after_s, and its end.
    alerts = [s for s in got["statuses"] if s.status in (ALERT, RESUMED)]
    assert [s.status for s in alerts] == [ALERT, RESUMED, ALERT, RESUMED]
    assert "flat signal" in alerts[0].message and "non-finite" in alerts[2].message
    # Counted in the summary, logged in events.csv and predictions.csv.
    summary = got["summary"]
    assert summary["artifacts"] == summary["decisions"][ARTIFACT] == artifact.sum()
    assert summary["alerts"] == 2
    assert sum(summary["artifact_reasons"].values()) == artifact.sum()
    events = [e for e in _csv(got["log"] / "events.csv") if e["kind"] == "artifact"]
    texts = [e["text"] for e in events]
    assert any(t.startswith("no decision: flat signal") for t in texts)
    assert any(t.startswith("no decision: non-finite samples") for t in texts)
    assert sum(t.startswith("decisions again after") for t in texts) == 2
    rows = _csv(got["log"] / "predictions.csv")
    logged = [r for r in rows if r["decision"] == ARTIFACT]
    assert len(logged) == artifact.sum() and all(r["reason"] for r in logged)
    assert all(r[f"p_{pred.classes[0]}"] == "" for r in logged)
    # The predictions stream (recorded with the EEG) carries them as "artifact", not idle.
    published = got["published"]
    code = published[:, -1]
    assert (code == ARTIFACT_CODE).sum() >= 10
    assert np.isnan(published[code == ARTIFACT_CODE, :-1]).all()
    assert np.isfinite(published[code != ARTIFACT_CODE, :-1]).all()


class _FailsSometimes(BaseEstimator, ClassifierMixin):
    """A fitted model that raises, as a numerical routine does on degenerate input, on the
    calls numbered in ``calls`` and on any batch holding ``window`` (fault injection around
    a real model)."""

    def __init__(self, model, calls=(), window=None):
        self.model, self.calls, self.window = model, calls, window
        self.classes_ = model.classes_
        self.n_calls = 0

    def predict_proba(self, X):
        self.n_calls += 1
        if self.n_calls in self.calls or (
                self.window is not None and any(np.array_equal(x, self.window) for x in X)):
            raise np.linalg.LinAlgError("Matrix is not positive definite")
        return self.model.predict_proba(X)


def test_a_model_that_fails_gives_no_decision_and_the_decoder_goes_on(models):
    model, _ = models["idle class"]
    raw = _faulty_raw(flat=(None, None), burst=(None, None), duration=8.0)
    data, ts = raw.get_data(), raw.times
    decoder = WindowedDecoder(_FailsSometimes(model, calls=set(range(3, 9))), SFREQ,
                              list(DEFAULT_CHANNELS), WINDOW_S, STEP_S, smoothing=3)
    parts = [decoder.push(data[:, i:i + 25], ts[i:i + 25]) for i in range(0, ts.size, 25)]
    pred = type(parts[0]).concatenate(parts, parts[0].classes)
    artifact = pred.decisions == ARTIFACT
    assert np.flatnonzero(artifact).tolist() == list(range(2, 8))
    assert all(r == "model error: LinAlgError: Matrix is not positive definite"
               for r in pred.reasons[artifact])
    assert not artifact[8:].any() and len(pred) > 12
    # Nothing from before the failures is smoothed into the first decision after them.
    ref = WindowedDecoder(model, SFREQ, list(DEFAULT_CHANNELS), WINDOW_S, STEP_S)
    first = ref.sweep(data).proba[8]
    np.testing.assert_allclose(pred.smoothed[8], first)
    # A sweep: one failing window does not take its batch along.
    from bci_app.processing.filters import CausalFilter

    filtered = CausalFilter(SFREQ, 8.0, 35.0).process_whole(data)
    step, window = int(STEP_S * SFREQ), int(WINDOW_S * SFREQ)
    bad = filtered[:, 3 * step:3 * step + window]
    decoder = WindowedDecoder(_FailsSometimes(model, window=bad), SFREQ,
                              list(DEFAULT_CHANNELS), WINDOW_S, STEP_S, batch_size=8)
    swept = decoder.sweep(data)
    assert np.flatnonzero(swept.decisions == ARTIFACT).tolist() == [3]
    np.testing.assert_allclose(swept.proba[[0, 1, 2, 4, 5, 6, 7]],
                               ref.sweep(data).proba[[0, 1, 2, 4, 5, 6, 7]])


def test_the_decision_rule_refuses_non_finite_probabilities():
    rule = DecisionRule(["left_hand", "right_hand"], smoothing=2, threshold=0.6)
    proba = np.array([[0.9, 0.1], [np.nan, np.nan], [np.inf, 0.0], [0.2, 0.8], [0.3, 0.7]])
    smoothed, decisions = rule.update(proba)
    assert list(decisions) == ["left_hand", ARTIFACT, ARTIFACT, "right_hand", "right_hand"]
    assert np.isnan(smoothed[1:3]).all()
    np.testing.assert_allclose(smoothed[3], [0.2, 0.8])  # not averaged with row 0
    np.testing.assert_allclose(smoothed[4], [0.25, 0.75])


def _orchestrated_online_run(tmp_path, model, on_status):
    from bci_app.acquisition.lsl import find_stream
    from bci_app.decoding.trained_model import TrainedModel
    from bci_app.protocol import protocol_from_dict
    from bci_app.session import RecordingStore, RunOrchestrator
    from bci_app.session.orchestrator import stream_source

    store = RecordingStore(tmp_path / "recordings")
    store.create_subject("01")
    session = store.open_session("01", "01")
    protocol = protocol_from_dict({
        "name": "Bad signal online", "run_type": "online",
        "classes": ["left_hand", "right_hand"], "trials_per_class": 3, "seed": 5,
        "timing": {"baseline_s": 1.0, "fixation_s": 0.2, "cue_s": 0.2, "imagery_s": 2.0,
                   "iti_min_s": 0.5, "iti_max_s": 0.6}})
    trained = TrainedModel(model, "ACM+MDM", SFREQ, list(DEFAULT_CHANNELS), WINDOW_S,
                           STEP_S)
    name = _unique("bad-signal-run")
    # A 14-s loop: 6 s flat in each, and a NaN burst: any 17-s run meets both.
    replay = Replay(_faulty_raw(flat=(3.0, 9.0), burst=(11.5, 11.7), duration=14.0),
                    name=name, chunk_size=10, repeat=np.inf).start()
    orch = RunOrchestrator(session, protocol, stream_source(find_stream(name, "eeg", 20)),
                           trained=trained, stream_prefix=name, on_decoder_status=on_status)
    return orch, replay, session


def test_an_online_run_goes_on_through_bad_signal(models, tmp_path, wait_until):
    """Flat EEG and a NaN burst during a session's online run: the decoder raises an alert,
    the run is not aborted, completes, and the session log and the run's summary say why
    decisions were missing."""
    statuses = []
    orch, replay, session = _orchestrated_online_run(tmp_path, models["idle class"][0],
                                                     statuses.append)
    try:
        orch.start()
        wait_until(lambda: any(s.status == ALERT for s in statuses), 60, "an alert")
        info = orch.run_to_end()
    finally:
        orch.finish(fault="the test stopped early")  # nothing once the run has finished
        replay.stop()
    assert info.status == "complete" and orch.fault() is None
    summary = orch.summary
    assert summary["alerts"] >= 1 and summary["artifacts"] >= 10
    assert summary["decisions"][ARTIFACT] == summary["artifacts"]
    assert set(summary["decisions"]) - {ARTIFACT} and "error" not in summary
    alerts = [e for e in session.entries() if e["event"] == "decoder_alert"]
    assert alerts and "no decision for" in alerts[0]["message"]
    events = [e["event"] for e in session.entries()]
    assert "run_saved" in events and "recording_fault" not in events
    # The recorded predictions read back as no decision (the session report's input).
    from bci_app.evaluation.online_runs import read_predictions

    (tsv,) = (tmp_path / "recordings").rglob("*_predictions.tsv")
    _, decisions, proba, _ = read_predictions(tsv)
    recorded = decisions == ARTIFACT
    assert 10 <= recorded.sum() <= summary["artifacts"]
    assert np.isnan(proba[recorded]).all() and np.isfinite(proba[~recorded]).all()


# -- offline: recordings read for training and scoring -----------------------------------
def _raw_with(seconds=20.0, **faults):
    """Simulated EEG with faults: ``nan``/``inf``/``flat`` -> (channel, start_s, stop_s)."""
    raw = simulate_mi_raw(make_trial_schedule(n_trials_per_class=2, seed=1), skill=1.0,
                          seed=1, artifacts=False)
    raw.crop(0, seconds)
    data = raw.get_data()
    for kind, specs in faults.items():
        for ch, a, b in specs:
            value = {"nan": np.nan, "inf": np.inf, "flat": 0.0}[kind]
            data[raw.ch_names.index(ch), int(a * SFREQ):int(b * SFREQ)] = value
    out = mne.io.RawArray(data, raw.info, verbose="error")
    out.set_annotations(raw.annotations)
    return out


def test_reading_a_recording_reports_nan_inf_and_flat_channels_by_name_and_time(caplog):
    raw = _raw_with(nan=[("C3", 4.0, 4.2)], inf=[("Cz", 6.0, 6.5)],
                    flat=[("C4", 0.0, 21.0), ("FC3", 10.0, 12.0)])
    with caplog.at_level("WARNING", logger="bci_app"):
        run_from_raw(raw, name="faulty")
    (text,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("faulty")]
    assert "non-finite samples (NaN/inf) on C3 at 4.000-4.200 s" in text
    assert "non-finite samples (NaN/inf) on Cz at 6.000-6.500 s" in text
    assert "flat signal (below 0.5 µV) on C4 throughout" in text
    assert "flat signal (below 0.5 µV) on FC3 at 10.000-12.000 s" in text
    assert "check the electrodes" in text


@pytest.mark.parametrize("kind", ["nan", "inf"])
def test_training_refuses_non_finite_samples_naming_channel_and_time(kind):
    runs = [run_from_raw(_raw_with(**{kind: [("C4", 7.0, 7.2)]}), name="calib")]
    spec = read_model_file(PROJECT_ROOT / "models" / "acm_mdm.yml")
    with pytest.raises(DataError) as err:
        train_decoder(spec.pipeline, runs, PseudoOnlineConfig())
    text = str(err.value)
    assert "run 'calib'" in text and "non-finite samples (NaN/inf) on C4 at 7.000-7.200 s" \
        in text and "repair the recording" in text


def test_training_refuses_flat_motor_channels_and_names_partly_flat_ones(caplog):
    spec = read_model_file(PROJECT_ROOT / "models" / "acm_mdm.yml")  # sensorimotor channels
    dead = _raw_with(flat=[("C3", 0, 21), ("Cz", 0, 21), ("C4", 0, 21)])
    with pytest.raises(DataError, match=r"channel\(s\) \['C3', 'C4', 'Cz'\] read by the model "
                                        r"are flat throughout"):
        train_decoder(spec.pipeline, [run_from_raw(dead, name="calib")], PseudoOnlineConfig())
    partly = run_from_raw(_raw_with(flat=[("C3", 8.0, 11.0)]), name="calib")
    with caplog.at_level("WARNING", logger="bci_app"):
        _, report = train_decoder(spec.pipeline, [partly], PseudoOnlineConfig())
    (warning,) = report["signal_warnings"]
    assert "flat signal (below 0.5 µV) on C3 at 8.000-11.000 s" in warning
    assert warning in caplog.text


def test_a_sweep_over_a_nan_burst_gives_artifacts_then_decisions(models):
    model, settings = models["threshold"]
    raw = _faulty_raw(flat=(None, None), burst=(4.0, 4.2), value=np.inf, duration=10.0)
    pred = WindowedDecoder(model, SFREQ, list(DEFAULT_CHANNELS), WINDOW_S, STEP_S,
                           **settings).sweep(raw.get_data())
    # Exactly the windows holding a sample of the burst (samples 1000-1049) get none.
    holds = (pred.last >= 1000) & (pred.last - int(WINDOW_S * SFREQ) + 1 < 1050)
    assert np.array_equal(pred.decisions == ARTIFACT, holds) and holds.sum() >= 8
    assert (~holds).sum() >= 20 and (pred.last[~holds] > 1050).sum() >= 8
    assert set(pred.reasons[holds]) == {"non-finite samples (NaN/inf) on " + ", ".join(
        DEFAULT_CHANNELS[:8]) + f" and {len(DEFAULT_CHANNELS) - 8} more"}


# -- scoring: no decision is neither right nor wrong ---------------------------------------
def test_artifact_decisions_are_no_decision_in_every_score(tmp_path):
    from bci_app.evaluation.online_runs import read_predictions
    from bci_app.evaluation.scoring import score_decisions
    from bci_app.processing.labels import label_windows

    sfreq, window, step = 100.0, 100, 0.5
    classes = ["left_hand", "right_hand"]
    events = [(2.0, 4.0, "left_hand"), (8.0, 4.0, "right_hand"), (14.0, 4.0, "left_hand")]
    times = np.arange(1.5, 18.0, step)  # window ends
    truth, _ = label_windows(events, times, window, sfreq, classes)
    decisions = np.where(np.equal(truth, None), "idle", truth).astype(object)
    decisions[(times >= 8.0) & (times < 13.0)] = ARTIFACT  # all of the right-hand trial
    wrong = np.flatnonzero(truth == "idle")[0]
    decisions[wrong] = "left_hand"
    score = score_decisions(events, times, decisions.astype(str), window, sfreq, classes,
                            step)
    n_artifact = int(((decisions == ARTIFACT) & score.scored).sum())
    assert score.artifacts == n_artifact > 0
    assert score.windows == int(score.scored.sum()) - n_artifact
    assert score.correct == score.windows - 1  # only the wrong idle window is wrong
    m = score.metrics
    assert (m["n_artifact"], m["artifact_fraction"]) == (
        n_artifact, pytest.approx(n_artifact / score.scored.sum()))
    assert ARTIFACT not in m["classes"] and int(np.sum(m["confusion"])) == score.windows
    assert m["itr_decisions_per_min"] == pytest.approx(
        60.0 / (window / sfreq) * (1 - m["artifact_fraction"]))
    # The trial with no decided window has no decision: a miss, not a silent skip.
    by_label = {t.onset: t for t in score.trials}
    assert by_label[8.0].decision is None and not by_label[8.0].correct
    assert by_label[2.0].correct and by_label[14.0].correct
    # The recorded predictions: a row without probabilities is no decision, whatever the
    # converter wrote in its decision column.
    tsv = tmp_path / "pred.tsv"
    tsv.write_text("onset\tlsl_time\tp_left_hand\tp_right_hand\tdecision\n"
                   "1.0\t10.0\t0.8\t0.2\tleft_hand\n2.0\t11.0\tn/a\tn/a\tidle\n")
    _, recorded, _, _ = read_predictions(tsv)
    assert list(recorded) == ["left_hand", ARTIFACT]


def test_decoding_statistics_summary_keeps_its_meaning():
    from bci_app.online.statistics import DecodingStatistics

    rng = np.random.default_rng(0)
    lat = rng.gamma(2.0, 0.004, 3000)
    dec = rng.choice(["idle", "left_hand", ARTIFACT], 3000)
    reasons = np.where(dec == ARTIFACT, "flat signal (below 0.5 µV) on C3", "")
    stats = DecodingStatistics()
    for i in range(0, 3000, 7):
        stats.add(lat[i:i + 7], dec[i:i + 7], reasons[i:i + 7])
    s = stats.summary()
    for q in (50, 95, 99):
        assert s[f"latency_p{q}_ms"] == pytest.approx(np.percentile(lat * 1e3, q))
    assert s["latency_max_ms"] == pytest.approx(lat.max() * 1e3)
    values, counts = np.unique(dec, return_counts=True)
    assert s["decisions"] == dict(zip(values.tolist(), counts.tolist()))
    assert s["artifact_reasons"] == {"flat signal (below 0.5 µV) on C3": s["artifacts"]}
    json.dumps(s)


def test_online_statistics_stay_in_bounded_memory_over_a_million_windows():
    """1e6 windows (70 h at 4 per second) of latencies, decisions and reasons: the
    statistics object does not grow past its fixed reservoir."""
    import tracemalloc

    from bci_app.online.statistics import LATENCY_RESERVOIR, MAX_REASONS, DecodingStatistics

    rng = np.random.default_rng(1)
    batch = 1000
    decisions = rng.choice(["idle", "left_hand", "right_hand", ARTIFACT], batch)
    reasons = np.array([f"model error: case {k}" if d == ARTIFACT else ""
                        for k, d in enumerate(decisions)], dtype=object)
    stats = DecodingStatistics()
    stats.add(rng.gamma(2.0, 0.004, batch), decisions, reasons)
    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        for _ in range(999):
            stats.add(rng.gamma(2.0, 0.004, batch), decisions, reasons)
        end, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stats.n_windows == 1_000_000
    assert end - start < 64 * 1024  # nothing kept per window
    assert stats.latencies.size == LATENCY_RESERVOIR
    assert len(stats.reasons) == MAX_REASONS + 1  # the named ones and "other"
    s = stats.summary()
    assert s["latency_p50_ms"] == pytest.approx(2.0 * 4.0 * 0.839, rel=0.05)  # gamma median
    assert sum(s["decisions"].values()) == 1_000_000


def test_a_run_of_non_eeg_is_never_trained_silently():
    """A hand-made Run (no file) goes through the same check."""
    data = np.zeros((len(DEFAULT_CHANNELS), int(20 * SFREQ)))
    run = Run(data, SFREQ, list(DEFAULT_CHANNELS),
              [(2.0, 4.0, "left_hand"), (9.0, 4.0, "right_hand")], name="zeros")
    spec = read_model_file(PROJECT_ROOT / "models" / "mdm.yml")
    with pytest.raises(DataError, match="flat throughout"):
        train_decoder(spec.pipeline, [run], PseudoOnlineConfig(idle="threshold"))
