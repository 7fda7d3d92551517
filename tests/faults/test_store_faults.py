"""A recordings folder under concurrent programs and hostile input: nothing lost, no orphan."""

import subprocess
import sys

import pytest

from bci_app.errors import ConfigError, DataError
from bci_app.session import RecordingStore
from bci_app.session.participants import read_participants

WRITER = """
import sys
from bci_app.session import RecordingStore

store = RecordingStore(sys.argv[1])
for k in range(int(sys.argv[3])):
    store.create_subject(f"{sys.argv[2]}{k:02d}", age=50 + k)
"""


def test_three_programs_adding_subjects_at_once_lose_none(tmp_path):
    """Three processes rewrite participants.tsv at the same time (as three sessions
    recording to one folder do): every subject of every process is kept."""
    root = tmp_path / "recordings"
    RecordingStore(root)
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(root), prefix, "15"],
                              stderr=subprocess.PIPE, text=True)
             for prefix in ("A", "B", "C")]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errors
    ids = [s.id for s in RecordingStore(root).subjects()]
    assert ids == sorted(f"{p}{k:02d}" for p in "ABC" for k in range(15))
    assert len(read_participants(root)[1]) == 45


def test_a_folder_locked_by_another_program_gives_a_clear_error(tmp_path):
    from bci_app._utils import FolderLock

    root = tmp_path / "recordings"
    store = RecordingStore(root)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'w'); "
         "fcntl.flock(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)",
         str(root / ".bci-app.lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        lock = FolderLock(root / ".bci-app.lock", timeout=0.5, error=DataError)
        with pytest.raises(DataError, match="locked by another program"):
            with lock:
                pass
    finally:
        holder.kill()
        holder.wait()
    store.create_subject("01")  # free again once the holder is gone
    assert [s.id for s in store.subjects()] == ["01"]


def test_an_overlong_subject_label_is_refused_before_anything_is_written(tmp_path):
    root = tmp_path / "recordings"
    store = RecordingStore(root)
    before = (root / "participants.tsv").read_text() \
        if (root / "participants.tsv").exists() else ""
    with pytest.raises(ConfigError, match="300 characters.*at most 32"):
        store.create_subject("P" * 300)
    after = (root / "participants.tsv").read_text() \
        if (root / "participants.tsv").exists() else ""
    assert after == before and not list(root.glob("sub-*"))
