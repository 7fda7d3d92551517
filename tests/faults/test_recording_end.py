"""The end of a recording is never lost when the recorder stops fast.

:meth:`XDFRecorder.stop` ends LabRecorder once everything received is in the file and
closes the file itself (its clock-offset threads would otherwise hold it up to 5 s): the
last samples and markers must be in the file, every stream must have the footer LabRecorder
would have written. The footers written are checked against LabRecorder's own on the same
recording (real LabRecorderCLI, real LSL streams on loopback).
"""

import struct
import uuid

import numpy as np
import pytest

from bci_app.errors import DataError
from bci_app.session._xdf_close import STREAM_FOOTER, _varlen, close_xdf
from bci_app.session.recorder import RecordedStream, XDFRecorder
from bci_app.session.state import read_state


@pytest.fixture
def streams():
    """A simulated amplifier (22 channels, 250 Hz) and a marker outlet, both running."""
    from mne_lsl.lsl import StreamInfo, StreamOutlet

    from bci_app.acquisition.lsl import use_loopback
    from bci_app.acquisition.simulator import SimulatedAmplifier

    use_loopback()
    tag = uuid.uuid4().hex[:6]
    name = f"end-markers-{tag}"
    outlet = StreamOutlet(StreamInfo(name, "Markers", 1, 0.0, "string", name))
    with SimulatedAmplifier(name=f"end-sim-{tag}", seed=1, artifacts=False) as amp:
        yield amp, outlet, [RecordedStream("eeg", amp.name, amp.stype, amp.source_id),
                            RecordedStream("markers", name, "Markers", name)]


def _record(tmp_path, streams, wait_until, fast):
    """Record a few markers, the last one sent just before ``stop(fast=fast)``."""
    from mne_lsl.lsl import local_clock

    _, outlet, recorded = streams
    rec = XDFRecorder(tmp_path / "run.xdf", recorded).start()
    for k in range(3):
        outlet.push_sample([f"trial_{k}"])
    wait_until(lambda: rec.path.stat().st_size > 20000, 60, "some EEG written")
    outlet.push_sample(["run_end"])
    sent = local_clock()
    rec.stop(fast=fast)
    return rec, sent


def _load(path):
    import pyxdf

    streams, _ = pyxdf.load_xdf(str(path), synchronize_clocks=False,
                                dejitter_timestamps=False)
    return {s["info"]["type"][0]: s for s in streams}


def test_a_fast_stop_keeps_the_last_samples_and_markers_and_closes_the_file(
        tmp_path, streams, wait_until):
    rec, sent = _record(tmp_path, streams, wait_until, fast=True)
    assert rec.closed_by == "bci-app" and not rec.is_running
    state = read_state(rec.state_path)
    assert state["status"] == "stopped" and state["closed_by"] == "bci-app"
    assert state["error"] is None
    got = _load(rec.path)
    markers, eeg = got["Markers"], got["EEG"]
    assert [m[0] for m in markers["time_series"]] == ["trial_0", "trial_1", "trial_2",
                                                      "run_end"]
    assert eeg["time_stamps"][-1] >= sent  # EEG up to the stop, and past it
    for stream in (markers, eeg):  # the footers LabRecorder writes, true to the data
        info = stream["footer"]["info"]
        assert int(info["sample_count"][0]) == len(stream["time_stamps"])
        assert float(info["first_timestamp"][0]) == stream["time_stamps"][0]
        assert float(info["last_timestamp"][0]) == stream["time_stamps"][-1]
    assert np.all(np.diff(eeg["time_stamps"]) > 0)


def _without_footers(data, cut):
    """The file's bytes without its footer chunks, with ``cut`` bytes of a chunk at the end
    (as a writer ended in the middle of a write leaves it)."""
    pos, kept = 4, [data[:4]]
    while pos < len(data):
        length, start = _varlen(data, pos)
        if struct.unpack_from("<H", data, start)[0] != STREAM_FOOTER:
            kept.append(data[pos:start + length])
        pos = start + length
    return b"".join(kept) + kept[-1][:cut]


def test_a_file_left_open_gets_the_footers_labrecorder_writes(tmp_path, streams, wait_until):
    rec, _ = _record(tmp_path, streams, wait_until, fast=False)  # LabRecorder closes it
    assert rec.closed_by == "labrecorder" and rec.returncode == 0
    reference = _load(rec.path)
    for cut in (0, 1, 7):  # no chunk cut; its length field cut; its header cut
        left_open = tmp_path / f"left_open_{cut}.xdf"
        left_open.write_bytes(_without_footers(rec.path.read_bytes(), cut))
        closed = close_xdf(left_open)
        assert closed["cut_bytes"] == cut and len(closed["footers"]) == 2
        got = _load(left_open)
        for kind, stream in reference.items():
            mine, theirs = got[kind]["footer"]["info"], stream["footer"]["info"]
            for key in ("first_timestamp", "sample_count"):
                assert float(mine[key][0]) == float(theirs[key][0]), (cut, kind, key)
            # The last sample's time stamp (LabRecorder writes one sample period more when
            # that stamp was left implicit in the file).
            assert float(mine["last_timestamp"][0]) == stream["time_stamps"][-1]
            offsets = [[(float(o["time"][0]), float(o["value"][0]))
                        for o in f["clock_offsets"][0]["offset"]] for f in (mine, theirs)]
            assert offsets[0] == offsets[1]  # every clock offset LabRecorder measured
            assert np.array_equal(got[kind]["time_stamps"], stream["time_stamps"])
    # Closing a closed file changes nothing.
    before = left_open.read_bytes()
    assert close_xdf(left_open) == {"cut_bytes": 0, "footers": {}}
    assert left_open.read_bytes() == before


def test_a_file_that_is_no_xdf_is_refused_by_name(tmp_path):
    path = tmp_path / "notes.xdf"
    path.write_bytes(b"not an XDF file")
    with pytest.raises(DataError, match=r"notes\.xdf is no XDF file"):
        close_xdf(path)
    assert path.read_bytes() == b"not an XDF file"
