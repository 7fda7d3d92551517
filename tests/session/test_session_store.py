"""Subjects and sessions store: participants.tsv/json, session log, run numbers, models."""

import csv
import json

import numpy as np
import pytest

from bci_app.errors import ConfigError, DataError
from bci_app.session.store import RecordingStore


def _rows(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_create_subject_writes_participants(tmp_path):
    store = RecordingStore(tmp_path / "rec")
    subj = store.create_subject("01", age=54, sex="female", hand="R", affected_side="Left",
                                notes="stroke 2023\tright MCA\nfirst visit")
    assert (subj.sex, subj.affected_side, subj.affected_hand) == ("F", "left", "left")
    rows = _rows(store.participants_tsv)
    assert rows == [{"participant_id": "sub-01", "age": "54", "sex": "F", "hand": "R",
                     "affected_side": "left", "notes": "stroke 2023 right MCA first visit"}]
    described = json.loads((store.root / "participants.json").read_text())
    assert set(described) == set(rows[0])
    assert "left" in described["affected_side"]["Levels"]
    assert json.loads((store.root / "dataset_description.json").read_text())["DatasetType"] \
        == "raw"
    store.create_subject("2", affected_side="none")
    assert [s.id for s in store.subjects()] == ["01", "2"]
    assert store.update_subject("01", age=55, notes="").age == 55
    assert store.subject("01").notes == "" and store.subject("01").sex == "F"


def test_subject_errors_name_the_field(tmp_path):
    store = RecordingStore(tmp_path)
    store.create_subject("01")
    with pytest.raises(ConfigError, match="already exists"):
        store.create_subject("01")
    assert store.create_subject("01", exist_ok=True).id == "01"
    with pytest.raises(ConfigError, match="sex 'x'"):
        store.create_subject("02", sex="x")
    with pytest.raises(ConfigError, match="affected_side"):
        store.create_subject("02", affected_side="up")
    with pytest.raises(ConfigError, match="age"):
        store.create_subject("02", age=-3)
    with pytest.raises(ConfigError, match="letters and digits"):
        store.create_subject("0-2")
    with pytest.raises(ConfigError, match="unknown field"):
        store.update_subject("01", weight=70)
    with pytest.raises(DataError, match="no subject '07'.*01"):
        store.open_session("07", "01")
    assert not store.has_subject("02")


def test_session_log_runs_and_models(tmp_path):
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    from bci_app.decoding.persistence import TrainedModel, load_model

    store = RecordingStore(tmp_path)
    store.create_subject("01")
    sess = store.open_session("01", "01")
    assert [e["event"] for e in sess.entries()] == ["session_created"]
    sess.log("note", text="C3 re-gelled")
    with open(sess.log_path, "a", encoding="utf-8") as f:
        f.write('{"time": "2024-01-01", "event": "cut by a cr')  # a crash mid-line
    assert [e["event"] for e in sess.entries()] == ["session_created", "note"]
    assert store.open_session("01").session == "02"  # next session number
    assert store.sessions("01") == ["01", "02"]
    assert sess.next_run() == 1
    xdf = sess.xdf_path("leftRightHand", 3)
    assert xdf.name == "sub-01_ses-01_task-leftRightHand_run-03_eeg.xdf"
    xdf.parent.mkdir(parents=True)
    xdf.write_bytes(b"")
    assert sess.next_run() == 4
    rng = np.random.default_rng(0)
    lda = LinearDiscriminantAnalysis().fit(rng.normal(size=(20, 3)), ["a", "b"] * 10)
    trained = TrainedModel(lda, "LDA", 250.0, ["C3", "C4", "Cz"],
                           trained_on={"runs": ["x_eeg.vhdr"]})
    first, second = sess.save_model(trained), sess.save_model(trained)
    assert first.parent == store.root / "derivatives/bci-app/sub-01/ses-01/models"
    assert first != second and sess.models() == [first, second]
    assert load_model(first).classes == ["a", "b"]
    assert sess.entries()[-1]["event"] == "model_saved"


def test_not_a_folder(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(ConfigError, match="not a folder"):
        RecordingStore(path)
