"""Runs from MNE Raw: EEG only, volts, event onsets from the run's first sample."""

import mne
import numpy as np

from bci_app.processing.runs import Run, run_from_raw


def _raw(sfreq=100.0, seconds=10.0):
    info = mne.create_info(["C3", "C4", "STI"], sfreq, ["eeg", "eeg", "stim"])
    data = np.random.default_rng(0).standard_normal((3, int(seconds * sfreq))) * 1e-5
    raw = mne.io.RawArray(data, info, verbose="error")
    raw.set_annotations(mne.Annotations([2.0, 6.5], [1.5, 2.0], ["left_hand", "rest"]))
    return raw


def test_run_from_raw_keeps_eeg_in_volts_and_events():
    raw = _raw()
    run = run_from_raw(raw, name="r1", meta={"subject": 3})
    assert isinstance(run, Run) and run.name == "r1" and run.meta == {"subject": 3}
    assert run.ch_names == ["C3", "C4"] and run.sfreq == 100.0
    np.testing.assert_array_equal(run.data, raw.get_data(picks="eeg"))
    assert run.n_samples == 1000
    assert run.events == [(2.0, 1.5, "left_hand"), (6.5, 2.0, "rest")]
    assert raw.ch_names == ["C3", "C4", "STI"]  # the Raw is not modified


def test_event_onsets_are_from_the_first_sample_of_a_cropped_raw():
    raw = _raw().crop(tmin=1.0)
    assert raw.first_samp == 100
    run = run_from_raw(raw)
    assert [e[0] for e in run.events] == [1.0, 5.5]
    assert run.n_samples == 900 and run.meta == {}
