"""Continuing a patient's course: the earlier sessions found, which can be sources, the
proposed calibration length, and today's decoder trained with them.

Sessions are written as ``bci-app session`` leaves them (BIDS runs with their sidecars;
one earlier session as tests/session/test_course.py records a simulated session, with an
online run decoded by a real decoder, its report's summary and a model chosen for it).
"""

import datetime as dt

import pytest

from bci_app.acquisition.montages import DEFAULT_CHANNELS
from bci_app.errors import ConfigError, DataError
from bci_app.session import RecordingStore
from bci_app.session.continuation import (
    ADAPT_S,
    MEASURED_ON,
    PROPOSAL_RULE,
    TRANSFER_SUFFIX,
    earlier_sources,
    plan_continuation,
    propose_calibration,
    transfer_spec,
    train_with_earlier_sessions,
)

CLASSES = ("left_hand", "right_hand")
#: The shipped calibration protocol (left_right_hand.toml): 20 trials per class, 20 s of
#: baseline, trials of 2 + 1 + 4 + (1.5 + 3) / 2 = 9.25 s on average.
FULL, BASELINE_S, TRIAL_S = 20, 20.0, 9.25
#: The calibration the rule proposes after an earlier session (measured:
#: benchmarks/calibration_saved.py).
SHORT = 5


def _minutes(trials_per_class, n_classes=2):
    return (BASELINE_S + n_classes * trials_per_class * TRIAL_S) / 60


def write_calibration(session, started, classes=CLASSES, trials=6, seed=0, drop=(),
                      sfreq=250.0):
    """A simulated calibration run written into ``session`` (BIDS, as recorded elsewhere);
    ``drop``: channels the montage of that day lacked. Returns its run number."""
    from bci_app.acquisition.simulation import make_trial_schedule, simulate_mi_raw
    from bci_app.session.bids import XdfRun, write_run

    raw = simulate_mi_raw(make_trial_schedule(classes=tuple(classes), n_trials_per_class=trials,
                                              imagery=3.0, seed=seed),
                          sfreq=sfreq, skill=1.0, seed=seed, artifacts=False)
    if drop:
        raw.drop_channels(list(drop))
    raw.info["line_freq"] = 50.0
    protocol = {"name": f"{' vs '.join(classes)} (calibration)", "run_type": "calibration",
                "classes": list(classes), "trials_per_class": trials, "markers": {}}
    number = session.next_run()
    write_run(XdfRun(raw=raw, markers=[], eeg={"name": "simulated"}), session.root,
              session.subject, session.label, "calibration", number,
              sidecar={"BciAppProtocol": protocol,
                       "BciAppRecording": {"status": "complete", "started": started}})
    return number


def _mdm(models_dir):
    from bci_app.decoding.loading import read_model_file

    return read_model_file(models_dir / "mdm.yml")


@pytest.fixture(scope="module")
def course(tmp_path_factory, models_dir):
    """Patient P01: ses-01 (12 January: a calibration and an online run, its report's
    summary, an MDM decoder chosen) and ses-02 (5 January, labelled after it: a calibration
    run). Returns (store, ses-01's summary, ses-01's chosen model)."""
    from bci_app.online.training import train_decoder
    from bci_app.processing.calibration import PseudoOnlineConfig
    from bci_app.processing.runs import run_from_raw
    from bci_app.session.course import session_summary, write_summary
    from bci_app.session.headless import train_session_model
    from bci_app.session.report import online_run_metrics
    from tests.session.test_course import STEP_S, WINDOW_S, _simulated, record_simulated_session

    store = RecordingStore(tmp_path_factory.mktemp("continuation") / "recordings")
    store.create_subject("P01")
    cfg = PseudoOnlineConfig(classes=CLASSES, window_s=WINDOW_S, step_s=STEP_S)
    model, _ = train_decoder(_mdm(models_dir).pipeline,
                             [run_from_raw(_simulated(1.0, 100, 8))], cfg)
    first = record_simulated_session(store, "P01", "2026-01-12T09:30:00+01:00", 0.9,
                                     (model, cfg), seed=3)
    online = {r.index: online_run_metrics(r) for r in first.runs_of_type("online")}
    summary = session_summary(first, online, erd={})  # the ERD r² is not read here
    write_summary(first, summary)
    path, _ = train_session_model(store.root, "P01", first.label, models_dir / "mdm.yml")
    first.update(model=str(path))
    second = store.new_session("P01")
    write_calibration(second, "2026-01-05T09:30:00+01:00", seed=5)
    return store, summary, path


def test_first_session_gets_the_full_calibration(tmp_path):
    store = RecordingStore(tmp_path / "recordings")
    store.create_subject("N01")
    today = store.new_session("N01")
    plan = plan_continuation(today)
    assert plan.earlier == [] and plan.sources == []
    assert (plan.trials_per_class, plan.transfer) == (FULL, False)
    assert plan.reason == "full calibration: first session"
    assert plan.minutes == pytest.approx(_minutes(FULL))  # 6.5 min
    assert plan.earlier_text() == "Earlier sessions: none (first session)"
    assert plan.proposal_text() == ("Proposed calibration: 20 trials per class (about 6 "
                                    "min): full calibration: first session")
    # A session opened but never recorded in is not part of the course.
    later = store.new_session("N01")
    assert plan_continuation(later).earlier == []
    # Nothing to train with: refused before anything starts, saying why.
    write_calibration(later, "2026-01-05T09:30:00+01:00")
    with pytest.raises(DataError, match=r"no earlier session to train with \(full "
                                        r"calibration: first session\)"):
        train_with_earlier_sessions(later, [])


def test_earlier_sessions_in_date_order_with_their_decoder_and_score(course):
    store, summary, model = course
    today = store.new_session("P01")
    plan = plan_continuation(today)
    # ses-02 was held on 5 January, ses-01 on 12 January: dates order them, not labels.
    assert [e.label for e in plan.earlier] == ["02", "01"]
    assert [e.date[:10] for e in plan.earlier] == ["2026-01-05", "2026-01-12"]
    last = plan.earlier[-1]
    assert last.model == model and last.model_name == "MDM"
    assert [p.name for p in last.models] == [model.name]
    scores = summary["scores"]
    # The bar the score must clear: the highest of its chance levels (the binomial level of
    # its few trials, here).
    chance = max(scores["majority_trial_accuracy"], scores["shuffled_trial_accuracy"],
                 scores["binomial_trial_accuracy"])
    assert last.trial_accuracy == pytest.approx(scores["trial_accuracy"])
    assert last.trial_accuracy_chance == pytest.approx(chance)
    assert plan.earlier_text() == (
        f"Earlier sessions: 2 (last: ses-01, model MDM, trial accuracy "
        f"{scores['trial_accuracy']:.2f} (chance {chance:.2f}))")
    assert plan.earlier[0].describe() == "ses-02, no online score yet"
    # Both calibrated on left vs right hand with 6 trials per class; today's classes are
    # theirs (no run yet today), channels not known yet.
    assert plan.classes == CLASSES and plan.ch_names is None
    assert [e.name for e in plan.sources] == ["sub-P01/ses-02", "sub-P01/ses-01"]
    assert [e.trials for e in plan.sources] == [12, 12]
    expected = SHORT
    assert (plan.trials_per_class, plan.transfer) == (expected, True)
    assert plan.reason == (
        f"2 earlier session(s) of this patient with 24 calibration trials; trained with "
        f"earlier sessions, {expected} trials per class reached the accuracy of 15 per class "
        f"trained within-session on {MEASURED_ON}")
    assert plan.minutes == pytest.approx(_minutes(expected))


def test_the_rule_is_its_table():
    assert PROPOSAL_RULE == ((1, SHORT),)
    for at_least, trials in PROPOSAL_RULE:
        assert propose_calibration(at_least, 40 * at_least, FULL)[:2] == (trials, True)
    fewest = min(n for n, _ in PROPOSAL_RULE)
    assert propose_calibration(fewest - 1, 0, FULL)[:2] == (FULL, False)
    assert propose_calibration(0, 0, FULL, first=True) == (
        FULL, False, "full calibration: first session")
    # Never more than the protocol asks.
    short = min(k for _, k in PROPOSAL_RULE)
    assert propose_calibration(10, 400, short)[:2] == (short, False)


def test_sessions_of_other_classes_or_channels_are_not_sources(tmp_path):
    store = RecordingStore(tmp_path / "recordings")
    store.create_subject("P02")
    feet = store.new_session("P02")
    write_calibration(feet, "2026-02-02T10:00:00+01:00", classes=("left_hand", "feet"))
    no_c5 = store.new_session("P02")
    write_calibration(no_c5, "2026-02-09T10:00:00+01:00", drop=("C5",), seed=1)
    bad_cp3 = store.new_session("P02")
    write_calibration(bad_cp3, "2026-02-16T10:00:00+01:00", seed=2)
    bad_cp3.update(bad_channels=["CP3"])
    today = store.new_session("P02")

    plan = plan_continuation(today, classes=CLASSES, ch_names=DEFAULT_CHANNELS)
    assert plan.sources == [] and (plan.trials_per_class, plan.transfer) == (FULL, False)
    assert plan.reason == (
        "full calibration: no earlier session with the same classes and channels (ses-01 "
        "was calibrated on left_hand, feet, not right_hand; ses-02 lacks channel(s) C5; "
        "ses-03 lacks channel(s) CP3 (CP3 marked bad there))")
    assert plan.earlier_text().endswith("; 0 usable for training with transfer")
    # Today without CP3 (bad today too): ses-03 is a source.
    without = [c for c in DEFAULT_CHANNELS if c != "CP3"]
    plan = plan_continuation(today, classes=CLASSES, ch_names=without)
    assert [e.label for e in plan.sources] == ["03"]
    assert plan.trials_per_class == SHORT
    assert plan.problems_text() == ("ses-01 was calibrated on left_hand, feet, not "
                                    "right_hand\nses-02 lacks channel(s) C5")
    # Channels not known yet: only the classes are compared.
    plan = plan_continuation(today, classes=CLASSES)
    assert [e.label for e in plan.sources] == ["02", "03"]
    # The affected hand against rest: rest is idle, every session has left-hand trials.
    hand = plan_continuation(today, classes=("left_hand", "rest"))
    assert hand.classes == ("left_hand",) and len(hand.sources) == 3
    # ...and a source lacking one of today's channels is refused when read, naming it.
    from bci_app.processing.calibration import PseudoOnlineConfig

    cfg = PseudoOnlineConfig(classes=CLASSES)
    with pytest.raises(DataError, match=r"'sub-P02/ses-02'.*lacks channel\(s\) \['C5'\]"):
        earlier_sources(plan, cfg, 250.0, list(DEFAULT_CHANNELS))


def test_sources_are_matched_to_todays_channels_and_rate(course):
    from bci_app.processing.calibration import PseudoOnlineConfig

    store, _, _ = course
    today = store.new_session("P01")
    plan = plan_continuation(today)
    channels = ["C4", "C3", "Cz", "CP3", "CP4"]  # today's montage, in today's order
    cfg = PseudoOnlineConfig(classes=CLASSES, window_s=2.0, step_s=0.25)
    sources, record = earlier_sources(plan, cfg, 125.0, channels)
    assert [s.name for s in sources] == ["sub-P01/ses-02", "sub-P01/ses-01"]
    for src in sources:
        assert src.X.shape[1:] == (5, 250)  # 2 s at 125 Hz, today's 5 channels
        assert set(src.y) == {"idle", *CLASSES}
    entries = record["earlier_sessions"]
    for entry, earlier in zip(entries, plan.sources):
        calibration = store.open_session("P01", earlier.label).runs_of_type("calibration")
        assert entry["runs"] == [r.bids_path.rsplit("/", 1)[-1] for r in calibration]
        assert entry["run_numbers"] == [r.index for r in calibration]
        assert sum(entry["windows_per_class"].values()) == len(sources[entries.index(entry)].y)
    assert record["recentering"] == {"adapt_s": ADAPT_S, "adapt_windows": 60}


def test_transfer_spec_adds_an_adapting_recenter_step(models_dir):
    from bci_app.decoding.loading import read_model_file
    from bci_app.decoding.transfer import Recenter

    spec = read_model_file(models_dir / "fgmdm.yml")
    online = transfer_spec(spec, 0.1)
    names = [name for name, _ in online.pipeline.steps]
    assert names == ["shrunkcovariances", "recenter", "fgmdm"]
    step = online.pipeline.named_steps["recenter"]
    assert isinstance(step, Recenter) and step.adapt == 150  # 15 s at 0.1 s
    assert transfer_spec(spec, 0.25).pipeline.named_steps["recenter"].adapt == 60
    assert online.name == "FgMDM" + TRANSFER_SUFFIX and online.path == spec.path
    assert [name for name, _ in spec.pipeline.steps] == ["shrunkcovariances", "fgmdm"]
    fucone = read_model_file(models_dir / "fucone.yml")
    with pytest.raises(ConfigError, match="FUCONE .* cannot be trained with earlier sessions"):
        transfer_spec(fucone)


def test_training_with_earlier_sessions_names_them_in_the_record(tmp_path, models_dir):
    from bci_app.decoding.persistence import load_model
    from bci_app.decoding.transfer import domain_steps

    store = RecordingStore(tmp_path / "recordings")
    store.create_subject("P03")
    start = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    for k in range(2):
        write_calibration(store.new_session("P03"),
                          (start + dt.timedelta(weeks=k)).isoformat(), seed=10 + k)
    today = store.new_session("P03")
    write_calibration(today, (start + dt.timedelta(weeks=2)).isoformat(), trials=3, seed=12)
    failed, done = [], []
    job = train_with_earlier_sessions(today, [_mdm(models_dir)], window_s=1.0, step_s=0.1,
                                      on_failed=failed.append, on_finished=done.append)
    job.join(120)
    assert not failed and done
    result = done[0]
    name = "MDM" + TRANSFER_SUFFIX
    assert list(result.models) == [name] and result.runs == [1]
    assert [s["pipeline"] for s in result.scores] == [name]
    assert result.scores[0]["folds"] == 1  # one run today: its two halves
    earlier = [store.open_session("P03", label) for label in ("01", "02")]
    runs = [[r.bids_path.rsplit("/", 1)[-1] for r in s.runs_of_type("calibration")]
            for s in earlier]
    record = result.models[name].trained_on
    assert record["transfer"]["sources"] == ["sub-P03/ses-01", "sub-P03/ses-02"]
    assert [e["runs"] for e in record["earlier_sessions"]] == runs
    assert [e["session"] for e in record["earlier_sessions"]] == ["01", "02"]
    assert record["recentering"] == {"adapt_s": ADAPT_S, "adapt_windows": 150}
    # The session's training record says the same, and the saved model re-centres per
    # session: one reference per earlier session, and today's.
    training = today.meta["training"]
    assert [e["runs"] for e in training["transfer"]["earlier_sessions"]] == runs
    trained = load_model(result.paths[name])
    step = trained.pipeline.named_steps[domain_steps(trained.pipeline)[0]]
    assert sorted(step.references_) == ["sub-P03/ses-01", "sub-P03/ses-02", "target"]
    assert step.adapt == 150
    logged = [e for e in today.entries() if e.get("event") == "training_saved"]
    assert logged[-1]["transfer"]["earlier_sessions"][0]["session"] == "01"


def test_bci_app_session_from_previous(tmp_path, capsys):
    from bci_app.cli import build_parser
    from bci_app.cli.session import _check_inputs, print_continuation, train_from_previous
    from bci_app.resources import DEFAULT_MODEL

    root = tmp_path / "recordings"
    store = RecordingStore(root)
    store.create_subject("P04")
    args = build_parser().parse_args(["session", "--protocol", "left_right_hand", "--subject",
                                      "P04", "--session", "01", "--simulate",
                                      "--from-previous", "--root", str(root)])
    assert args.from_previous and args.train is None
    _check_inputs(args)
    assert args.train == DEFAULT_MODEL  # the default model unless --train says another
    # The first session: the full calibration, then today's runs only (said so).
    first = store.open_session("P04", "01")
    plan = print_continuation(first, "left_right_hand")
    assert capsys.readouterr().out == (
        "Earlier sessions: none (first session)\nProposed calibration: 20 trials per class "
        "(about 6 min): full calibration: first session\n")
    write_calibration(first, "2026-04-06T09:00:00+02:00", seed=13)
    result = train_from_previous(first, "mdm", window_s=1.0)
    out = capsys.readouterr().out
    assert out.startswith("  sub-P04 ses-01: no earlier session to train with (full "
                          "calibration: first session). Train on today's runs only.\n")
    assert list(result.models) == ["MDM"] and result.transfer is None
    # Its decoder was saved, not chosen for an online run: the next session says so.
    # The next session: proposed short, trained with the first.
    second = store.open_session("P04", "02")
    plan = print_continuation(second, "left_right_hand")
    trials = SHORT
    assert capsys.readouterr().out == f"{plan.earlier_text()}\n{plan.proposal_text()}\n"
    assert plan.earlier_text() == ("Earlier sessions: 1 (last: ses-01, model MDM (none chosen "
                                   "for online), no online score yet)")
    assert plan.trials_per_class == trials
    write_calibration(second, "2026-04-13T09:00:00+02:00", trials=trials, seed=14)
    result = train_from_previous(second, "mdm", window_s=1.0)
    lines = capsys.readouterr().out.splitlines()
    windows = sum(result.transfer["earlier_sessions"][0]["windows_per_class"].values())
    assert lines[0] == f"  with ses-01: run(s) 1 ({windows} windows)"
    assert lines[1].startswith("  trained 'MDM+earlier' on run(s) 1 (classes left_hand, "
                               "right_hand): cross-validated offline accuracy ")
    assert lines[2] == f"  model: {result.paths['MDM+earlier']}"
