"""The task classes a session's calibration runs are trained on (GUI and bci-app session)."""

from types import SimpleNamespace

import pytest

from bci_app.errors import DataError
from bci_app.session.training import task_classes


def _runs(*class_lists):
    return [SimpleNamespace(index=k + 1, classes=list(c)) for k, c in enumerate(class_lists)]


def test_task_classes_leave_idle_names_out_and_keep_the_protocols_order():
    assert task_classes(_runs(["right_hand", "rest"])) == ("right_hand",)
    assert task_classes(_runs(["left_hand", "right_hand"], ["feet", "left_hand", "Idle"])) \
        == ("left_hand", "right_hand", "feet")


def test_runs_without_a_task_class_are_refused_by_number():
    with pytest.raises(DataError, match=r"runs \[1, 2\] name no task class"):
        task_classes(_runs(["rest"], []))


def _session_with_runs(tmp_path, *statuses, run_type="calibration"):
    """A session whose runs have these statuses (records, with a recording file each except
    the failed ones), as the application leaves them."""
    from bci_app.session import RecordingStore, RunInfo

    store = RecordingStore(tmp_path / "recordings")
    store.create_subject("01")
    session = store.open_session("01", "01")
    for k, status in enumerate(statuses, start=1):
        path = None
        if status != "failed":
            path = tmp_path / f"run-{k}_eeg.vhdr"
            path.write_text("")
        session.save_run(RunInfo(k, run_type if k < len(statuses) else "online", "p",
                                 str(session.eeg_folder), status=status,
                                 bids_path=str(path) if path else None,
                                 classes=["left_hand", "right_hand"]))
    return session


def test_training_leaves_aborted_and_failed_runs_out_unless_chosen(tmp_path):
    from bci_app.session.training import training_runs

    session = _session_with_runs(tmp_path, "complete", "aborted", "interrupted", "failed",
                                 "complete")  # run 5: an online run
    assert [r.index for r in training_runs(session)] == [1, 3]
    assert [r.index for r in training_runs(session, [2, 1])] == [1, 2]
    with pytest.raises(DataError, match=r"run 4 has no usable recording \(status failed"):
        training_runs(session, [1, 4])
    with pytest.raises(DataError, match="run 5 is an online run"):
        training_runs(session, [5])
    with pytest.raises(DataError, match=r"there is no run 9 \(runs: \[1, 2, 3, 4, 5\]\)"):
        training_runs(session, [9])


def test_a_session_of_aborted_runs_only_says_how_to_train(tmp_path):
    from bci_app.session.training import TrainingJob, training_runs

    session = _session_with_runs(tmp_path, "aborted", "failed", "complete")
    with pytest.raises(DataError, match=r"no complete calibration run to train on \(run 1 "
                                        r"aborted, run 2 failed; aborted runs are left out "
                                        r"unless chosen\)"):
        TrainingJob(session, [])
    assert [r.index for r in training_runs(session, [1])] == [1]


def test_what_the_run_list_says_of_a_runs_quality_and_trials(tmp_path):
    import json

    from bci_app.session import RunInfo

    vhdr = tmp_path / "sub-01_ses-01_task-x_run-03_eeg.vhdr"
    vhdr.write_text("")
    vhdr.with_suffix(".json").write_text(json.dumps({"BciAppRecording": {"gaps": 2}}))
    (tmp_path / "sub-01_ses-01_task-x_run-03_events.tsv").write_text(
        "onset\tduration\ttrial_type\n0\t2\trest\n2\t3\tleft_hand\n5\t1\tbaseline\n"
        "6\t3\tright_hand\n9\t3\tleft_hand\n")
    run = RunInfo(3, "online", "p", str(tmp_path), bids_path=str(vhdr), n_trials=6,
                  classes=["left_hand", "right_hand"],
                  summary={"windows": 200, "artifacts": 50})
    assert run.recorded_trials == 3
    assert run.quality == "2 gap(s) in the EEG; 25 % windows without decision (bad signal)"
    bare = RunInfo(4, "calibration", "p", str(tmp_path))
    assert bare.recorded_trials is None and bare.quality is None
    assert RunInfo.from_sidecar(3, "x", vhdr, {}).session == "01"
