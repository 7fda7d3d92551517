import numpy as np
import pytest
from pyriemann.estimation import Covariances
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from bci_app.decoding.channels import SENSORIMOTOR, SelectChannels, bind_recording_info
from bci_app.errors import ConfigError, DataError

NAMES = ["Fz", "C3", "CZ", "c4", "Pz"]


def test_select_channels_by_name_case_insensitive_in_requested_order():
    X = np.arange(5)[None, :, None] * np.ones((2, 5, 3))
    sel = SelectChannels(channels=["C4", "C3", "Cz"], ch_names=NAMES).fit(X)
    assert sel.selected_ == ["c4", "C3", "CZ"]
    np.testing.assert_array_equal(sel.transform(X)[0, :, 0], [3, 1, 2])


def test_select_channels_set_drops_missing_with_warning(caplog):
    X = np.zeros((1, 5, 4))
    sel = SelectChannels(channels="sensorimotor", ch_names=NAMES).fit(X)
    assert sel.selected_ == ["C3", "CZ", "c4"]
    assert "not in the recording" in caplog.text


def test_select_channels_errors_name_the_problem():
    X = np.zeros((1, 5, 4))
    with pytest.raises(DataError, match="ch_names"):
        SelectChannels(channels=["C3"]).fit(X)
    with pytest.raises(DataError, match="only 0 of the channels"):
        SelectChannels(channels=["O1", "O2"], ch_names=NAMES).fit(X)
    with pytest.raises(DataError, match="lists 5 channels but the data have 4"):
        SelectChannels(channels=["C3"], ch_names=NAMES).fit(np.zeros((1, 4, 4)))
    with pytest.raises(ConfigError, match="unknown channel set"):
        SelectChannels(channels="occipital", ch_names=NAMES).fit(X)
    sel = SelectChannels(channels=["C3", "Cz"], ch_names=NAMES).fit(X)
    with pytest.raises(DataError, match="fitted on 5 channels but got 6"):
        sel.transform(np.zeros((1, 6, 4)))


def test_select_channels_none_keeps_everything():
    X = np.random.default_rng(0).standard_normal((2, 5, 8))
    np.testing.assert_array_equal(SelectChannels(channels=None).fit_transform(X), X)


def test_sensorimotor_set_covers_c3_cz_c4():
    assert {"C3", "Cz", "C4"} <= set(SENSORIMOTOR)


def test_bind_recording_info_sets_nested_params_and_keeps_explicit_ones():
    pipe = make_pipeline(SelectChannels(channels=["C3", "C4"]), Covariances())
    bind_recording_info(pipe, sfreq=160, ch_names=NAMES)
    assert pipe.get_params()["selectchannels__ch_names"] == NAMES
    other = make_pipeline(SelectChannels(channels=["C3"], ch_names=["C3", "C4"]))
    bind_recording_info(other, ch_names=NAMES)
    assert other.get_params()["selectchannels__ch_names"] == ["C3", "C4"]
    bind_recording_info(other, ch_names=NAMES, overwrite=True)
    assert other.get_params()["selectchannels__ch_names"] == NAMES
    clone(pipe)  # still a valid estimator


def _epochs(X, ch_names, sfreq=160.0):
    import mne

    info = mne.create_info(list(ch_names), sfreq, "eeg")
    return mne.EpochsArray(X, info, verbose="error")


def test_select_channels_reads_names_from_epochs_and_returns_an_array():
    X = np.arange(5)[None, :, None] * np.ones((3, 5, 4))
    sel = SelectChannels(channels=["C4", "C3"]).fit(_epochs(X, NAMES))
    assert sel.ch_names is None  # fit leaves the parameter alone
    assert sel.ch_names_ == NAMES and sel.selected_ == ["c4", "C3"]
    out = sel.transform(_epochs(X, NAMES))
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out[:, :, 0], [[3, 1]] * 3)
    np.testing.assert_array_equal(sel.transform(X)[:, :, 0], [[3, 1]] * 3)  # arrays too
    # what scikit-learn's searches make of Epochs: a list of one-trial Epochs
    parts = [_epochs(X[i:i + 1], NAMES) for i in range(3)]
    np.testing.assert_array_equal(sel.fit_transform(parts), out)


def test_select_channels_epochs_must_agree_with_the_names_given():
    X = np.zeros((2, 5, 4))
    with pytest.raises(DataError, match="not those of the parameter ch_names"):
        SelectChannels(channels=["C3", "C4"], ch_names=list("abcde")).fit(_epochs(X, NAMES))
    SelectChannels(channels=["C3", "C4"], ch_names=[n.upper() for n in NAMES]).fit(
        _epochs(X, NAMES))
    sel = SelectChannels(channels=["C3", "C4"]).fit(_epochs(X, NAMES))
    with pytest.raises(DataError, match="fitted on channels"):
        sel.transform(_epochs(X, NAMES[::-1]))
    with pytest.raises(DataError, match="differ in channels or rate"):
        sel.fit([_epochs(X[:1], NAMES), _epochs(X[:1], NAMES, sfreq=100.0)])


def test_select_channels_on_arrays_without_names_says_how_to_give_them():
    with pytest.raises(DataError, match="return_epochs=True.*bind_recording_info"):
        SelectChannels(channels="sensorimotor").fit(np.zeros((1, 5, 4)))


def test_select_channels_fitted_before_ch_names_existed_still_transforms():
    X = np.arange(5)[None, :, None] * np.ones((1, 5, 2))
    sel = SelectChannels(channels=["Pz", "Fz"], ch_names=NAMES).fit(X)
    del sel.ch_names_  # as in a model saved by an earlier version
    np.testing.assert_array_equal(sel.transform(X)[0, :, 0], [4, 0])
    with pytest.raises(DataError, match="fitted on 5 channels"):
        sel.transform(np.zeros((1, 4, 2)))
