"""Runs from MNE Raw: EEG only, volts, event onsets from the run's first sample; the events
as recorded; runs in acquisition order."""

import datetime

import mne
import numpy as np
import pytest

from bci_app.processing.runs import (
    Run,
    acquisition_order,
    recorded_annotations,
    run_from_raw,
)


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


def test_run_from_a_file_knows_its_file_and_start(tmp_path):
    raw = _raw()
    start = datetime.datetime(2024, 5, 1, 9, 30, tzinfo=datetime.timezone.utc)
    raw.set_meas_date(start)
    raw.save(tmp_path / "sub-01_run-03_raw.fif", verbose="error")
    run = run_from_raw(mne.io.read_raw_fif(tmp_path / "sub-01_run-03_raw.fif",
                                           verbose="error"))
    assert run.source == str(tmp_path / "sub-01_run-03_raw.fif") and run.meas_date == start
    assert run_from_raw(_raw()).source is None and run_from_raw(_raw()).meas_date is None


def _named(name, source=None, meas_date=None):
    return Run(np.zeros((1, 10)), 10.0, ["C3"], [], name, meas_date=meas_date, source=source)


def test_acquisition_order_follows_the_files_when_the_dates_are_equal():
    # MOABB's PhysionetMI with hands and feet: hand runs R04, R08, R12 first, then R06, R10,
    # R14, all with the same measurement date.
    date = datetime.datetime(2009, 8, 12, 16, 15, tzinfo=datetime.timezone.utc)
    files = [4, 8, 12, 6, 10, 14]
    runs = [_named(str(i), f"/data/S001/S001R{r:02d}.edf", date) for i, r in enumerate(files)]
    assert [r.name for r in acquisition_order(runs)] == ["0", "3", "1", "4", "2", "5"]


def test_acquisition_order_dates_first_then_bids_run_numbers_then_names():
    day = datetime.datetime(2024, 5, 1, 9, 0, tzinfo=datetime.timezone.utc)
    later = day + datetime.timedelta(minutes=10)
    # the date wins over the file's run number
    runs = [_named("a", "sub-01_task-x_run-01_eeg.vhdr", later),
            _named("b", "sub-01_task-y_run-02_eeg.vhdr", day)]
    assert [r.name for r in acquisition_order(runs)] == ["b", "a"]
    # no dates: the BIDS run numbers, as numbers (9 before 10; the session is 02 in both)
    runs = [_named("x", "sub-01_ses-02_task-y_run-10_eeg.vhdr"),
            _named("y", "sub-01_ses-02_task-x_run-9_eeg.vhdr")]
    assert [r.name for r in acquisition_order(runs)] == ["y", "x"]
    # no files: the number in the run's name (10 after 9, not as text)
    runs = [_named("10"), _named("9"), _named("2pre")]
    assert [r.name for r in acquisition_order(runs)] == ["2pre", "9", "10"]
    # nothing to order by: the given order
    runs = [_named("b"), _named("a")]
    assert [r.name for r in acquisition_order(runs)] == ["b", "a"]


EVENT_ID = {"rest": 1, "left_hand": 2, "right_hand": 3}
RECORDED = ([0.0, 4.2, 8.3, 12.5], [4.2, 4.1, 4.2, 4.1], ["rest", "left_hand", "rest", "right_hand"])


def _recording(sfreq=160.0, seconds=20.0):
    info = mne.create_info(["C3", "C4"], sfreq, "eeg")
    raw = mne.io.RawArray(np.zeros((2, int(seconds * sfreq))), info, verbose="error")
    raw.set_meas_date(0)
    return raw


def _as_moabb_reads_it(raw):
    """The events as MOABB's stimulation-channel readers leave them: no durations."""
    onsets, _, labels = RECORDED
    raw.set_annotations(mne.Annotations(onsets, [0.0] * 4, labels,
                                        orig_time=raw.info["meas_date"]))
    return raw


def test_recorded_annotations_take_the_durations_of_the_file(tmp_path):
    raw = _recording()
    raw.set_annotations(mne.Annotations(*RECORDED, orig_time=raw.info["meas_date"]))
    raw.save(tmp_path / "run_raw.fif", verbose="error")
    read = _as_moabb_reads_it(mne.io.read_raw_fif(tmp_path / "run_raw.fif", verbose="error"))
    annotations, n_timed = recorded_annotations(read, EVENT_ID, (0.0, 3.0))
    assert n_timed == 0  # FIF keeps times in single precision
    assert annotations.onset == pytest.approx(RECORDED[0], abs=1e-6)  # not shifted
    assert annotations.duration == pytest.approx(RECORDED[1], abs=1e-6)
    assert list(annotations.description) == RECORDED[2]


def test_recorded_annotations_without_durations_use_the_trial_timing():
    annotations, n_timed = recorded_annotations(_as_moabb_reads_it(_recording()), EVENT_ID,
                                                (2.0, 6.0))
    assert n_timed == 4
    assert list(annotations.onset) == [2.0, 6.2, 10.3, 14.5]
    assert list(annotations.duration) == [4.0] * 4
    # durations that are there are kept, other annotations too
    raw = _recording()
    raw.set_annotations(mne.Annotations([1.0, 3.0], [2.0, 4.1], ["fixation", "left_hand"],
                                        orig_time=raw.info["meas_date"]))
    annotations, n_timed = recorded_annotations(raw, EVENT_ID, (2.0, 6.0))
    assert n_timed == 0 and list(annotations.duration) == [2.0, 4.1]
    assert list(annotations.description) == ["fixation", "left_hand"]


def test_recorded_annotations_read_a_stimulation_channel_from_its_first_sample():
    raw = _recording()
    stim = np.zeros((1, raw.n_times))
    stim[0, [0, 800]] = [2, 3]  # an event on the first sample is one too
    raw.add_channels([mne.io.RawArray(stim, mne.create_info(["STIM"], 160.0, "stim"),
                                      verbose="error")], force_update_info=True)
    annotations, n_timed = recorded_annotations(raw, EVENT_ID, (0.0, 4.0))
    assert n_timed == 2 and list(annotations.description) == ["left_hand", "right_hand"]
    assert list(annotations.onset) == [0.0, 5.0] and list(annotations.duration) == [4.0, 4.0]
