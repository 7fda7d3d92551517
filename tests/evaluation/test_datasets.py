import mne
import numpy as np
import pytest

from bci_app.acquisition.simulation import make_trial_schedule, simulate_mi_raw
from bci_app.errors import ConfigError, DataError, UsageError
from bci_app.evaluation.datasets import (
    RecordingsDataset,
    SyntheticMI,
    is_recordings_folder,
    make_paradigm,
    recordings_dataset,
    resolve_dataset,
)
from bci_app.evaluation.local_data import dataset_class, mne_data_path, no_network
from bci_app.evaluation.recordings import dataset_sessions


def test_synthetic_dataset_is_deterministic_and_has_two_sessions():
    ds = SyntheticMI(n_subjects=2, n_trials=3)
    a = ds.get_data(subjects=[1])[1]
    b = ds.get_data(subjects=[1])[1]
    assert sorted(a) == ["0", "1"] and sorted(a["0"]) == ["0", "1"]
    np.testing.assert_array_equal(a["0"]["0"].get_data(), b["0"]["0"].get_data())
    raw = a["1"]["1"]
    assert "C3" in raw.ch_names and "STIM" in raw.ch_names
    counts = {d: int(np.sum(raw.annotations.description == d)) for d in ds.event_id}
    assert counts == {"left_hand": 3, "right_hand": 3, "feet": 3}
    # the events as simulated: 4 s of imagery, the rest periods between them
    tasks = np.isin(raw.annotations.description, list(ds.event_id))
    assert set(raw.annotations.duration[tasks]) == {4.0}
    assert np.sum(raw.annotations.description == "rest") == 10


def test_synthetic_epochs_through_moabb_paradigm():
    ds = SyntheticMI(n_subjects=1, n_trials=4)
    X, y, meta = make_paradigm("left-right").get_data(ds, subjects=[1])
    assert X.shape[0] == 2 * 2 * 2 * 4  # sessions x runs x classes x trials
    assert set(y) == {"left_hand", "right_hand"}
    assert set(meta["session"]) == {"0", "1"}


def test_missing_physionet_subject_names_the_expected_path(tmp_path, monkeypatch):
    monkeypatch.setenv("MNE_DATA", str(tmp_path))
    with pytest.raises(DataError) as err:
        resolve_dataset("PhysionetMI", [3], "left-right")
    assert str(tmp_path / "MNE-eegbci-data" / "files" / "eegmmidb" / "1.0.0" / "S003") in str(err.value)
    assert "never downloads" in str(err.value)


def test_bad_dataset_arguments():
    with pytest.raises(UsageError, match="'NoSuchDataset': no such dataset"):
        resolve_dataset("NoSuchDataset", None)
    with pytest.raises(UsageError, match="no such dataset"):
        resolve_dataset("__loader__", None)  # an attribute of moabb.datasets, no dataset
    with pytest.raises(ConfigError, match="BI2012 is a p300 dataset"):
        resolve_dataset("BI2012", [1])
    with pytest.raises(ConfigError, match="no subject"):
        resolve_dataset("SyntheticMI", [99])
    with pytest.raises(ConfigError, match="unknown paradigm"):
        resolve_dataset("SyntheticMI", [1], paradigm="p300")


def test_dataset_names_are_moabb_classes_read_loosely():
    assert dataset_class("BNCI2014_001")[0] == "BNCI2014_001"
    assert dataset_class("bnci2014-001")[0] == "BNCI2014_001"  # case, "_" and "-" aside
    assert dataset_class("BNCI2014001")[0] == "BNCI2014_001"  # MOABB's deprecated name
    assert dataset_class("eegbci")[0] == "PhysionetMI"
    with pytest.raises(UsageError, match="close names: PhysionetMI"):
        dataset_class("PhysionetMl")


def test_the_data_folder_is_found_as_moabb_finds_it(tmp_path, monkeypatch):
    """--data-path, then MNE_DATASETS_<SIGN>_PATH, then MNE_DATA (MOABB's order)."""
    general, eegbci, given = (tmp_path / n for n in ("general", "eegbci", "given"))
    monkeypatch.setenv("MNE_DATA", str(general))
    monkeypatch.delenv("MNE_DATASETS_EEGBCI_PATH", raising=False)
    assert mne_data_path(sign="EEGBCI") == general
    monkeypatch.setenv("MNE_DATASETS_EEGBCI_PATH", str(eegbci))
    assert mne_data_path(sign="EEGBCI") == eegbci
    assert mne_data_path(sign="BNCI") == general
    assert mne_data_path(given, sign="EEGBCI") == given


def test_no_network_shuts_the_calling_thread_only():
    """A real server on the loopback: the guarded thread cannot reach it, another thread
    can, and the guarded thread can again once the block is left."""
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)
    address = server.getsockname()

    def reach():
        with socket.socket() as client:
            client.settimeout(10)
            client.connect(address)
            server.accept()[0].close()

    other = []
    try:
        with no_network() as attempts:
            with pytest.raises(OSError):
                reach()
            with pytest.raises(OSError):
                socket.getaddrinfo("example.org", 443)
            worker = threading.Thread(target=lambda: other.append(reach() or "reached"))
            worker.start()
            worker.join(30)
        assert other == ["reached"]
        assert attempts == [str(address), "example.org"]
        reach()
    finally:
        server.close()


def test_physionet_resolves_on_local_files(mne_data):
    ds = resolve_dataset("PhysionetMI", [1, 2], "left-right")
    assert ds.subject_list == [1, 2] and ds.feet_runs == []


def test_physionet_without_subjects_uses_the_local_ones(mne_data):
    ds = resolve_dataset("PhysionetMI", None, "left-right")
    assert 1 in ds.subject_list and 10 not in ds.subject_list


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    """A recordings folder as sessions write it: BIDS BrainVision runs with their events."""
    import mne_bids

    root = tmp_path_factory.mktemp("bids") / "recordings"
    for run, task in [(1, "leftRightHand"), (2, "leftRightHand"), (3, "handsFeet")]:
        raw = simulate_mi_raw(make_trial_schedule(("left_hand", "right_hand"), 2, seed=run),
                              sfreq=128.0, seed=run)
        if task == "handsFeet":  # a protocol's both_hands class
            raw.annotations.rename({"left_hand": "both_hands", "right_hand": "feet"})
        path = mne_bids.BIDSPath(subject="01", session="01", task=task, run=f"{run:02d}",
                                 root=root, datatype="eeg")
        mne_bids.write_raw_bids(raw.pick("eeg"), path, format="BrainVision",
                                allow_preload=True, verbose="error")
    return root


@pytest.mark.filterwarnings("ignore:Limited 1 annotation:RuntimeWarning")  # the last rest
def test_recordings_folder_is_a_dataset_of_its_runs(recordings):
    assert is_recordings_folder(recordings) and not is_recordings_folder(recordings.parent)
    ds = resolve_dataset(str(recordings), None, "left-right")
    assert isinstance(ds, RecordingsDataset)
    assert ds.subject_list == [1] and ds.interval == [0.0, 4.0]
    ((session, runs),) = list(dataset_sessions(ds, 1))
    assert session == "01" and [r.name for r in runs] == ["01", "02", "03"]
    assert sum(label == "left_hand" for _, _, label in runs[0].events) == 2
    assert {label for _, _, label in runs[2].events} >= {"hands", "feet"}  # both_hands
    only = RecordingsDataset(recordings, tasks=["handsFeet"])
    ((_, runs),) = list(dataset_sessions(only, 1))
    assert [r.name for r in runs] == ["03"]


def test_a_folder_that_is_not_recordings(tmp_path):
    with pytest.raises(ConfigError, match="not a recordings folder"):
        resolve_dataset(str(tmp_path), None, "left-right")
    with pytest.raises(DataError, match="not a recordings folder"):
        recordings_dataset(tmp_path)


def test_physionet_runs_carry_the_events_of_their_edf_files(mne_data):
    """Onsets and durations of every event as the EDF file holds them (T0 rest, T1/T2 cues
    of 4.1 s), not MOABB's 3 s interval; runs know their file."""
    from bci_app.processing.runs import acquisition_order

    ds = resolve_dataset("PhysionetMI", [1], "left-right")
    ((_, runs),) = list(dataset_sessions(ds, 1))
    names = {"T0": "rest", "T1": "left_hand", "T2": "right_hand"}
    for run in acquisition_order(runs):
        edf = mne.read_annotations(run.source)
        assert run.events == [(float(o), float(d), names[t]) for o, d, t in
                              zip(edf.onset, edf.duration, edf.description)]
    assert [r.source.rsplit("/", 1)[-1] for r in acquisition_order(runs)] == [
        "S001R04.edf", "S001R08.edf", "S001R12.edf"]
    durations = {d for r in runs for _, d, lab in r.events if lab != "rest"}
    assert durations == {4.1}  # every cue of subject 1
