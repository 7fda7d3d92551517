"""Recording state files and the recovery that reads them, without LabRecorder: the file
format (as earlier versions wrote it), state files left by a crash, the processes that the
recovery may and may not stop."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bci_app.errors import DataError
from bci_app.session._proc import process_alive, process_start_ticks
from bci_app.session.recorder import stop_orphan
from bci_app.session.recovery import recover
from bci_app.session.state import (
    STATE_FORMAT,
    find_recordings,
    read_state,
    state_path_for,
    update_state,
    write_state,
)
from bci_app.session.store import RecordingStore

_BASE = "sub-01_ses-01_task-leftRightHand_run-03"


def _dead_pid():
    """The pid of a process that has ended (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _old_state_text(owner_pid, recorder_pid):
    """A state file as the versions before the split of recorder.py wrote it mid-run (their
    writer: ``json.dump(state, f, indent=2, ensure_ascii=False)`` then a newline)."""
    state = {
        "format": "bci-app recording state", "format_version": 1, "status": "recording",
        "xdf": f"{_BASE}_eeg.xdf", "log": f"{_BASE}_eeg_labrecorder.log",
        "recorder_pid": recorder_pid, "recorder_start_ticks": 123456,
        "control_fifo": "/tmp/bci_app-user-rec-gone/control.fifo",
        "owner_pid": owner_pid, "owner_start_ticks": 654321, "owner_host": "",
        "started": "2024-05-02T14:03:07.512+02:00", "started_lsl": 1234.5, "ready": True,
        "streams": [{"role": "eeg", "name": "amp", "type": "EEG", "source_id": "",
                     "uid": ""}],
        "run": {"subject": "01", "session": "01", "task": "leftRightHand", "run": 3,
                "protocol": {"name": "Left/right hand", "description": "Imagine movements"},
                "seed": 7, "class_of_marker": {"left": "left_hand"}, "model": None,
                "amplifier": {}, "line_freq": 50.0, "bci_app_version": "0.1.0"},
        "ready_lsl": 1235.0,
    }
    return json.dumps(state, indent=2, ensure_ascii=False) + "\n", state


def _eeg_folder(root):
    folder = Path(root) / "sourcedata" / "sub-01" / "ses-01" / "eeg"
    folder.mkdir(parents=True)
    return folder


def test_state_files_are_written_as_earlier_versions_wrote_them(tmp_path):
    text, state = _old_state_text(1, 2)
    state["run"]["protocol"]["description"] = "Imaginez — la main gauche"  # non-ASCII kept
    path = state_path_for(tmp_path / f"{_BASE}_eeg.xdf")
    assert path.name == f"{_BASE}_eeg_recording.json"
    write_state(path, state)
    assert path.read_text(encoding="utf-8") == json.dumps(state, indent=2,
                                                          ensure_ascii=False) + "\n"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left
    assert read_state(path) == state
    assert update_state(path, status="stopped")["status"] == "stopped"
    assert read_state(path) == {**state, "status": "stopped"}


def test_unreadable_state_files_are_named(tmp_path):
    with pytest.raises(DataError, match="no such recording state file"):
        read_state(tmp_path / "x_recording.json")
    other = tmp_path / "y_recording.json"
    other.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(DataError, match=STATE_FORMAT):
        read_state(other)
    other.write_text("{cut by a cra")
    with pytest.raises(DataError, match="not a readable recording state file"):
        read_state(other)


def test_processes_are_known_by_pid_and_start_time():
    me = os.getpid()
    assert process_alive(me) and process_alive(me, process_start_ticks(me))
    assert not process_alive(None) and not process_alive(_dead_pid())
    if Path(f"/proc/{me}/stat").is_file():  # a reused pid is not the process it was
        assert not process_alive(me, process_start_ticks(me) + 1)


def test_stop_orphan_never_stops_another_program(tmp_path):
    """A live process whose pid a state file names is stopped only if it is the
    LabRecorderCLI recording that file."""
    path = tmp_path / f"{_BASE}_eeg_recording.json"
    text, _ = _old_state_text(_dead_pid(), os.getpid())
    state = json.loads(text)
    state["recorder_start_ticks"] = process_start_ticks(os.getpid())
    write_state(path, state)
    assert stop_orphan(path, timeout=1.0) is False
    assert process_alive(os.getpid())


def test_recovery_reads_state_files_of_earlier_versions(tmp_path):
    """A run interrupted under an earlier version: its state file (format unchanged) says
    "recording", its owner and recorder are gone. The recovery marks it interrupted, logs it
    in the session log, tries the conversion and says why it failed (no XDF file here)."""
    root = tmp_path / "rec"
    store = RecordingStore(root)
    store.create_subject("01")
    session = store.open_session("01", "01")
    path = _eeg_folder(root) / f"{_BASE}_eeg_recording.json"
    text, _ = _old_state_text(_dead_pid(), _dead_pid())
    path.write_text(text, encoding="utf-8")
    assert find_recordings(root) == [path]
    assert find_recordings(root, status="converted") == []

    (item,) = recover(root, convert=False)
    assert (item.state_path, item.xdf_path.name) == (path, f"{_BASE}_eeg.xdf")
    assert not item.orphan_stopped and item.bids_path is None and item.error is None
    state = read_state(path)
    assert state["status"] == "stopped" and state["interrupted"] is True
    assert state["recovered"] and state["stopped"]
    entry = session.entries()[-1]
    assert entry["event"] == "run_recovered"
    assert (entry["run"], entry["task"], entry["xdf"], entry["orphan_recorder_stopped"]) \
        == (3, "leftRightHand", f"{_BASE}_eeg.xdf", False)

    (item,) = store.recover()  # "stopped", not converted: converted now (and it fails)
    assert item.bids_path is None and "no such XDF file" in item.error
    assert read_state(path)["status"] == "failed"
    assert session.entries()[-1]["event"] == "run_conversion_failed"
    assert store.recover() == []  # a failed conversion is not retried on every start
