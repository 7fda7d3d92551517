"""Faults of the recording during a run: a dead or hung LabRecorder, a disk that fills up.

Each case runs a real run (simulated amplifier, protocol runner, LabRecorder on loopback)
through :class:`~bci_app.session.orchestrator.RunOrchestrator`, the path of ``bci-app
session`` and of the GUI, and injects the fault for real: the recorder process is killed or
stopped with a signal, the disk (a small tmpfs mounted for the test) is filled by another
file. The run must stop at once (the protocol does not go on unrecorded), say why in the
session log, and keep what was recorded readable.
"""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bci_app.errors import StreamError
from bci_app.protocol import protocol_from_dict

TRIALS = 8  # per class: 16 trials, about 35 s: the faults come in the first trials


def _protocol():
    return protocol_from_dict({
        "name": "Fault run", "run_type": "calibration",
        "classes": ["left_hand", "right_hand"], "trials_per_class": TRIALS, "seed": 3,
        "timing": {"baseline_s": 1.0, "fixation_s": 0.2, "cue_s": 0.2, "imagery_s": 1.0,
                   "iti_min_s": 0.5, "iti_max_s": 0.6}})


def _run(root, on_event, **supervision):
    """A started orchestrator on a new simulated amplifier (22 channels, 250 Hz)."""
    import uuid

    from bci_app.acquisition.simulator import SimulatedAmplifier
    from bci_app.session import RecordingStore, RunOrchestrator
    from bci_app.session.orchestrator import simulated_source

    store = RecordingStore(root)
    store.create_subject("01")
    session = store.open_session("01", "01")
    amp = SimulatedAmplifier(name=f"fault-sim-{uuid.uuid4().hex[:6]}", seed=1,
                             artifacts=False).start()
    orch = RunOrchestrator(session, _protocol(), simulated_source(amp),
                           stream_prefix=f"fault-{uuid.uuid4().hex[:6]}", on_event=on_event,
                           supervision=supervision)
    return orch, amp, session


def _trials_started(orch):
    return sum(1 for _, marker in orch.runner.events if marker.startswith("cue_"))


def _fault_entries(session):
    return [e for e in session.entries() if e["event"] == "recording_fault"]


def _on_imagery_of_trial(k, action):
    """A runner subscriber doing ``action()`` once, when trial ``k``'s imagery starts."""
    done = []

    def subscriber(state, trial, label, timestamp):
        if state == "imagery" and trial == k and not done:
            done.append(True)
            action()

    return subscriber


def test_a_killed_recorder_stops_the_run_and_keeps_what_was_recorded(tmp_path):
    from bci_app.session import load_xdf_run

    holder = {}
    kill = _on_imagery_of_trial(1, lambda: os.kill(holder["orch"].recorder.pid,
                                                   signal.SIGKILL))
    orch, amp, session = _run(tmp_path / "recordings", kill)
    holder["orch"] = orch
    try:
        orch.start()
        with pytest.raises(StreamError, match=r"recorder \(LabRecorder, pid \d+\) stopped"):
            orch.run_to_end()
    finally:
        amp.stop()
    # The protocol stopped at the fault: 16 trials scheduled, a few started.
    assert 2 <= _trials_started(orch) < 2 * TRIALS
    assert orch.runner.events[-1][1] == "run_aborted"
    [entry] = _fault_entries(session)
    assert entry["run"] == orch.info.index and "LabRecorder" in entry["reason"]
    # What was recorded before the kill is kept, readable, and the run says why.
    raw = load_xdf_run(orch.recorder.path).raw
    assert raw.n_times > 250  # more than a second of EEG
    assert orch.info.status == "interrupted" and "LabRecorder" in orch.info.error
    [saved] = session.runs
    assert saved.status == "interrupted" and Path(saved.bids_path).is_file()


def test_a_hung_recorder_is_found_by_its_file_not_growing(tmp_path):
    holder = {}
    stop = _on_imagery_of_trial(1, lambda: os.kill(holder["orch"].recorder.pid,
                                                   signal.SIGSTOP))
    orch, amp, session = _run(tmp_path / "recordings", stop, stall_s=1.5)
    holder["orch"] = orch
    try:
        orch.start()
        with pytest.raises(StreamError, match="has not grown for"):
            orch.run_to_end()
    finally:
        if orch.recorder is not None and orch.recorder.pid:
            try:
                os.kill(orch.recorder.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        amp.stop()
    assert _trials_started(orch) < 2 * TRIALS
    assert "no longer writes" in _fault_entries(session)[0]["reason"]
    assert orch.info.status in ("interrupted", "failed") and orch.info.error


@pytest.fixture
def small_disk(tmp_path):
    """A 12 MB tmpfs mounted for the test (needs the right to mount: skipped otherwise)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mount = shutil.which("mount")
    done = subprocess.run([mount or "mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs",
                           str(disk)], capture_output=True, text=True, check=False) \
        if mount else None
    if done is None or done.returncode != 0:
        pytest.skip("a small disk to fill needs the right to mount a tmpfs here "
                    f"({done.stderr.strip() if done else 'no mount command'})")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def _run_filling_the_disk(disk, leave, trial=1):
    """A run on ``disk`` during which another program fills it, leaving ``leave`` bytes
    (None: every byte taken), at trial ``trial``'s imagery; returns (orch, session)."""
    ballast = disk / "other_program.bin"

    def fill():
        if leave is None:
            try:
                with open(ballast, "wb") as f:
                    while True:
                        f.write(b"\0" * 65536)
            except OSError:
                return
        with open(ballast, "wb") as f:
            f.write(b"\0" * (shutil.disk_usage(disk).free - leave))

    orch, amp, session = _run(disk / "recordings", _on_imagery_of_trial(trial, fill),
                              min_free_bytes=2_000_000)
    try:
        orch.start()
        with pytest.raises(StreamError, match="almost full"):
            orch.run_to_end()
    finally:
        amp.stop()
    return orch, session, ballast


def _recover_with_the_cli(root, capsys):
    """``bci-app session --recover`` (its entry point, in this process: the recording's
    owner is told apart by its process id in the state file, not by the process that
    recovers): it must recover one run."""
    from bci_app.cli import main

    capsys.readouterr()
    code = main(["session", "--recover", "--root", str(root)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "1 interrupted run(s) recovered" in out


def test_a_disk_filling_up_stops_the_run_before_the_recording_is_cut(small_disk):
    from bci_app.session import load_xdf_run

    orch, session, _ = _run_filling_the_disk(small_disk, leave=1_500_000)
    assert _trials_started(orch) < 2 * TRIALS
    assert "almost full" in _fault_entries(session)[0]["reason"]
    raw = load_xdf_run(orch.recorder.path).raw  # intact up to the stop
    assert raw.n_times > 250
    assert orch.info.status == "interrupted"


def test_a_run_that_cannot_fit_on_the_disk_does_not_start(small_disk):
    orch, amp, session = _run(small_disk / "recordings", None,
                              min_free_bytes=11 * 2**20)
    try:
        with pytest.raises(StreamError, match=r"not enough disk space .* MB free"):
            orch.start()
    finally:
        amp.stop()
    assert orch.recorder is None
    assert not list((small_disk / "recordings").rglob("*.xdf"))


def test_a_run_whose_conversion_failed_on_a_full_disk_is_converted_by_recover(small_disk,
                                                                            capsys):
    """The disk fills up completely: the run stops, its BIDS conversion fails (no space)
    but the XDF file is kept; once space is freed and the application closed,
    ``bci-app session --recover`` converts it."""
    from bci_app.session import RecordingStore, load_run_recording
    from bci_app.session.state import read_state, update_state

    orch, session, ballast = _run_filling_the_disk(small_disk, leave=None)
    assert orch.info.status == "failed" and "could not be converted" in orch.info.error
    assert orch.recorder.path.is_file()
    # Nothing could be written, not even the recording's state: it still says "recording".
    assert read_state(orch.recorder.state_path)["status"] == "recording"
    ballast.unlink()
    # The application is closed (its process gone), space is free: --recover converts.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    update_state(orch.recorder.state_path, owner_pid=dead.pid, owner_start_ticks=None)
    root = small_disk / "recordings"
    _recover_with_the_cli(root, capsys)
    [run] = RecordingStore(root).open_session("01", "01").runs
    assert Path(run.bids_path).is_file() and load_run_recording(run).n_times > 250


def test_a_failed_conversion_is_retried_by_recover_once_space_is_free(small_disk, capsys):
    """Too little space for the BIDS copy (the recording's state could still be written,
    status "failed"): ``bci-app session --recover`` converts it once space is freed, even
    while the application that recorded it is still open."""
    from bci_app.session import RecordingStore, load_run_recording
    from bci_app.session.state import read_state

    # 40 kB left: a state file fits, a BIDS copy of the run does not.
    orch, session, ballast = _run_filling_the_disk(small_disk, leave=40_000, trial=2)
    assert orch.info.status == "failed" and "could not be converted" in orch.info.error
    assert read_state(orch.recorder.state_path)["status"] == "failed"
    root = small_disk / "recordings"
    assert RecordingStore(root).recover() == []  # start-up recovery: failed runs stay
    ballast.unlink()
    _recover_with_the_cli(root, capsys)
    run = RecordingStore(root).open_session("01", "01").runs[-1]
    assert Path(run.bids_path).is_file() and load_run_recording(run).n_times > 500
