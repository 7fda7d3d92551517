import subprocess
import sys

import pandas as pd
import pytest

from bci_app.cli import main

MOABB_COLUMNS = {"score", "time", "samples", "subject", "session", "channels", "n_sessions",
                 "dataset", "pipeline"}
# Quick to fit: the CLI is under test here (the ACM models' own tests are in tests/decoding).
FAST = ["MDM", "TS+LR", "CSP+LDA"]


def test_evaluate_synthetic_within_session(tmp_path, capsys, models_dir):
    out = tmp_path / "res"
    code = main(["evaluate", "--dataset", "SyntheticMI", "--subjects", "1", "2",
                 "--models", str(models_dir), "--only", *FAST, "--out", str(out)])
    assert code == 0
    df = pd.read_csv(out / "results.csv")
    assert MOABB_COLUMNS <= set(df.columns)
    assert len(df) == 3 * 2 * 2  # pipelines x subjects x sessions
    assert set(df["pipeline"]) == set(FAST)
    assert df.groupby("pipeline")["score"].mean().min() > 0.7  # synthetic ERD is learnable
    assert (out / "scores.png").stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "mean ± sd" in printed and "CSP+LDA" in printed
    assert (out / "scores.txt").read_text().splitlines()[0].startswith("pipeline")


def test_evaluate_synthetic_cross_session(tmp_path, models_dir):
    out = tmp_path / "cs"
    assert main(["evaluate", "--dataset", "SyntheticMI", "--subjects", "3",
                 "--evaluation", "cross-session", "--models", str(models_dir),
                 "--only", "TS+LR", "--out", str(out)]) == 0
    df = pd.read_csv(out / "results.csv")
    assert len(df) == 2 and set(df["evaluation"]) == {"cross-session"}


def test_evaluate_synthetic_cross_subject_with_progress(tmp_path, capsys, models_dir):
    out = tmp_path / "xs"
    assert main(["evaluate", "--dataset", "SyntheticMI", "--subjects", "1", "2",
                 "--evaluation", "cross-subject", "--models", str(models_dir),
                 "--only", "TS+LR", "MDM", "--out", str(out)]) == 0
    df = pd.read_csv(out / "results.csv")
    assert len(df) == 2 * 2 * 2  # pipelines x held-out subjects x their sessions
    assert sorted(df["subject"].unique()) == [1, 2]
    assert "cross-subject SyntheticMI" in capsys.readouterr().err  # the progress bar


def test_bad_arguments_exit_nonzero_with_message(tmp_path, capsys, models_dir):
    assert main(["evaluate", "--dataset", "SyntheticMI", "--subjects", "42",
                 "--models", str(models_dir), "--out", str(tmp_path)]) == 1  # data error
    assert "no subject(s) [42]" in capsys.readouterr().err
    assert main(["evaluate", "--dataset", "SyntheticMI", "--models",
                 str(tmp_path / "nope"), "--out", str(tmp_path)]) == 1
    assert "no such model file or folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as err:
        main(["evaluate", "--evaluation", "leave-one-out"])
    assert err.value.code == 2  # usage error


def test_cross_session_on_single_session_dataset_is_refused(mne_data, tmp_path, capsys,
                                                             models_dir):
    code = main(["evaluate", "--dataset", "PhysionetMI", "--subjects", "1",
                 "--evaluation", "cross-session", "--models", str(models_dir),
                 "--only", "TS+LR", "--out", str(tmp_path)])
    assert code == 1
    assert "cross-session evaluation needs at least 2" in capsys.readouterr().err


@pytest.mark.realdata
def test_evaluate_real_physionet_two_subjects(mne_data, tmp_path, models_dir):
    out = tmp_path / "physionet"
    proc = subprocess.run(
        [sys.executable, "-m", "bci_app.cli", "evaluate", "--dataset", "PhysionetMI",
         "--subjects", "1", "2", "--models", str(models_dir), "--only", *FAST,
         "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    df = pd.read_csv(out / "results.csv")
    assert len(df) == 3 * 2
    assert set(df["dataset"]) == {"PhysionetMotorImagery"}
    assert set(df["subject"]) == {1, 2}
    assert (df["samples"] == 45).all()  # 3 runs x 15 trials of left/right imagery
    assert df["score"].between(0, 1).all()
    assert df.groupby("subject")["score"].max().min() > 0.6
    assert "mean ± sd" in proc.stdout
