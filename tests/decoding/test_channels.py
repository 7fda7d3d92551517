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
