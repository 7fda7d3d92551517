"""Bad inputs are found before any work, and computed results are never lost silently.

* Dataset names: only MOABB's registered datasets (a usage error listing close names).
* Dataset files: each subject's files are checked on this machine before anything is read;
  the network is blocked for these tests (every connection and name look-up of the process
  raises) and nothing may reach it: no download is ever attempted.
* Output folders (``--out``, ``--root``): not a folder, read-only (a read-only tmpfs) or
  full (a 1 MB tmpfs) stop the command before any work; a save that fails at the end (the
  disk filled up meanwhile) puts the results in a fallback folder and says where.
* ``bci-app session``: every input is checked before a subject row or a session folder is
  written.

Each error is one line ``bci-app <command>: ...`` with the documented exit code, no traceback.
"""

import errno
import re
import shutil
import socket
import subprocess

import pandas as pd
import pytest

from bci_app import cli_common
from bci_app.cli import main
from bci_app.cli_common import EXIT_ERROR, EXIT_USAGE

# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------


def error_line(err, command):
    """The one error line of ``bci-app <command>`` in ``err`` (stderr; no traceback)."""
    assert "Traceback" not in err and "internal error" not in err, err
    lines = [line for line in err.splitlines() if line.startswith(f"bci-app {command}: ")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def network_calls(monkeypatch):
    """No network for the whole process: every connection or name look-up raises, and is
    recorded (the list must stay empty: nothing tried to reach the network)."""
    calls = []

    def connect(self, address):
        calls.append(address)
        raise OSError(errno.ENETUNREACH, "network unreachable (blocked by the test)")

    def getaddrinfo(host, *args, **kwargs):
        calls.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "no name look-up (blocked by the test)")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return calls


@pytest.fixture
def tmpfs(tmp_path):
    """``tmpfs(name, options)``: a tmpfs mounted for the test (skipped without the right to
    mount)."""
    mounted = []

    def mount(name, options):
        disk = tmp_path / name
        disk.mkdir()
        tool = shutil.which("mount")
        done = (subprocess.run([tool, "-t", "tmpfs", "-o", options, "tmpfs", str(disk)],
                               capture_output=True, text=True, check=False) if tool else None)
        if done is None or done.returncode != 0:
            pytest.skip("a tmpfs for the test needs the right to mount here "
                        f"({done.stderr.strip() if done else 'no mount command'})")
        mounted.append(disk)
        return disk

    yield mount
    for disk in mounted:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk):
    """Take every free byte of ``disk``."""
    with open(disk / "ballast", "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError as err:
            assert err.errno == errno.ENOSPC


# ---------------------------------------------------------------------------------------
# dataset names and files
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv, close", [
    (["evaluate", "--dataset", "__loader__"], None),
    (["evaluate", "--dataset", "BNCI2014_01"], "BNCI2014_001"),
    (["pseudo-online", "--dataset", "__loader__"], None),
    (["pseudo-online", "--dataset", "PhysionetMl"], "PhysionetMI"),
    (["train", "--model", "mdm", "--dataset", "__loader__"], None),
])
def test_a_name_that_is_no_moabb_dataset_is_a_usage_error(argv, close, tmp_path, capsys,
                                                          network_calls):
    out = ["--out", str(tmp_path / ("m.bcimodel" if argv[0] == "train" else "out"))]
    assert main(argv + out) == EXIT_USAGE
    line = error_line(capsys.readouterr().err, argv[0])
    assert f"usage error: --dataset {argv[argv.index('--dataset') + 1]!r}: no such dataset" \
        in line
    if close:
        assert f"close names: {close}" in line
    assert network_calls == []
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command, name", [("pseudo-online", "missing.edf"),
                                           ("evaluate", "recordings/")])
def test_a_dataset_path_to_nothing_is_a_missing_file(command, name, tmp_path, capsys):
    path = tmp_path / name
    assert main([command, "--dataset", str(path), "--out", str(tmp_path / "out")]) \
        == EXIT_ERROR
    line = error_line(capsys.readouterr().err, command)
    assert f"error: --dataset {path}: no such file or folder" in line


@pytest.mark.parametrize("command", ["evaluate", "pseudo-online", "train"])
def test_a_dataset_not_on_this_machine_is_never_downloaded(command, tmp_path, capsys,
                                                           network_calls, models_dir):
    """BNCI2014_001 is a MOABB dataset, but not here (the data folder holds PhysioNet's
    folder only): a data error naming the file expected, and nothing reaches the network."""
    data = tmp_path / "mne_data"
    (data / "MNE-eegbci-data").mkdir(parents=True)
    common = ["--dataset", "BNCI2014_001", "--data-path", str(data)]
    if command == "train":
        argv = ["train", "--model", "mdm", *common, "--subject", "1",
                "--out", str(tmp_path / "out" / "m.bcimodel")]
    else:
        argv = [command, *common, "--subjects", "1", "--models", str(models_dir),
                "--only", "MDM", "--no-progress", "--out", str(tmp_path / "out")]
    assert main(argv) == EXIT_ERROR
    line = error_line(capsys.readouterr().err, command)
    expected = re.search(r"BNCI2014_001 subject 1: (\S+) is missing", line)
    assert expected, line
    assert expected.group(1).startswith(str(data / "MNE-bnci-data"))
    assert expected.group(1).endswith("A01T.mat")  # the first session of subject 1
    assert "bci-app never downloads data" in line
    assert "BNCI2014_001().download(subject_list=[1]" in line  # how to get it elsewhere
    assert network_calls == []
    assert sorted(p.name for p in data.iterdir()) == ["MNE-eegbci-data"]  # nothing made
    assert not (tmp_path / "out").exists()


def test_a_missing_physionet_subject_names_its_files_and_how_to_get_them(tmp_path, capsys,
                                                                        network_calls,
                                                                        models_dir):
    data = tmp_path / "mne_data"
    data.mkdir()
    assert main(["evaluate", "--dataset", "PhysionetMI", "--subjects", "3", "--data-path",
                 str(data), "--models", str(models_dir), "--only", "MDM",
                 "--out", str(tmp_path / "out")]) == EXIT_ERROR
    line = error_line(capsys.readouterr().err, "evaluate")
    run4 = data / "MNE-eegbci-data" / "files" / "eegmmidb" / "1.0.0" / "S003" / "S003R04.edf"
    assert f"PhysionetMI subject 3: 3 file(s) missing, e.g. {run4}" in line
    assert "mne.datasets.eegbci.load_data(3, runs=[4, 8, 12]" in line
    assert network_calls == []


def test_a_task_that_still_tries_to_download_is_refused_offline(tmp_path, network_calls):
    """Should a task read a file that its dataset's check let through, MNE's downloader is
    reached: the task is refused with a data error, and nothing leaves the process."""
    from bci_app.errors import DataError
    from bci_app.evaluation.executors import LocalExecutor, returns_refusals

    @returns_refusals
    def read_subject(task):
        import mne

        return mne.datasets.eegbci.load_data(task["subject"], [4], path=task["path"],
                                             update_path=False)

    with pytest.raises(DataError, match=r"reading the data tried to reach the network .*"
                                        r"bci-app never downloads data"):
        LocalExecutor().map(read_subject, [{"subject": 7, "path": str(tmp_path)}], ["S7"],
                            "read", progress=False)
    assert network_calls == []


# ---------------------------------------------------------------------------------------
# output folders
# ---------------------------------------------------------------------------------------

#: Commands whose work would fail on its own if it started (no data in EMPTY, no model
#: file NOFILE): the error must be about the output folder, found first.
COMMANDS = {
    "evaluate": ["evaluate", "--dataset", "PhysionetMI", "--subjects", "1", "--data-path",
                 "{empty}", "--out", "{out}"],
    "pseudo-online": ["pseudo-online", "--dataset", "PhysionetMI", "--subjects", "1",
                      "--data-path", "{empty}", "--out", "{out}"],
    "train": ["train", "--model", "mdm", "--dataset", "PhysionetMI", "--subject", "1",
              "--data-path", "{empty}", "--out", "{out}/model.bcimodel"],
    "session": ["session", "--protocol", "left_right_hand", "--subject", "01", "--simulate",
                "--model", "{empty}/none.bcimodel", "--root", "{out}"],
}


@pytest.mark.parametrize("fault", ["not-a-folder", "read-only", "full"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_an_unusable_output_folder_stops_the_command_before_any_work(command, fault, tmp_path,
                                                                    capsys, tmpfs,
                                                                    network_calls):
    empty = tmp_path / "empty"
    empty.mkdir()
    if fault == "not-a-folder":
        base = tmp_path / "a-file"
        base.write_text("not a folder")
        said = f"{base} is a file, not a folder"
    elif fault == "read-only":
        base = tmpfs("ro", "size=4m,ro")
        said = f"cannot write in {base} (Read-only file system)"
    else:
        base = tmpfs("small", "size=1m")
        said = "not enough disk space for the outputs of --"
    out = base / "results"
    argv = [a.format(empty=empty, out=out) for a in COMMANDS[command]]
    assert main(argv) == EXIT_ERROR
    line = error_line(capsys.readouterr().err, command)
    option = "--root" if command == "session" else "--out"
    assert said in line and f"{option} {out}" in line
    assert not out.exists()


def test_results_computed_before_a_failed_save_go_to_a_fallback_folder(tmp_path, capsys,
                                                                      tmpfs, monkeypatch,
                                                                      models_dir):
    """The disk of --out fills up during the evaluation (here: it is full, and the check
    at the start lets it through): the results are written to a fallback folder, named in
    the error, instead of being lost."""
    from bci_app.resources import user_dir

    disk = tmpfs("filling", "size=1m")
    fill(disk)
    monkeypatch.setattr(cli_common, "MIN_OUTPUT_FREE_BYTES", 0, raising=False)
    out = disk / "results"
    assert main(["evaluate", "--dataset", "SyntheticMI", "--subjects", "1", "--models",
                 str(models_dir), "--only", "MDM", "--no-progress",
                 "--out", str(out)]) == EXIT_ERROR
    printed = capsys.readouterr()
    assert "MDM" in printed.out  # the score table was printed first
    line = error_line(printed.err, "evaluate")
    assert f"could not write the results (results.csv, scores.txt, scores.png) to {out} " \
           "(No space left on device)" in line
    fallback = re.search(r"they were written to (\S+) instead", line)
    assert fallback, line
    fallback = type(out)(fallback.group(1))
    assert fallback.parent == user_dir() / "unsaved-results"
    assert fallback.name.startswith("evaluate-")
    results = pd.read_csv(fallback / "results.csv")
    assert list(results["pipeline"]) == ["MDM", "MDM"]  # 1 subject x 2 sessions
    assert sorted(results["session"].astype(str)) == ["0", "1"]
    assert (fallback / "scores.txt").read_text().startswith("pipeline")
    assert (fallback / "scores.png").stat().st_size > 10_000


def test_a_trained_model_that_cannot_be_saved_goes_to_a_fallback_folder(tmp_path, capsys,
                                                                       tmpfs, monkeypatch):
    from bci_app.decoding.persistence import load_model
    from bci_app.resources import user_dir

    disk = tmpfs("filling", "size=1m")
    fill(disk)
    monkeypatch.setattr(cli_common, "MIN_OUTPUT_FREE_BYTES", 0, raising=False)
    out = disk / "models" / "sim.bcimodel"
    assert main(["train", "--model", "mdm", "--simulated", "--trials", "6", "--seed", "3",
                 "--out", str(out)]) == EXIT_ERROR
    line = error_line(capsys.readouterr().err, "train")
    assert f"could not write the trained model sim.bcimodel to {out.parent} " \
           "(No space left on device)" in line
    fallback = type(out)(re.search(r"they were written to (\S+) instead", line).group(1))
    assert fallback.parent == user_dir() / "unsaved-results"
    trained = load_model(fallback / "sim.bcimodel")
    assert set(trained.classes) >= {"left_hand", "right_hand"}


# ---------------------------------------------------------------------------------------
# bci-app session: every input before the subject or the session folder
# ---------------------------------------------------------------------------------------

BAD_PROTOCOL = 'name = "one class"\nrun_type = "calibration"\nclasses = ["left_hand"]\n'


def _tree(root):
    """Every path under ``root`` with its bytes (None for folders)."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(root.rglob("*"))}


@pytest.mark.parametrize("extra, code, said", [
    (["--model", "{tmp}/none.bcimodel"], EXIT_ERROR, "none.bcimodel"),
    (["--model", "{tmp}/text.bcimodel"], EXIT_ERROR, "text.bcimodel"),
    (["--protocol", "{tmp}/one_class.toml"], EXIT_ERROR, "one_class.toml"),
    (["--time-scale", "50"], EXIT_ERROR, "time scale 50"),
    (["--session", "0-1"], EXIT_ERROR, "session '0-1'"),
    (["--skill", "5"], EXIT_USAGE, "--skill 5"),
    (["--smoothing", "0"], EXIT_USAGE, "--smoothing 0"),
    (["--train", "no_such_pipeline"], EXIT_ERROR, "no_such_pipeline"),
], ids=["missing-model", "not-a-model", "bad-protocol", "time-scale", "session-label",
        "skill", "smoothing", "train-pipeline"])
def test_a_bad_session_input_leaves_no_subject_and_no_session_folder(extra, code, said,
                                                                    tmp_path, capsys):
    from bci_app.session import RecordingStore

    root = tmp_path / "recordings"
    RecordingStore(root).create_subject("01", age=30, sex="F")
    (tmp_path / "text.bcimodel").write_text("not a model")
    (tmp_path / "one_class.toml").write_text(BAD_PROTOCOL)
    before = _tree(root)
    argv = ["session", "--protocol", "left_right_hand", "--subject", "02", "--age", "40",
            "--simulate", "--time-scale", "0.05", "--root", str(root)]
    argv += [a.format(tmp=tmp_path) for a in extra]
    assert main(argv) == code
    line = error_line(capsys.readouterr().err, "session")
    assert said in line
    assert _tree(root) == before  # participants.tsv as it was; no sub-02 folder anywhere
