import mne
import numpy as np
import pandas as pd
import pytest
from pyriemann.estimation import Covariances
from pyriemann.tangentspace import TangentSpace
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from bci_app.acquisition.simulation import make_trial_schedule, simulate_mi_raw
from bci_app.cli import main
from bci_app.errors import ConfigError, DataError
from bci_app.evaluation.metrics import nmcc
from bci_app.evaluation.pseudo_online import evaluate_session
from bci_app.processing.calibration import PseudoOnlineConfig
from bci_app.processing.runs import Run, run_from_raw

CLASSES = ("idle", "left_hand", "right_hand")


@pytest.fixture(scope="module")
def synthetic_runs():
    return [run_from_raw(simulate_mi_raw(make_trial_schedule(n_trials_per_class=8, seed=s),
                                         sfreq=128.0, seed=s, skill=0.9), name=f"run{s}")
            for s in range(3)]


def _tslr():
    return make_pipeline(Covariances("oas"), TangentSpace(), LogisticRegression())


@pytest.mark.parametrize("calibration", [dict(calibration_runs=1),
                                         dict(calibration_runs=0, calibration_trials=10)])
def test_no_test_window_overlaps_calibration_data(synthetic_runs, calibration):
    cfg = PseudoOnlineConfig(step_s=0.5, **calibration)
    pred, metrics, cal = evaluate_session(synthetic_runs, {"TS+LR": _tslr()}, cfg)
    run_index = {r.name: i for i, r in enumerate(synthetic_runs)}
    for run_name, part in pred.groupby("run"):
        i = run_index[run_name]
        cal_i = cal[cal["run_index"] == i]
        if len(cal_i):
            assert part["first_sample"].min() >= cal_i["stop"].max()
    if calibration["calibration_runs"] == 1:
        assert set(cal["run_index"]) == {0} and "run0" not in set(pred["run"])
    else:
        # 10 trials: all 16 trials of run0 would be more; calibration stops inside run0
        assert set(cal["run_index"]) == {0} and "run0" in set(pred["run"])
    counts = cal["label"].value_counts()
    assert counts["idle"] <= max(counts["left_hand"], counts["right_hand"])


def test_pseudo_online_scores_a_learnable_recording(synthetic_runs):
    cfg = PseudoOnlineConfig(step_s=0.25, smoothing=3)
    pred, metrics, _ = evaluate_session(synthetic_runs, {"TS+LR": _tslr()}, cfg)
    m = metrics[0]
    assert m["classes"] == list(CLASSES)
    assert m["nmcc"] > 0.6  # it learns (chance is 0.5; exact scores: the decoders below)
    assert m["offline_accuracy"] > 0.8
    assert m["itr_bits_per_min"] > 0 and m["decisions_per_min"] == pytest.approx(240, rel=0.05)
    assert m["detected_fraction"] > 0.5
    assert np.sum(m["confusion"]) == m["n_windows"] == pred["scored"].sum()
    # the one scoring: trials decided by their windows, chance next to the accuracy
    assert m["n_trials"] == 32 and m["trial_accuracy"] > 0.8
    scored = pred[pred["scored"]]
    assert m["majority_accuracy"] == scored["true"].value_counts(normalize=True).max()
    assert m["accuracy"] == pytest.approx((scored["true"] == scored["decision"]).mean())
    # the time order is kept: windows are in increasing time within each run
    for _, part in pred.groupby("run"):
        assert np.all(np.diff(part["time"].to_numpy()) > 0)


def test_calibration_errors(synthetic_runs):
    with pytest.raises(DataError, match="nothing is left to test"):
        evaluate_session(synthetic_runs, {"m": _tslr()},
                         PseudoOnlineConfig(calibration_runs=3))
    with pytest.raises(DataError, match="fewer task trials"):
        evaluate_session(synthetic_runs, {"m": _tslr()},
                         PseudoOnlineConfig(calibration_runs=0, calibration_trials=500))


def test_cli_pseudo_online_on_synthetic_dataset(tmp_path, capsys, models_dir):
    out = tmp_path / "po"
    code = main(["pseudo-online", "--dataset", "SyntheticMI", "--subjects", "2",
                 "--models", str(models_dir), "--only", "TS+LR", "--step", "0.5",
                 "--out", str(out), "--no-progress"])
    assert code == 0
    metrics = pd.read_csv(out / "metrics.csv")
    assert len(metrics) == 2  # two sessions
    assert {"nmcc", "itr_bits_per_min", "accuracy", "offline_accuracy",
            "latency_median_s"} <= set(metrics.columns)
    pred = pd.read_csv(out / "predictions.csv")
    assert {"time", "true", "decision", "p_idle", "p_left_hand"} <= set(pred.columns)
    assert (out / "timeline_S2.png").stat().st_size > 10_000
    assert "nMCC" in capsys.readouterr().out


@pytest.mark.realdata
def test_cli_pseudo_online_on_real_subject(mne_data, tmp_path, models_dir):
    out = tmp_path / "real"
    code = main(["pseudo-online", "--dataset", "PhysionetMI", "--subjects", "1",
                 "--models", str(models_dir), "--only", "ACM+MDM", "--step", "0.5",
                 "--out", str(out), "--no-progress"])
    assert code == 0
    metrics = pd.read_csv(out / "metrics.csv")
    pred = pd.read_csv(out / "predictions.csv")
    assert set(pred["run"].astype(str)) == {"1", "2"}  # run "0" (R04) is calibration
    # every window of the test runs R08 and R12 (2 s windows every 0.5 s at 160 Hz), all in
    # scored time (the EDF's T0/T1/T2 cover the runs), scored as the predictions say
    edf = mne_data / "MNE-eegbci-data" / "files" / "eegmmidb" / "1.0.0" / "S001"
    n_times = [mne.io.read_raw_edf(edf / f"S001R{r:02d}.edf", verbose="error").n_times
               for r in (8, 12)]
    m = metrics.iloc[0]
    # The EDF files end with zero padding: those windows are "no decision" (artifact).
    decided = pred[pred["decision"] != "artifact"]
    assert m["n_windows"] + m["n_artifact"] == len(pred) == sum((n - 320) // 80 + 1
                                                                for n in n_times)
    assert m["n_windows"] == len(decided) and m["n_artifact"] == len(pred) - len(decided)
    assert pred["scored"].all()
    assert m["nmcc"] == pytest.approx(nmcc(decided["true"], decided["decision"]))


def test_cli_pseudo_online_on_a_recording_file(tmp_path, models_dir, capsys):
    raw = simulate_mi_raw(make_trial_schedule(n_trials_per_class=10, seed=7), sfreq=128.0,
                          seed=7, skill=0.9)
    mapping = {"left_hand": "T1", "right_hand": "T2", "rest": "T0"}
    raw.annotations.description = np.array([mapping[d] for d in raw.annotations.description])
    path = tmp_path / "session_raw.fif"
    raw.save(path, verbose="error")
    out = tmp_path / "out"
    args = ["pseudo-online", "--dataset", str(path), "--models", str(models_dir),
            "--only", "TS+LR", "--calibration-trials", "10", "--step", "0.5",
            "--out", str(out), "--no-progress"]
    assert main(args + ["--event-map", "T1=left_hand", "T2=right_hand", "T0=rest"]) == 0
    metrics = pd.read_csv(out / "metrics.csv")
    assert len(metrics) == 1 and metrics["nmcc"].iloc[0] > 0.55
    pred = pd.read_csv(out / "predictions.csv")
    tenth_trial_end = sorted(o + d for o, d, desc in zip(raw.annotations.onset,
                                                         raw.annotations.duration,
                                                         raw.annotations.description)
                             if desc in ("T1", "T2"))[9]
    assert pred["first_sample"].min() >= int(round(tenth_trial_end * 128))
    assert main(args + ["--event-map", "T9=left_hand"]) == 1
    assert "does not have" in capsys.readouterr().err
    assert main(args[:2] + [str(tmp_path / "missing.edf")] + args[3:]) == 1


# -- decoders with known scores, on runs whose truth is known sample by sample -------------
CODES = {"idle": 0, "left_hand": 1, "right_hand": 2, "feet": 3}
CODE_V = 50e-6  # volts per class code: EEG-sized, so the windows are classified
SFREQ, RUN_S, FIRST_CUE_S, TASK_S, REST_S = 100.0, 59.25, 3.25, 4.0, 3.0


class Oracle(ClassifierMixin, BaseEstimator):
    """Reads the class of each sample from channel 0 (its code, :data:`CODES`): the
    probability of a class is its share of the window's samples (idle samples spread evenly
    over the classes when idle is not one of them)."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        codes = np.rint(X[:, 0, :] / CODE_V).astype(int)
        share = {c: np.mean(codes == k, axis=1) for c, k in CODES.items()}
        proba = np.column_stack([share[c] for c in self.classes_])
        if "idle" not in self.classes_:
            proba += share["idle"][:, None] / len(self.classes_)
        return proba


class Constant(ClassifierMixin, BaseEstimator):
    """Always the same class."""

    def __init__(self, label="idle"):
        self.label = label

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return np.tile((self.classes_ == self.label).astype(float), (len(X), 1))


def _coded_run(name, classes=("left_hand", "right_hand")):
    """Idle, then a 4 s task every 7 s from 3.25 s: event edges fall between the 0.5 s
    window grid, so no window is a tie. Channel 0 holds each sample's class code."""
    n = int(RUN_S * SFREQ)
    code = np.zeros(n)
    events = []
    for k, onset in enumerate(np.arange(FIRST_CUE_S, RUN_S - TASK_S - REST_S + 0.01,
                                        TASK_S + REST_S)):
        label = classes[k % len(classes)]
        events.append((float(onset), TASK_S, label))
        code[int(round(onset * SFREQ)):int(round((onset + TASK_S) * SFREQ))] = CODES[label]
    noise = 10e-6 * np.random.default_rng(len(name)).standard_normal((3, n))
    data = np.vstack([code * CODE_V + noise[0] / 5, noise[1:]])  # code channel not flat
    return Run(data, SFREQ, ["C3", "C4", "Cz"], events, name)


def _truth(run, window=200, step=50):
    """Each window's class: the majority of its samples' codes (no ties in these runs)."""
    names = {k: c for c, k in CODES.items()}
    code = np.rint(run.data[0] / CODE_V).astype(int)
    return [names[np.bincount(code[s:s + window]).argmax()]
            for s in range(0, run.n_samples - window + 1, step)]


@pytest.fixture(scope="module")
def coded_runs():
    return [_coded_run(f"run{i}") for i in range(3)]


def _exact(idle="class", threshold=0.0, **kw):
    return PseudoOnlineConfig(window_s=2.0, step_s=0.5, l_freq=None, h_freq=None,
                              idle=idle, threshold=threshold, **kw)


def test_a_perfect_decoder_scores_one_on_every_window(coded_runs):
    pred, metrics, _ = evaluate_session(coded_runs, {"oracle": Oracle()}, _exact())
    m = metrics[0]
    truth = _truth(coded_runs[1]) + _truth(coded_runs[2])
    assert len(truth) == 2 * 115  # (5925 - 200) // 50 + 1 windows in each test run
    assert m["n_windows"] == len(pred) == len(truth) and pred["scored"].all()
    assert list(pred["true"]) == truth == list(pred["decision"])
    assert m["nmcc"] == 1.0 and m["accuracy"] == 1.0
    assert m["n_trials"] == 16 and m["trial_accuracy"] == 1.0  # 8 cues in each test run


def test_a_constant_decoder_scores_chance(coded_runs):
    pred, metrics, _ = evaluate_session(coded_runs, {"idle": Constant()}, _exact())
    truth = np.array(_truth(coded_runs[1]) + _truth(coded_runs[2]))
    m = metrics[0]
    assert set(pred["decision"]) == {"idle"}
    assert m["nmcc"] == 0.5 and m["accuracy"] == pytest.approx(np.mean(truth == "idle"))


def test_idle_by_threshold_decides_idle(coded_runs):
    # Task classes only: an idle window gives 0.5/0.5; a window with a majority of task
    # samples (at least 62.5 % here) gives at least 0.8125 to its class.
    pred, metrics, _ = evaluate_session(coded_runs, {"oracle": Oracle()},
                                        _exact(idle="threshold", threshold=0.75))
    assert metrics[0]["classes"] == list(CLASSES)
    assert list(pred["decision"]) == list(pred["true"]) and metrics[0]["nmcc"] == 1.0
    for threshold in (0.0, 0.5):  # 1/2: the larger of 2 probabilities is never below it
        with pytest.raises(ConfigError, match=r"threshold.*1/2 = 0\.5"):
            evaluate_session(coded_runs, {"oracle": Oracle()},
                             _exact(idle="threshold", threshold=threshold))
    evaluate_session(coded_runs, {"oracle": Oracle()}, _exact(threshold=0.0))  # idle class


def test_runs_are_evaluated_in_acquisition_order(coded_runs):
    shuffled = [coded_runs[2], coded_runs[0], coded_runs[1]]
    pred, _, cal = evaluate_session(shuffled, {"oracle": Oracle()}, _exact())
    ordered, _, cal_ordered = evaluate_session(coded_runs, {"oracle": Oracle()}, _exact())
    assert list(pred["run"].unique()) == ["run1", "run2"]  # run0 calibrates
    pd.testing.assert_frame_equal(pred, ordered)
    pd.testing.assert_frame_equal(cal, cal_ordered)


def test_a_class_missing_from_the_calibration_is_an_error():
    # run0 has left and right hand; feet first appears in run1
    runs = [_coded_run("run0"), _coded_run("run1", ("feet", "left_hand", "right_hand")),
            _coded_run("run2", ("feet", "left_hand"))]
    cfg = _exact(classes=("left_hand", "right_hand", "feet"))
    with pytest.raises(DataError) as err:
        evaluate_session(runs, {"oracle": Oracle()}, cfg)
    message = str(err.value)
    assert "calibration (run(s) ['run0'] of ['run0', 'run1', 'run2']" in message
    assert "class(es) ['feet']" in message and "feet: runs ['run1', 'run2']" in message
    assert "--calibration-runs 2" in message
    cfg.calibration_runs = 2
    pred, metrics, _ = evaluate_session(runs, {"oracle": Oracle()}, cfg)
    assert metrics[0]["classes"] == ["idle", "left_hand", "right_hand", "feet"]
    assert metrics[0]["nmcc"] == 1.0 and set(pred["true"]) == {"idle", "feet", "left_hand"}
