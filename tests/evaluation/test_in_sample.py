"""Whether a decoder was trained on a recording, from what the decoder says it was trained on
(the GUI's sweep labels such a score in-sample: tests/gui/test_gui_honest_scores.py)."""

from bci_app.acquisition.simulation import make_trial_schedule, simulate_mi_raw
from bci_app.decoding.loading import read_model_file
from bci_app.evaluation.calibration_scores import in_sample
from bci_app.evaluation.recordings import read_recording_run
from bci_app.online.train_model import train_model
from bci_app.processing.calibration import PseudoOnlineConfig


def _recording(tmp_path, name, seed):
    raw = simulate_mi_raw(make_trial_schedule(n_trials_per_class=4, imagery=3.0, seed=seed),
                          skill=1.0, seed=seed, artifacts=False)
    path = tmp_path / name
    raw.save(path, verbose="error")
    return path


def test_a_decoder_knows_the_recordings_it_was_trained_on(tmp_path, models_dir):
    trained_path = _recording(tmp_path, "calib_raw.fif", 0)
    other = _recording(tmp_path, "other_raw.fif", 1)
    spec = read_model_file(models_dir / "mdm.yml")
    # As `bci-app train --file` trains: the runs named after their files, the files listed.
    trained = train_model(spec, [read_recording_run(trained_path)],
                          PseudoOnlineConfig(window_s=1.0, step_s=0.25),
                          trained_on={"files": [str(trained_path.resolve())]})
    assert trained.trained_on["runs"] == ["calib_raw"]
    assert in_sample(trained.trained_on, trained_path) == str(trained_path.resolve())
    assert in_sample(trained.trained_on, other) is None
    # Without the file list, the run's name (its file name without extension) tells.
    del trained.trained_on["files"]
    assert in_sample(trained.trained_on, trained_path) == "calib_raw"


def test_a_session_decoder_names_its_bids_runs():
    # As the session's training stores them (bci_app.session.training.save_training).
    trained_on = {"runs": ["sub-T01_ses-01_task-calibration_run-01_eeg.vhdr"],
                  "run_numbers": [1]}
    folder = "/data/recordings/sub-T01/ses-01/eeg/"
    assert in_sample(trained_on, folder + "sub-T01_ses-01_task-calibration_run-01_eeg.vhdr")
    # The same run in another format of the same name (BrainVision's .eeg data file).
    assert in_sample(trained_on, folder + "sub-T01_ses-01_task-calibration_run-01_eeg.eeg")
    assert in_sample(trained_on, folder + "sub-T01_ses-01_task-calibration_run-02_eeg.vhdr") \
        is None
    assert in_sample({}, folder + "x.vhdr") is None
