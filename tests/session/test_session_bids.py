"""XDF -> BIDS conversion, including a file cut by the recorder's own death (SIGKILL).

One real recording: simulated amplifier + protocol runner + LabRecorderCLI, and the
recorder itself is killed mid-run (the worst case: its unwritten buffer is lost). The file,
without footers, must still read and convert, with the markers' onsets kept exact.

The recorder is killed once the file being written is seen to hold the first markers (an
event, not a fixed time), and what the file held then must still be there after the kill.
"""

import csv
import json
import os
import signal
import uuid
from dataclasses import replace

import numpy as np
import pytest

from bci_app.acquisition.simulation import DEFAULT_CHANNELS
from bci_app.errors import DataError, StreamError
from bci_app.session.bids import convert_recording
from bci_app.session.layout import task_label
from bci_app.session.recorder import RecordedStream, XDFRecorder
from bci_app.session.state import read_state
from bci_app.session.store import RecordingStore
from bci_app.session.xdf import load_xdf_run


@pytest.fixture(scope="module")
def killed_recording(tmp_path_factory, wait_written):
    """A run whose LabRecorderCLI was SIGKILLed once it had written 6 markers; returns what
    the tests need."""
    from mne_lsl.lsl import local_clock

    from bci_app.acquisition.simulator import SimulatedAmplifier
    from bci_app.protocol import ProtocolRunner, load_protocol

    root = tmp_path_factory.mktemp("bids") / "recordings"
    store = RecordingStore(root)
    store.create_subject("07", age=61, sex="M", affected_side="right", notes="test")
    sess = store.open_session("07", "02")
    protocol = replace(load_protocol("left_right_hand"), trials_per_class=2, seed=5) \
        .with_timing(baseline_s=0.5, fixation_s=0.2, cue_s=0.2, imagery_s=1.0,
                     iti_min_s=0.3, iti_max_s=0.3)
    tag = uuid.uuid4().hex[:8]
    amp = SimulatedAmplifier(name=f"sim-{tag}", seed=2).start()
    runner = ProtocolRunner(protocol, outlet_name=f"markers-{tag}")
    runner.open_outlet()
    runner.subscribe(amp.follow_protocol)
    task = task_label(protocol)
    info = {"subject": "07", "session": "02", "task": task, "run": 1,
            "class_of_marker": protocol.class_of_marker,
            "protocol": {"name": protocol.name, "file": str(protocol.source),
                         "run_type": protocol.run_type},
            "model": None, "amplifier": {"simulated": True, "stream": amp.name}}
    rec = XDFRecorder(sess.xdf_path(task, 1),
                      [RecordedStream("eeg", amp.name, "eeg", amp.source_id),
                       RecordedStream("markers", runner.outlet_name, "Markers")], run=info)
    try:
        rec.start(timeout=60.0)
        assert runner.wait_for_consumers(60)
        runner.start()
        seen = wait_written(rec.path, 6)  # mid-run: the first trial is in the file
        os.kill(rec.pid, signal.SIGKILL)
        with pytest.raises(StreamError, match="killed by signal 9"):
            rec.stop()
        killed_at = local_clock()  # the recorder is gone: nothing is written after this
    finally:
        runner.stop()
        amp.stop()
        if rec.is_running:
            rec.stop()
    return {"root": root, "recorder": rec, "killed_at": killed_at, "seen": seen,
            "markers": runner.events, "sess": sess}


def test_recorder_sigkill_keeps_a_readable_file(killed_recording):
    rec = killed_recording["recorder"]
    state = read_state(rec.state_path)
    assert state["status"] == "stopped" and "LabRecorderCLI" in state["error"]
    run = load_xdf_run(rec.path, state["streams"])
    loss = killed_recording["killed_at"] - run.eeg["last_timestamp"]
    print(f"\nSIGKILL of LabRecorderCLI itself: {loss * 1e3:.0f} ms of EEG lost")
    assert loss >= 0  # nothing stamped after the recorder died
    # What the file held before the kill is still there, readable.
    markers, n_eeg = killed_recording["seen"]
    assert run.raw.n_times == run.eeg["n_samples"] >= n_eeg > 0
    assert [m for _, m in run.markers[:len(markers)]] == markers


def test_conversion_events_sidecar_participants(killed_recording):
    rec, root = killed_recording["recorder"], killed_recording["root"]
    bids_path = convert_recording(rec.state_path)
    state = read_state(rec.state_path)
    assert state["status"] == "converted" and state["run_status"] == "interrupted"
    assert bids_path.fpath.is_file() and rec.path.is_file()  # the XDF is kept
    sidecar = json.loads(bids_path.copy().update(extension=".json").fpath.read_text())
    first = sidecar["BciAppRecording"]["first_lsl_timestamp"]
    sfreq = sidecar["SamplingFrequency"]
    assert sidecar["BciAppRecording"]["status"] == "interrupted"
    assert sidecar["BciAppProtocol"]["name"] == "Left vs right hand (calibration)"
    assert sidecar["BciAppModel"] is None
    # The amplifier as its stream describes itself (desc/acquisition, desc/reference).
    assert (sidecar["Manufacturer"], sidecar["ManufacturersModelName"],
            sidecar["EEGReference"]) == ("bci-app", "simulated amplifier", "none")
    # No line frequency set for the session or the site: unknown, not an invented 50 Hz.
    assert sidecar["PowerLineFrequency"] == "n/a"
    # Template positions are not written as this subject's electrodes.
    eeg_dir = bids_path.fpath.parent
    assert not list(eeg_dir.glob("*_electrodes.tsv"))
    assert not list(eeg_dir.glob("*_coordsystem.json"))
    # mne-bids' placeholder authors and README are not left in the dataset.
    described = json.loads((root / "dataset_description.json").read_text())
    assert "Authors" not in described and described["Name"] == "bci-app recordings"
    assert (root / "README").read_text().startswith("bci-app recordings\n")
    events_tsv = bids_path.copy().update(suffix="events", extension=".tsv").fpath
    with open(events_tsv, newline="") as f:
        events = list(csv.DictReader(f, delimiter="\t"))
    # The markers in the file are those sent until the recorder's last write.
    recorded = load_xdf_run(rec.path, read_state(rec.state_path)["streams"]).markers
    sent = killed_recording["markers"][:len(recorded)]
    assert len(recorded) >= 5 and [m for _, m in recorded] == [m for _, m in sent]
    assert np.allclose([t for t, _ in recorded], [t for t, _ in sent], atol=1e-6)
    assert [e["trial_type"] for e in events] == [m for _, m in sent]
    onsets = np.array([float(e["onset"]) for e in events])
    assert np.abs(onsets - (np.array([t for t, _ in sent]) - first)).max() < 1.0 / sfreq
    imagery = [e for e in events if e["trial_type"] in ("left_hand", "right_hand")]
    assert imagery and all(abs(float(e["duration"]) - 1.0) < 1.0 / sfreq
                           or e is events[-1] for e in imagery)
    assert {e["value"] for e in imagery} <= {"1", "2"}
    with open(root / "participants.tsv", newline="") as f:
        (row,) = list(csv.DictReader(f, delimiter="\t"))
    assert (row["participant_id"], row["age"], row["sex"], row["affected_side"],
            row["notes"]) == ("sub-07", "61", "M", "right", "test")
    # read back as the dataset reads it
    import mne_bids

    raw = mne_bids.read_raw_bids(bids_path, verbose="ERROR")
    assert raw.info["sfreq"] == sfreq and "C3" in raw.ch_names
    assert set(raw.annotations.description) >= {"run_start", "baseline"}
    with pytest.raises(DataError, match="never overwritten"):
        convert_recording(rec.state_path)
    assert read_state(rec.state_path)["status"] == "converted"  # unchanged
    assert killed_recording["sess"].entries()[-1]["event"] == "run_converted"


def test_recorded_eeg_stream_follows_the_xdf_conventions(killed_recording):
    """Read by pyxdf alone: the simulator's stream typed ``EEG``, its channels labelled,
    typed and in microvolts, its amplifier described; the app reads it back in volts (the
    recorder selected it by the legacy type ``eeg``: the type is matched in any case)."""
    import pyxdf

    rec = killed_recording["recorder"]
    streams, _ = pyxdf.load_xdf(str(rec.path), verbose=False)
    (eeg,) = [s for s in streams if s["info"]["type"] == ["EEG"]]
    channels = eeg["info"]["desc"][0]["channels"][0]["channel"]
    assert [c["label"] for c in channels] == [[n] for n in DEFAULT_CHANNELS]
    assert {c["type"][0] for c in channels} == {"EEG"}
    assert {c["unit"][0] for c in channels} == {"microvolts"}
    acquisition = eeg["info"]["desc"][0]["acquisition"][0]
    assert (acquisition["manufacturer"], acquisition["model"]) == (["bci-app"],
                                                                   ["simulated amplifier"])
    run = load_xdf_run(rec.path, read_state(rec.state_path)["streams"])
    np.testing.assert_allclose(run.raw.get_data(), np.asarray(eeg["time_series"]).T * 1e-6,
                               rtol=1e-6)
    assert 1e-7 < np.std(run.raw.get_data()) < 1e-3  # EEG-sized, in volts
    assert (run.eeg["manufacturer"], run.eeg["model"], run.eeg["reference"]) == (
        "bci-app", "simulated amplifier", "none")


def test_brainvision_markers_name_the_events(killed_recording):
    """The BrainVision files alone name every event as events.tsv does, at its sample and
    with its duration (``Comment`` markers: MNE prefixes their text with ``Comment/``)."""
    import mne

    state = read_state(killed_recording["recorder"].state_path)
    vhdr = killed_recording["root"] / state["bids"]
    with open(vhdr.with_name(vhdr.name.replace("_eeg.vhdr", "_events.tsv")), newline="") as f:
        events = list(csv.DictReader(f, delimiter="\t"))
    raw = mne.io.read_raw_brainvision(vhdr, verbose="error")
    sfreq = raw.info["sfreq"]
    assert list(raw.annotations.description) == [f"Comment/{e['trial_type']}" for e in events]
    np.testing.assert_array_equal(raw.time_as_index(raw.annotations.onset, use_rounding=True),
                                  [int(e["sample"]) for e in events])
    np.testing.assert_allclose(raw.annotations.duration,
                               [float(e["duration"]) for e in events], atol=0.5 / sfreq)
    plain = mne.io.read_raw_brainvision(vhdr, ignore_marker_types=True, verbose="error")
    assert list(plain.annotations.description) == [e["trial_type"] for e in events]


def test_conversion_cut_short_is_redone(killed_recording):
    """A conversion killed before the sidecar was completed is done again on recovery."""
    from bci_app.session.state import update_state

    rec = killed_recording["recorder"]
    state = read_state(rec.state_path)
    bids_file = killed_recording["root"] / state["bids"]
    sidecar = bids_file.with_suffix(".json")
    meta = json.loads(sidecar.read_text())
    del meta["BciAppRecording"]  # written last: as if the app died mid-conversion
    sidecar.write_text(json.dumps(meta))
    update_state(rec.state_path, status="stopped")
    bids_path = convert_recording(rec.state_path)
    assert "BciAppRecording" in json.loads(sidecar.read_text())
    assert bids_path.fpath == bids_file and read_state(rec.state_path)["status"] == "converted"


def test_unreadable_xdf_is_kept_and_reported(tmp_path):
    from bci_app.session.state import write_state

    folder = tmp_path / "sourcedata/sub-01/ses-01/eeg"
    folder.mkdir(parents=True)
    xdf = folder / "sub-01_ses-01_task-t_run-01_eeg.xdf"
    xdf.write_bytes(b"not an xdf file at all")
    state_path = folder / "sub-01_ses-01_task-t_run-01_eeg_recording.json"
    write_state(state_path, {"format": "bci-app recording state", "status": "stopped",
                             "xdf": xdf.name, "streams": [],
                             "run": {"subject": "01", "session": "01", "task": "t",
                                     "run": 1}})
    with pytest.raises(DataError, match="cannot read the XDF"):
        convert_recording(state_path)
    assert xdf.read_bytes() == b"not an xdf file at all"
    assert read_state(state_path)["status"] == "failed"


def test_recordings_name_files_without_local_paths(tmp_path):
    """Protocol and model files in a sidecar: relative to the recordings folder, or to the
    protocols folder they come from, else by name; never an absolute local path."""
    from bci_app.protocol import load_protocol
    from bci_app.session.bids import protocol_record, shown_path

    root = tmp_path / "recordings"
    shipped = load_protocol("left_right_hand")
    record = protocol_record(shipped, root)
    assert record["file"] == "protocols/left_right_hand.toml"
    assert record["text"] and len(record["sha256"]) == 64
    inside = root / "derivatives/bci-app/sub-01/ses-01/models/m.bcimodel"
    assert shown_path(inside, root) == "derivatives/bci-app/sub-01/ses-01/models/m.bcimodel"
    elsewhere = tmp_path / "somewhere" / "mine.toml"
    assert shown_path(elsewhere, root) == "mine.toml"
