"""The application's own recordings through `bci-app replay`, `train --file` and
`pseudo-online FILE` (in this process or on a Dask cluster): one reader
(:func:`bci_app.acquisition.replay.read_recording`), the same class names as the GUI sees.

One short calibration run is recorded on the simulator and converted to BIDS as a session
does it. The BIDS run's ``events.tsv`` names the events by class, and so do its BrainVision
files alone (``Comment`` markers: ``Comment/left_hand`` for plain MNE), so a copy of them
outside the dataset trains without an event map. The known answers come from the protocol:
its classes, its trials per class, its timing. A plain copy of the same run (FIF,
PhysioNet-style ``T0/T1/T2`` annotations) must give the same answers through ``--event-map``.
"""

import csv
import shutil
import uuid
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from bci_app.cli import main
from bci_app.cli_common import EXIT_ERROR
from bci_app.decoding.persistence import load_model

CLASSES = ["left_hand", "right_hand"]
TRIALS_PER_CLASS = 3
BASELINE_S, IMAGERY_S = 2.5, 1.5
PROTOCOL = f"""name = "Short left/right calibration"
run_type = "calibration"
classes = {CLASSES!r}
trials_per_class = {TRIALS_PER_CLASS}
seed = 11
[timing]
baseline_s = {BASELINE_S}
fixation_s = 0.2
cue_s = 0.2
imagery_s = {IMAGERY_S}
iti_min_s = 0.4
iti_max_s = 0.5
""".replace("'", '"')
#: The plain copy's annotations, as PhysioNet names them, and the map back to the classes.
PLAIN = {"idle": "T0", "left_hand": "T1", "right_hand": "T2"}
EVENT_MAP = [f"{code}={name}" for name, code in PLAIN.items()]
#: Training window and calibration crops (the defaults: from 0.5 s after the cue, every 0.5 s).
WINDOW_S, CROP_OFFSET_S, CROP_STEP_S = 1.0, 0.5, 0.5


def _crops(period_s):
    """Calibration crops of WINDOW_S that fit in a period."""
    return int((period_s - CROP_OFFSET_S - WINDOW_S) // CROP_STEP_S) + 1


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """The BIDS run recorded by the application, its class order, and a plain FIF copy."""
    import mne_bids

    from bci_app.session import record_run

    base = tmp_path_factory.mktemp("recording")
    (base / "short_lr.toml").write_text(PROTOCOL)
    rec = record_run(base / "short_lr.toml", base / "recordings", "01", "01", skill=1.0,
                     amp_seed=1, artifacts=False)
    assert rec.status == "complete", rec.error
    raw = mne_bids.read_raw_bids(mne_bids.get_bids_path_from_fname(rec.bids_path),
                                 verbose="ERROR")
    raw.load_data(verbose="ERROR")
    raw.annotations.description = np.array([PLAIN.get(d, d)
                                            for d in raw.annotations.description])
    plain = base / "plain_raw.fif"
    raw.save(plain, fmt="double", verbose="ERROR")
    return {"bids": rec.bids_path, "plain": plain, "markers": [m for _, m in rec.markers],
            "trials": [m for _, m in rec.markers if m in CLASSES]}


def test_the_protocol_was_recorded_as_asked(recording):
    assert Counter(recording["trials"]) == {c: TRIALS_PER_CLASS for c in CLASSES}
    with open(recording["bids"].with_name(
            recording["bids"].name.replace("_eeg.vhdr", "_events.tsv")), newline="") as f:
        events = [row["trial_type"] for row in csv.DictReader(f, delimiter="\t")]
    assert events == recording["markers"]


def test_reader_keeps_the_bids_events_and_maps_a_plain_file(recording):
    import mne

    from bci_app.acquisition.replay import read_recording

    raw = read_recording(recording["bids"])
    assert list(raw.annotations.description) == recording["markers"]
    imagery = [d for d, desc in zip(raw.annotations.duration, raw.annotations.description)
               if desc in CLASSES]
    np.testing.assert_allclose(imagery, IMAGERY_S, atol=1.0 / raw.info["sfreq"])
    # The BrainVision file alone names the events too, with their durations: plain MNE
    # reads the text of Comment markers as "Comment/<text>".
    alone = mne.io.read_raw_brainvision(recording["bids"], verbose="error")
    assert list(alone.annotations.description) == [f"Comment/{m}" for m in recording["markers"]]
    np.testing.assert_allclose(alone.annotations.duration, raw.annotations.duration,
                               atol=0.5 / raw.info["sfreq"])
    plain = read_recording(recording["plain"], dict(e.split("=") for e in EVENT_MAP))
    assert list(plain.annotations.description) == recording["markers"]
    # The same samples (BrainVision's and FIF's calibration factors round differently).
    np.testing.assert_allclose(plain.get_data(), raw.get_data(), rtol=1e-6, atol=0)


def _train(path, out, *extra):
    code = main(["train", "--model", "mdm", "--file", str(path), "--window", str(WINDOW_S),
                 "--out", str(out), *extra])
    return code, (load_model(out) if code == 0 else None)


def test_train_file_learns_the_recorded_classes(recording, tmp_path, capsys):
    code, trained = _train(recording["bids"], tmp_path / "bids.bcimodel")
    assert code == 0
    assert trained.classes == ["idle"] + CLASSES
    # One crop per trial of each class; idle crops from the baseline, at most as many as
    # the largest class.
    per_trial = _crops(IMAGERY_S)
    assert trained.trained_on["windows_per_class"] == {
        "idle": min(_crops(BASELINE_S), per_trial * TRIALS_PER_CLASS),
        **{c: per_trial * TRIALS_PER_CLASS for c in CLASSES}}
    code, plain = _train(recording["plain"], tmp_path / "plain.bcimodel",
                         "--event-map", *EVENT_MAP)
    assert code == 0
    assert plain.classes == trained.classes
    assert plain.trained_on["windows_per_class"] == trained.trained_on["windows_per_class"]
    assert plain.trained_on["training_accuracy"] == trained.trained_on["training_accuracy"]
    capsys.readouterr()
    assert _train(recording["plain"], tmp_path / "none.bcimodel")[0] == EXIT_ERROR
    assert "left_hand" in capsys.readouterr().err


def test_train_file_on_a_copy_of_the_brainvision_files_alone(recording, tmp_path):
    """The run's three BrainVision files copied out of the dataset (no events.tsv beside
    them): the reader names the events from the markers, training needs no event map and
    learns what it learns from the BIDS run."""
    vhdr = recording["bids"]
    copy = tmp_path / "copy"
    copy.mkdir()
    for ext in (".vhdr", ".vmrk", ".eeg"):
        shutil.copy(vhdr.with_suffix(ext), copy / vhdr.with_suffix(ext).name)
    alone = copy / vhdr.name
    from bci_app.acquisition.replay import is_bids_recording, read_recording

    assert not is_bids_recording(alone)
    raw = read_recording(alone)
    assert list(raw.annotations.description) == recording["markers"]
    code, from_copy = _train(alone, tmp_path / "copy.bcimodel")
    assert code == 0
    _, from_bids = _train(vhdr, tmp_path / "bids.bcimodel")
    assert from_copy.classes == from_bids.classes == ["idle"] + CLASSES
    assert from_copy.trained_on["windows_per_class"] == \
        from_bids.trained_on["windows_per_class"]
    assert from_copy.trained_on["training_accuracy"] == \
        from_bids.trained_on["training_accuracy"]


def _pseudo_online(path, out, models_dir, *extra):
    code = main(["pseudo-online", "--dataset", str(path), "--models", str(models_dir),
                 "--only", "MDM", "--calibration-trials", "4", "--window", str(WINDOW_S),
                 "--step", "0.25", "--out", str(out), "--no-progress", *extra])
    return code, out


def test_pseudo_online_file_scores_the_recorded_trials(recording, tmp_path, models_dir):
    code, out = _pseudo_online(recording["bids"], tmp_path / "bids", models_dir)
    assert code == 0
    metrics = pd.read_csv(out / "metrics.csv")
    # Calibrated on the first 4 trials, scored on the others.
    assert len(metrics) == 1 and metrics["n_trials"].iloc[0] == len(recording["trials"]) - 4
    pred = pd.read_csv(out / "predictions.csv")
    scored = set(pred.loc[pred["scored"], "true"])
    assert scored - {"idle"} == set(recording["trials"][4:])
    code, plain_out = _pseudo_online(recording["plain"], tmp_path / "plain", models_dir,
                                     "--event-map", *EVENT_MAP)
    assert code == 0
    plain = pd.read_csv(plain_out / "predictions.csv")
    columns = ["time", "first_sample", "last_sample", "true", "label", "decision", "scored"]
    pd.testing.assert_frame_equal(plain[columns], pred[columns])
    np.testing.assert_allclose(plain.filter(like="p_"), pred.filter(like="p_"), rtol=1e-4)


def test_pseudo_online_file_on_a_cluster_equals_this_process(recording, tmp_path, models_dir,
                                                             dask_cluster):
    """A worker of a Dask cluster (its scheduler given by address) reads the BIDS run
    itself, with the same reader: the recorded class names, and the predictions of the same
    evaluation run here."""
    code, here = _pseudo_online(recording["bids"], tmp_path / "here", models_dir)
    assert code == 0
    code, cluster = _pseudo_online(recording["bids"], tmp_path / "cluster", models_dir,
                                   "--scheduler", dask_cluster.scheduler.address)
    assert code == 0
    pred = pd.read_csv(cluster / "predictions.csv")
    assert set(pred["true"].dropna()) == {"idle", *CLASSES}  # the other periods: no label
    assert set(pred.loc[pred["scored"], "true"]) - {"idle"} == set(recording["trials"][4:])
    for name in ("predictions.csv", "metrics.csv"):
        assert (here / name).read_bytes() == (cluster / name).read_bytes(), name


def test_replay_publishes_the_recorded_class_markers(recording, replay_until_one_pass):
    """`bci-app replay --loop` in its own process until one whole pass was received, then
    Ctrl-C (code 0): the markers are the recording's events, by class name."""
    one_pass = recording["markers"]
    name = f"cli-replay-bids-{uuid.uuid4().hex[:8]}"
    got, _, err, code = replay_until_one_pass(
        [str(recording["bids"]), "--name", name, "--loop"], name, one_pass, timeout=180)
    assert code == 0, err
    assert replay_until_one_pass.holds(got, one_pass), (got, one_pass)
    assert Counter(m for m in one_pass if m in CLASSES) == {c: TRIALS_PER_CLASS
                                                             for c in CLASSES}
