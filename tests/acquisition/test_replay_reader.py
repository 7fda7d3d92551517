"""The reader of a recording file (:func:`bci_app.acquisition.replay.read_recording`) on a BIDS
run written by mne-bids: its events as ``events.tsv`` gives them (names and durations), EEG
channels only, the event map applied to the class names, clear errors.

The known answers are the simulated run's own annotations and channels.
"""

import shutil

import mne
import numpy as np
import pytest

from bci_app.acquisition.replay import (
    is_bids_recording,
    read_bids_recording,
    read_recording,
)
from bci_app.acquisition.simulation import make_trial_schedule, simulate_mi_raw
from bci_app.errors import DataError

CHANNELS = ["C3", "Cz", "C4", "CP3", "CP4"]


@pytest.fixture(scope="module")
def bids_run(tmp_path_factory):
    """A simulated run with an EOG channel, written as a BIDS run (BrainVision), and its
    annotations as simulated."""
    mne_bids = pytest.importorskip("mne_bids")

    raw = simulate_mi_raw(make_trial_schedule(n_trials_per_class=2, seed=3),
                          ch_names=CHANNELS, seed=3)
    eog = mne.io.RawArray(raw.get_data(picks=[0]) * 0.5,
                          mne.create_info(["EOG1"], raw.info["sfreq"], "eog"),
                          verbose="error")
    raw.add_channels([eog], force_update_info=True)
    raw.set_meas_date(1_700_000_000)
    root = tmp_path_factory.mktemp("bids")
    path = mne_bids.BIDSPath(subject="01", session="01", task="mi", run=1, datatype="eeg",
                             root=root)
    mne_bids.write_raw_bids(raw, path, format="BrainVision", allow_preload=True,
                            event_id={d: k + 1 for k, d in
                                      enumerate(sorted(set(raw.annotations.description)))},
                            verbose="error")
    vhdr = path.copy().update(suffix="eeg", extension=".vhdr").fpath
    return {"path": vhdr, "annotations": raw.annotations}


def test_bids_run_keeps_its_events_and_eeg_channels(bids_run):
    assert is_bids_recording(bids_run["path"])
    raw = read_recording(bids_run["path"])
    expected = bids_run["annotations"]
    assert list(raw.annotations.description) == list(expected.description)
    np.testing.assert_allclose(raw.annotations.duration, expected.duration,
                               atol=1.0 / raw.info["sfreq"])
    np.testing.assert_allclose(raw.annotations.onset - raw.first_time, expected.onset,
                               atol=1.0 / raw.info["sfreq"])
    assert raw.ch_names == CHANNELS  # the EOG channel left out
    # As recorded: every channel.
    assert read_bids_recording(bids_run["path"]).ch_names == CHANNELS + ["EOG1"]


def test_event_map_renames_the_bids_class_names(bids_run):
    raw = read_recording(bids_run["path"], {"left_hand": "L", "right_hand": "R"})
    renamed = {"left_hand": "L", "right_hand": "R"}
    assert list(raw.annotations.description) == [
        renamed.get(d, d) for d in bids_run["annotations"].description]
    with pytest.raises(DataError, match=r"the event map names annotations \['T1'\] that the "
                                        r"recording does not have; it has \['left_hand', "):
        read_recording(bids_run["path"], {"T1": "left_hand"})


def test_a_file_without_its_events_tsv_is_read_as_a_plain_file(bids_run, tmp_path):
    """The BrainVision file alone names the events by their codes, and types every channel
    as EEG (the types are BIDS's ``channels.tsv``)."""
    folder = tmp_path / "copy"
    shutil.copytree(bids_run["path"].parent, folder)
    copy = folder / bids_run["path"].name
    next(folder.glob("*_events.tsv")).unlink()
    assert not is_bids_recording(copy)
    raw = read_recording(copy)
    assert not {"left_hand", "right_hand"} & set(raw.annotations.description)
    assert raw.ch_names == CHANNELS + ["EOG1"]


def test_unreadable_bids_run_is_named(bids_run, tmp_path):
    folder = tmp_path / "broken"
    shutil.copytree(bids_run["path"].parent, folder)
    broken = folder / bids_run["path"].name
    broken.write_text("not a BrainVision header")
    assert is_bids_recording(broken)
    with pytest.raises(DataError, match=f"{broken.name}: cannot be read as a BIDS recording"):
        read_recording(broken)
    with pytest.raises(DataError, match="no such recording file"):
        read_recording(folder / "sub-01_ses-01_task-mi_run-02_eeg.vhdr")
