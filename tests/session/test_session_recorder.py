"""Crash safety of the recorder: the app killed by SIGKILL mid-run, then recovered.

A real ``bci-app session`` process (simulated amplifier, protocol runner, LabRecorderCLI)
is killed with SIGKILL during a run, once the file being written holds the run's first
markers. LabRecorder, a separate process, survives it; recovery stops it through its control
FIFO and converts the run to BIDS. Everything the file held before the kill is still there
afterwards; the loss (time of the kill minus the last EEG timestamp in the file, on the LSL
clock) is printed, not asserted: it measures the machine's load as much as the design.
"""

import json
import os
import signal
import subprocess
import sys
import uuid

import pytest

from bci_app.errors import DataError, StreamError
from bci_app.session._proc import process_alive
from bci_app.session.recorder import RecordedStream, XDFRecorder
from bci_app.session.recovery import recover
from bci_app.session.state import find_recordings, read_state, write_state

PROTOCOL = """\
name = "Crash test"
run_type = "calibration"
classes = ["left_hand", "right_hand"]
trials_per_class = 3
seed = 3
[timing]
baseline_s = 1.0
fixation_s = 0.2
cue_s = 0.2
imagery_s = 1.5
iti_min_s = 0.4
iti_max_s = 0.5
"""


def test_sigkill_mid_run_is_recovered_with_what_was_written(tmp_path, wait_written,
                                                            wait_until):
    import pyxdf
    from mne_lsl.lsl import local_clock

    protocol = tmp_path / "crash_test.toml"
    protocol.write_text(PROTOCOL)
    root = tmp_path / "recordings"
    log = root / "sourcedata/sub-01/ses-01/sub-01_ses-01_log.jsonl"
    app = subprocess.Popen(
        [sys.executable, "-m", "bci_app", "session", "--protocol", str(protocol),
         "--subject", "01", "--session", "01", "--simulate", "--root", str(root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ))
    state = None
    try:
        wait_until(lambda: log.exists() and "run_started" in log.read_text()
                   or app.poll() is not None, 120, "the run to start", interval=0.05)
        assert app.poll() is None, app.stderr.read().decode()
        (state_path,) = find_recordings(root)
        xdf = state_path.with_name(read_state(state_path)["xdf"])
        # mid-run: the recorder has written the baseline and the first trial's markers
        seen = wait_written(xdf, 5, timeout=60.0)
        assert app.poll() is None, app.stderr.read().decode()
        os.kill(app.pid, signal.SIGKILL)
        app.wait(60)
        killed_at = local_clock()  # the app (and its amplifier) is gone
        state = read_state(state_path)
        assert state["status"] == "recording"
        # LabRecorder survived the app (own session, output to a file, FIFO stdin).
        assert process_alive(state["recorder_pid"], state["recorder_start_ticks"])
        (item,) = recover(root)
        assert item.orphan_stopped and item.error is None
        assert not process_alive(state["recorder_pid"], state["recorder_start_ticks"])
    finally:
        if app.poll() is None:
            app.kill()
        if state and process_alive(state["recorder_pid"], state["recorder_start_ticks"]):
            os.kill(state["recorder_pid"], signal.SIGKILL)
    # The XDF is kept, complete (LabRecorder closed it) and readable.
    streams, _ = pyxdf.load_xdf(str(xdf), verbose=False)
    eeg = next(s for s in streams if s["info"]["type"][0] == "EEG")
    markers = next(s for s in streams if s["info"]["type"][0] == "Markers")
    loss = killed_at - eeg["time_stamps"][-1]
    print(f"\nSIGKILL of the app: {loss * 1e3:.1f} ms of EEG lost "
          f"({len(eeg['time_stamps'])} samples kept)")
    assert loss >= 0  # nothing stamped after the app died
    assert "footer" in eeg and "footer" in markers  # closed cleanly by the recovery
    assert len(eeg["clock_times"]) > 0  # with its clock offsets
    # everything written before the kill is still there
    seen_markers, seen_samples = seen
    assert len(eeg["time_stamps"]) >= seen_samples
    assert [m[0] for m in markers["time_series"][:len(seen_markers)]] == seen_markers
    assert seen_markers[:2] == ["run_start", "baseline"]
    # ... and converted to BIDS, marked as interrupted.
    assert read_state(state_path)["status"] == "converted"
    assert item.bids_path.is_file()
    sidecar = json.loads(item.bids_path.with_suffix(".json").read_text())
    assert sidecar["BciAppRecording"]["status"] == "interrupted"
    assert sidecar["BciAppProtocol"]["name"] == "Crash test"
    events = item.bids_path.with_name(item.bids_path.name.replace("_eeg.vhdr",
                                                                   "_events.tsv"))
    assert "run_start" in events.read_text()
    entries = [json.loads(line)["event"] for line in log.read_text().splitlines()]
    assert entries[-2:] == ["run_recovered", "run_converted"]
    assert recover(root) == []  # nothing left to recover


def test_recorder_names_a_missing_stream(tmp_path):
    name = f"no-such-stream-{uuid.uuid4().hex[:8]}"
    rec = XDFRecorder(tmp_path / "x_eeg.xdf", [RecordedStream("eeg", name, "eeg")])
    with pytest.raises(StreamError, match=name):
        rec.start(timeout=10)
    assert not rec.path.exists() and not rec.state_path.exists()


def test_recorder_never_overwrites(tmp_path):
    path = tmp_path / "x_eeg.xdf"
    path.write_bytes(b"XDF:")
    with pytest.raises(DataError, match="never overwritten"):
        XDFRecorder(path, [RecordedStream("eeg", "any")]).start()
    assert path.read_bytes() == b"XDF:"


def test_recover_leaves_live_recordings_alone(tmp_path):
    folder = tmp_path / "sourcedata/sub-01/ses-01/eeg"
    folder.mkdir(parents=True)
    state = {"format": "bci-app recording state", "status": "recording",
             "xdf": "sub-01_ses-01_task-t_run-01_eeg.xdf", "owner_pid": os.getpid(),
             "recorder_pid": None, "run": {}}
    write_state(folder / "sub-01_ses-01_task-t_run-01_eeg_recording.json", state)
    assert recover(tmp_path) == []  # its owner (this process) is alive


def test_started_streams_are_counted_in_interleaved_recorder_output():
    from bci_app.session.recorder import streams_started

    # As LabRecorderCLI printed it once, its threads writing at the same time.
    lines = ["Opened the stream bci-app-predictions-6a1e.",
             "Received header for stream bci-app-predictions-6a1e.",
             "Started data collection for stream Started data collection for stream "
             "bci-app-markers-6a1e.bci-app-sim-6a1e",
             ".",
             "Started data collection for stream bci-app-predictions-6a1e."]
    assert streams_started(lines) == 3
    assert streams_started(lines[:2]) == 0
