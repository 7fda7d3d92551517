import numpy as np
import pandas as pd
import pytest
from pyriemann.estimation import Covariances
from pyriemann.tangentspace import TangentSpace
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from bci_app.acquisition.simulation import make_trial_schedule, simulate_mi_raw
from bci_app.cli import main
from bci_app.errors import DataError
from bci_app.evaluation.pseudo_online import evaluate_session
from bci_app.processing.calibration import PseudoOnlineConfig
from bci_app.processing.runs import run_from_raw

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
    assert 0.6 < m["nmcc"] <= 1.0
    assert m["offline_accuracy"] > 0.8
    assert m["itr_bits_per_min"] > 0 and m["decisions_per_min"] == pytest.approx(240, rel=0.05)
    assert m["detected_fraction"] > 0.5
    assert np.sum(m["confusion"]) == m["n_windows"] == pred["scored"].sum()
    # the one scoring: trials decided by their windows, chance next to the accuracy
    assert m["n_trials"] == 32 and m["trial_accuracy"] > 0.8
    scored = pred[pred["scored"]]
    assert m["chance_accuracy"] == scored["true"].value_counts(normalize=True).max()
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
    assert metrics["n_windows"].iloc[0] > 400  # two test runs of ~125 s at 2 windows/s
    assert 0.0 <= metrics["nmcc"].iloc[0] <= 1.0
    pred = pd.read_csv(out / "predictions.csv")
    assert set(pred["run"].astype(str)) == {"1", "2"}  # run "0" is calibration


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
