"""Fixtures of the session tests: watching an XDF file while LabRecorder writes it."""

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
    by_type = {s["info"]["type"][0].lower(): s for s in streams}  # "EEG" (legacy "eeg")
    if "eeg" not in by_type or "markers" not in by_type:
        return None
    return ([m[0] for m in by_type["markers"]["time_series"]],
            len(by_type["eeg"]["time_stamps"]))


class _LastRead:
    """What a wait saw last, shown when it fails."""

    def __init__(self, describe):
        self.describe = describe

    def __str__(self):
        return self.describe()


@pytest.fixture(scope="session")
def wait_written(wait_until):
    """``wait_written(xdf_path, n_markers, timeout)``: wait until LabRecorder has written
    ``n_markers`` markers and some EEG to the file; returns (markers, n EEG samples) then.

    LabRecorder writes what it pulled every 0.5 s: this is the observable event "the run
    is recorded up to here", instead of a fixed sleep.
    """
    def wait(xdf_path, n_markers, timeout=60.0):
        seen = [None]

        def written():
            seen[0] = written_so_far(xdf_path) if Path(xdf_path).is_file() else None
            return seen[0] is not None and len(seen[0][0]) >= n_markers and seen[0][1] > 0

        wait_until(written, timeout, interval=0.2, what=_LastRead(
            lambda: f"{xdf_path} to hold {n_markers} markers (last read: {seen[0]})"))
        return seen[0]

    return wait
