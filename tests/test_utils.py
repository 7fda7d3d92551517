"""The shared utilities of the bottom layer: one atomic write, one timestamp."""

import datetime as dt
import os
import stat

import pytest

from bci_app._utils import atomic_write, now_iso


def test_now_iso_is_local_time_with_offset_to_the_millisecond():
    text = now_iso()
    stamp = dt.datetime.fromisoformat(text)
    assert stamp.utcoffset() is not None
    assert len(text.split("T")[1].split(".")[1]) == 3 + 6  # .mmm+hh:mm
    assert abs((dt.datetime.now(dt.UTC) - stamp).total_seconds()) < 60


def test_atomic_write_replaces_whole_files(tmp_path):
    path = tmp_path / "new" / "file.tsv"
    assert atomic_write(path, "a\tb\r\nc\n") == path
    assert path.read_bytes() == b"a\tb\r\nc\n"  # line endings as given
    atomic_write(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    assert os.listdir(path.parent) == ["file.tsv"]  # no temporary file left
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_atomic_write_keeps_the_old_content_on_error(tmp_path):
    path = tmp_path / "file.json"
    atomic_write(path, "old")
    with pytest.raises(TypeError):
        atomic_write(path, 3.5)
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["file.json"]
