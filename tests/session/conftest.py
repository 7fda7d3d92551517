"""Fixtures of the session tests: watching an XDF file while LabRecorder writes it."""

import time
from pathlib import Path

import pytest


def written_so_far(xdf_path):
    """(markers, number of EEG samples) in an XDF file being written, or None if unreadable."""
    import pyxdf

    try:
        streams, _ = pyxdf.load_xdf(str(xdf_path), synchronize_clocks=False,
                                    dejitter_timestamps=False, verbose=False)
    except Exception:  # noqa: BLE001 - cut in the middle of a chunk: read it again later
        return None
    by_type = {s["info"]["type"][0]: s for s in streams}
    if "eeg" not in by_type or "Markers" not in by_type:
        return None
    return ([m[0] for m in by_type["Markers"]["time_series"]],
            len(by_type["eeg"]["time_stamps"]))


@pytest.fixture(scope="session")
def wait_written():
    """``wait_written(xdf_path, n_markers, timeout)``: wait until LabRecorder has written
    ``n_markers`` markers and some EEG to the file; returns (markers, n EEG samples) then.

    LabRecorder writes what it pulled every 0.5 s: this is the observable event "the run
    is recorded up to here", instead of a fixed sleep.
    """
    def wait(xdf_path, n_markers, timeout=60.0):
        deadline = time.monotonic() + timeout
        seen = None
        while time.monotonic() < deadline:
            seen = written_so_far(xdf_path) if Path(xdf_path).is_file() else None
            if seen is not None and len(seen[0]) >= n_markers and seen[1] > 0:
                return seen
            time.sleep(0.2)
        pytest.fail(f"{xdf_path} did not hold {n_markers} markers within {timeout} s "
                    f"(last read: {seen})")

    return wait
