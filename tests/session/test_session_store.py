"""The session data model: participants.tsv/json, sessions, session log and settings, runs
and their status, models; files written by earlier versions read back."""

import csv
import json

import numpy as np
import pytest

from bci_app.errors import ConfigError, DataError
from bci_app.session.participants import Subject
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


def test_save_subject_creates_or_changes_only_what_it_is_given(tmp_path):
    store = RecordingStore(tmp_path)
    assert store.save_subject("A1", age=30, affected_side="left").age == 30
    store.update_subject("A1", sex="F")
    saved = store.save_subject("A1", age=31, notes="note 2")  # what a subject form shows
    assert (saved.age, saved.sex, saved.affected_side, saved.notes) == (31, "F", "left",
                                                                        "note 2")
    assert store.subject("A1") == saved
    # A whole Subject replaces every field.
    whole = store.save_subject(Subject("A1", 32))
    assert (whole.sex, whole.affected_side, whole.notes) == ("n/a", "n/a", "")
    with pytest.raises(ConfigError, match="Subject ID 'P 12-x'.*letters and digits"):
        store.save_subject("P 12-x", age=3)
    assert [s.id for s in store.subjects()] == ["A1"]


def test_new_session_numbers_and_refuses_an_existing_label(tmp_path):
    store = RecordingStore(tmp_path)
    store.create_subject("A1")
    assert [store.new_session("A1").label for _ in range(2)] == ["01", "02"]
    assert store.new_session("A1", "pre").label == "pre"
    with pytest.raises(ConfigError, match="Session '01' of subject A1 already exists"):
        store.new_session("A1", "01")
    with pytest.raises(DataError, match="no session '09'"):
        store.open_session("A1", "09", create=False)
    assert store.sessions("A1") == ["01", "02", "pre"]


def _bids_run(session, number, task, sidecar):
    """A converted run as the BIDS conversion leaves it (EEG file, events, sidecar)."""
    base = f"sub-{session.subject}_ses-{session.label}_task-{task}_run-{number:02d}"
    session.eeg_folder.mkdir(parents=True, exist_ok=True)
    (session.eeg_folder / f"{base}_eeg.vhdr").write_text("")
    (session.eeg_folder / f"{base}_events.tsv").write_text("onset\tduration\n")
    (session.eeg_folder / f"{base}_eeg.json").write_text(json.dumps(sidecar))
    return session.eeg_folder / f"{base}_eeg.vhdr"


_CALIBRATION = {"name": "Left vs right", "run_type": "calibration", "trials_per_class": 2,
                "classes": ["left_hand", "right_hand"],
                "markers": {"left_hand": "left", "right_hand": "right"}}


def test_runs_merge_records_and_bids_recordings(tmp_path):
    from bci_app.session.runs import COMPLETE, FAILED, INTERRUPTED, RECORDING, RunInfo

    store = RecordingStore(tmp_path)
    store.create_subject("01")
    sess = store.new_session("01")
    # A run recorded by `bci-app session`: known from its BIDS sidecar alone.
    path = _bids_run(sess, 1, "leftRight", {"BciAppProtocol": _CALIBRATION,
                                            "BciAppRecording": {"status": "complete",
                                                                "xdf": "x.xdf"}})
    # A run the application recorded, then failed to convert: known from its record.
    failed = sess.new_run("online", "Online", seed=4, task="leftRightOnline", n_trials=6)
    assert (failed.index, failed.status) == (2, RECORDING)
    failed.status, failed.error = FAILED, "conversion failed"
    sess.save_run(failed)
    # A run whose record still says "recording" (the application died) and which the
    # recovery converted: the recording's status wins.
    crashed = sess.new_run("calibration", "Left vs right", task="leftRight")
    assert crashed.index == 3  # after the record of run 2, which has no file
    sess.save_run(crashed)
    _bids_run(sess, 3, "leftRight", {"BciAppProtocol": _CALIBRATION,
                                     "BciAppRecording": {"status": "interrupted"}})
    runs = sess.runs
    assert all(isinstance(r, RunInfo) for r in runs)
    assert [(r.index, r.run_type, r.status) for r in runs] == [
        (1, "calibration", COMPLETE), (2, "online", FAILED), (3, "calibration", INTERRUPTED)]
    first = runs[0]
    assert (first.bids_path, first.n_trials, first.class_of_marker) == (
        str(path), 4, {"left": "left_hand", "right": "right_hand"})
    assert runs[2].bids_path.endswith("run-03_eeg.vhdr")
    assert [r.index for r in sess.runs_of_type("calibration")] == [1, 3]
    assert sess.runs_of_type("online") == []
    assert sess.next_run() == 4
    assert sess.online_log_dir(failed) == sess.online_log_dir(2) == \
        sess.derivatives / "online" / "run-02"


def test_settings_are_saved_with_the_session(tmp_path):
    store = RecordingStore(tmp_path)
    store.create_subject("01")
    sess = store.new_session("01")
    created = sess.entries()[0]["time"]
    assert sess.meta == {"label": "01", "created": created, "stream": None, "montage": None,
                         "bad_channels": []}
    sess.update(stream="EEG", bad_channels=["Fz"])
    again = store.open_session("01", "01", create=False)
    assert again.meta["stream"] == "EEG" and again.meta["bad_channels"] == ["Fz"]
    assert again.meta["created"] == created
    assert json.loads((sess.derivatives / "session.json").read_text())["stream"] == "EEG"


def test_files_written_by_the_previous_gui_model_read_back(tmp_path):
    """A recordings folder as the GUI's own session model (gui/services.py) left it: its
    settings file, its run records (status "finished", seconds in timestamps), its log."""
    from bci_app.session.runs import COMPLETE, load_run_recording

    root = tmp_path / "recordings"
    root.mkdir()
    (root / "participants.tsv").write_text(
        "participant_id\tage\tsex\thand\taffected_side\tnotes\n"
        "sub-P012\t64\tn/a\tn/a\tnone\tischaemic stroke\n", encoding="utf-8")
    source = root / "sourcedata" / "sub-P012" / "ses-01"
    source.mkdir(parents=True)
    (source / "sub-P012_ses-01_log.jsonl").write_text(
        '{"time": "2024-03-05T10:12:00.123+01:00", "event": "session_created", '
        '"subject": "P012", "session": "01", "lsl_time": 12.5}\n'
        '{"time": "2024-03-05T10:20:01.500+01:00", "event": "run_saved", "run": 1, '
        '"status": "finished", "bids": null, "error": null}\n', encoding="utf-8")
    derived = root / "derivatives" / "bci-app" / "sub-P012" / "ses-01"
    (derived / "runs").mkdir(parents=True)
    (derived / "session.json").write_text(json.dumps({
        "label": "01", "created": "2024-03-05T10:12:00+01:00", "stream": "Simulated amplifier",
        "montage": "Sensorimotor, 22 channels", "bad_channels": ["Fz"],
        "model": "/x/sub-P012_ses-01_MDM.bcimodel",
        "training": {"scores": [], "runs": [1], "models": {}}}, indent=2) + "\n")
    eeg = root / "sub-P012" / "ses-01" / "eeg"
    (derived / "runs" / "run-01.json").write_text(json.dumps({
        "index": 1, "run_type": "calibration", "protocol": "Left vs right hand (calibration)",
        "folder": str(eeg), "seed": 7, "status": "finished",
        "started": "2024-03-05T10:15:00+01:00", "first_sample_time": 1234.5, "n_trials": 4,
        "model": None, "classes": ["left_hand", "right_hand"],
        "class_of_marker": {"left_hand": "left_hand"}, "summary": {}, "task": "leftRightHand",
        "bids_path": str(eeg / "sub-P012_ses-01_task-leftRightHand_run-01_eeg.vhdr"),
        "xdf_path": "x.xdf", "log_dir": None, "error": None,
        "a_field_of_a_later_version": 1}, indent=2) + "\n")

    store = RecordingStore(root)
    assert store.subject("P012").affected_side == "none"
    sess = store.open_session("P012", "01", create=False)
    assert sess.participant.notes == "ischaemic stroke"
    assert sess.meta["bad_channels"] == ["Fz"] and sess.meta["model"].endswith(".bcimodel")
    assert sess.meta["created"] == "2024-03-05T10:12:00+01:00"
    assert [e["status"] for e in sess.entries() if e["event"] == "run_saved"] == ["finished"]
    (run,) = sess.runs
    assert (run.index, run.status, run.seed, run.started) == (
        1, COMPLETE, 7, "2024-03-05T10:15:00+01:00")
    assert run.usable and sess.next_run() == 2
    with pytest.raises(DataError, match="no such recording"):
        load_run_recording(run)  # the record names a file that is not there
    # Saved again, a record holds the current status name.
    sess.save_run(run)
    assert json.loads((derived / "runs" / "run-01.json").read_text())["status"] == "complete"
    # New subjects and sessions go on beside the old ones.
    assert store.new_session("P012").label == "02"


def test_a_damaged_record_is_named(tmp_path):
    store = RecordingStore(tmp_path)
    store.create_subject("01")
    sess = store.new_session("01")
    sess.runs_dir.mkdir(parents=True)
    (sess.runs_dir / "run-01.json").write_text('{"index": 1, "run_ty')
    with pytest.raises(DataError, match="run-01.json: cannot read"):
        sess.runs  # noqa: B018


def test_the_log_never_stops_a_session(tmp_path, caplog):
    store = RecordingStore(tmp_path)
    store.create_subject("01")
    sess = store.new_session("01")
    sess.log_path.unlink()
    sess.log_path.mkdir()  # the log cannot be written
    with caplog.at_level("WARNING", logger="bci_app"):
        assert sess.log("note", text="x") is None
    assert "entry" in caplog.text and "not written" in caplog.text


def test_stores_of_one_folder_share_their_lock(tmp_path):
    first, second = RecordingStore(tmp_path / "a"), RecordingStore(tmp_path / "a")
    assert first.lock is second.lock
    assert RecordingStore(tmp_path / "b").lock is not first.lock


def test_model_names_get_the_session_prefix_once(tmp_path):
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    from bci_app.decoding.persistence import TrainedModel

    store = RecordingStore(tmp_path)
    store.create_subject("01")
    sess = store.new_session("01")
    rng = np.random.default_rng(0)
    lda = LinearDiscriminantAnalysis().fit(rng.normal(size=(20, 3)), ["a", "b"] * 10)
    trained = TrainedModel(lda, "CSP+LDA", 250.0, ["C3", "C4", "Cz"], trained_on={})
    assert sess.save_model(trained, "MDM").name == "sub-01_ses-01_MDM.bcimodel"
    assert sess.save_model(trained, "sub-01_ses-01_mdm").name == "sub-01_ses-01_mdm.bcimodel"
    assert sess.save_model(trained).name == "sub-01_ses-01_CSP-LDA.bcimodel"


def test_eeg_settings_are_checked_saved_and_logged(tmp_path):
    store = RecordingStore(tmp_path)
    store.create_subject("01")
    sess = store.new_session("01")
    assert sess.eeg_settings == {"line_freq": None, "eeg_reference": None,
                                 "amplifier_manufacturer": None, "amplifier_model": None}
    sess.set_eeg_settings(line_freq="60 Hz", eeg_reference=" FCz ", amplifier_model="")
    again = store.open_session("01", "01", create=False)
    assert again.eeg_settings == {"line_freq": 60.0, "eeg_reference": "FCz",
                                  "amplifier_manufacturer": None, "amplifier_model": None}
    assert again.entries()[-1]["event"] == "eeg_settings"
    with pytest.raises(ConfigError, match=r"line frequency \(Hz\) 55: .* 50 or 60"):
        sess.set_eeg_settings(line_freq=55, eeg_reference="Cz")
    with pytest.raises(ConfigError, match="unknown EEG setting.*'notch'"):
        sess.set_eeg_settings(notch=50)
    assert store.open_session("01", "01").eeg_settings["eeg_reference"] == "FCz"  # kept


def test_eeg_description_session_then_stream_then_site():
    from bci_app.session.site import resolve_eeg

    stream = {"manufacturer": "Maker S", "model": "n/a", "reference": "Cz"}
    site = {"line_freq": 50.0, "eeg_reference": "FCz", "amplifier_manufacturer": "Maker T",
            "amplifier_model": "Model T"}
    assert resolve_eeg({"line_freq": 60.0, "amplifier_manufacturer": None}, stream, site) \
        == {"line_freq": 60.0, "eeg_reference": "Cz", "amplifier_manufacturer": "Maker S",
            "amplifier_model": "Model T"}
    # Nothing known: unknown, not an invented 50 Hz.
    assert resolve_eeg(None, {"model": "n/a"}, None) == {
        "line_freq": None, "eeg_reference": "n/a", "amplifier_manufacturer": "n/a",
        "amplifier_model": "n/a"}


def test_site_settings_name_the_dataset_instead_of_placeholders(tmp_path, monkeypatch):
    from bci_app.resources import HOME_ENV

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv(HOME_ENV, str(home))
    root = tmp_path / "rec"
    root.mkdir()
    # A folder as mne-bids leaves it when told nothing: placeholders, references only.
    (root / "dataset_description.json").write_text(json.dumps({
        "Name": "[Unspecified]", "BIDSVersion": "1.9.0", "DatasetType": "raw",
        "Authors": ["[Unspecified1]", "[Unspecified2]"], "Funding": ["grant 7"]}))
    (root / "README").write_text("References\n----------\nAppelhoff, S. (2019) ...\n")
    RecordingStore(root)
    described = json.loads((root / "dataset_description.json").read_text())
    assert "Authors" not in described  # none known: none invented
    assert (described["Name"], described["Funding"]) == ("bci-app recordings", ["grant 7"])
    assert (root / "README").read_text().startswith("bci-app recordings\n")
    (home / "site.toml").write_text('[dataset]\nname = "Ward 3"\nauthors = ["A. B", "C. D"]\n'
                                    'license = "CC0"\n[eeg]\nline_freq = 60\n')
    (root / "README").write_text("Our own README.\n")
    RecordingStore(root)
    described = json.loads((root / "dataset_description.json").read_text())
    assert (described["Name"], described["Authors"], described["License"]) == (
        "Ward 3", ["A. B", "C. D"], "CC0")
    assert (root / "README").read_text() == "Our own README.\n"  # a README written by hand
    # The derivative dataset: its own description, README and .bidsignore (lines kept).
    base = root / "derivatives" / "bci-app"
    base.mkdir(parents=True)
    (base / ".bidsignore").write_text("notes/\n")
    store = RecordingStore(root)
    store.create_subject("01")
    store.open_session("01", "01").update(stream="EEG")
    deriv = json.loads((base / "dataset_description.json").read_text())
    assert (deriv["DatasetType"], deriv["Authors"]) == ("derivative", ["A. B", "C. D"])
    assert deriv["GeneratedBy"][0]["Name"] == "bci-app" and (base / "README").is_file()
    ignored = (base / ".bidsignore").read_text().splitlines()
    assert ignored[0] == "notes/" and "sub-*/ses-*/session.json" in ignored
    # A bad site file is named, with the key.
    (home / "site.toml").write_text("[eeg]\nline_freq = 55\n")
    with pytest.raises(ConfigError, match=r"site.toml: \[eeg\] line_freq 55"):
        RecordingStore(root)
    (home / "site.toml").write_text("[dataset]\nauthor = 'A. B'\n")
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['author'\] in \[dataset\]"):
        RecordingStore(root)
    (home / "site.toml").write_text("[dataset\n")
    with pytest.raises(ConfigError, match="cannot read the site settings"):
        RecordingStore(root)
