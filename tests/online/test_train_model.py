"""The one train path: model file + calibration runs -> TrainedModel with its metadata."""

import dataclasses

import numpy as np
import pytest

from bci_app.acquisition.simulation import make_trial_schedule, simulate_mi_raw
from bci_app.decoding.loading import find_model
from bci_app.decoding.persistence import TrainedModel, load_model, save_model
from bci_app.errors import DataError
from bci_app.online.train_model import train_model
from bci_app.online.training import train_decoder
from bci_app.processing.calibration import PseudoOnlineConfig
from bci_app.processing.runs import run_from_raw


@pytest.fixture(scope="module")
def runs():
    raw = simulate_mi_raw(make_trial_schedule(n_trials_per_class=6, imagery=3.0, seed=0),
                          skill=1.0, seed=0, artifacts=False)
    return [run_from_raw(raw, name="calib-1")]


@pytest.fixture(scope="module")
def spec(models_dir):
    return find_model("mdm", models_dir)


CFG = PseudoOnlineConfig(classes=("left_hand", "right_hand"), window_s=1.0, step_s=0.1,
                         l_freq=8.0, h_freq=30.0)


def test_train_model_binds_the_settings_and_the_model_file(runs, spec):
    trained = train_model(spec, runs, CFG)
    assert isinstance(trained, TrainedModel) and trained.name == spec.name
    assert trained.sfreq == runs[0].sfreq and trained.ch_names == list(runs[0].ch_names)
    assert (trained.window_s, trained.step_s, trained.l_freq, trained.h_freq) == \
        (1.0, 0.1, 8.0, 30.0)
    assert trained.pipeline_file == spec.path.read_text(encoding="utf-8")
    assert trained.classes == ["idle", "left_hand", "right_hand"]
    report = trained.trained_on
    assert report["runs"] == ["calib-1"] and report["sfreq"] == runs[0].sfreq
    assert set(report["windows_per_class"]) == {"idle", "left_hand", "right_hand"}
    assert report["settings"]["window_s"] == 1.0 and 0 <= report["training_accuracy"] <= 1


def test_it_is_train_decoder_wrapped(runs, spec):
    trained = train_model(spec, runs, CFG)
    model, report = train_decoder(spec.pipeline, runs, CFG, param_grid=spec.param_grid)
    assert trained.trained_on == report
    X = np.stack([runs[0].data[:, s:s + 250] for s in (1000, 2000, 3000)])
    np.testing.assert_array_equal(trained.pipeline.predict_proba(X), model.predict_proba(X))


def test_callers_metadata_is_added_and_wins(runs, spec, tmp_path):
    trained = train_model(spec, runs, CFG, trained_on={
        "subject": "01", "session": "02", "runs": ["sub-01_run-01_eeg.vhdr"],
        "cross_validation": {"pipeline": "MDM", "nmcc": 0.5}})
    report = trained.trained_on
    assert report["runs"] == ["sub-01_run-01_eeg.vhdr"] and report["subject"] == "01"
    assert report["cross_validation"]["nmcc"] == 0.5 and "windows_per_class" in report
    path = tmp_path / "m.bcimodel"
    save_model(trained, path)
    assert load_model(path).trained_on["subject"] == "01"


def test_a_pipeline_built_in_code_has_no_model_file(runs, spec):
    trained = train_model(dataclasses.replace(spec, path=None), runs, CFG)
    assert trained.pipeline_file is None


def test_training_errors_come_from_train_decoder(runs, spec):
    with pytest.raises(DataError, match="no calibration window of class"):
        train_model(spec, runs, dataclasses.replace(CFG, classes=("left_hand", "feet")))
