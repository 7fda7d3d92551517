"""The official BIDS validator on a recorded session: the raw dataset and its derivatives.

A short session on the simulated amplifier through ``bci-app session``, its EEG settings
given on the command line and the dataset's authors and defaults in the site settings: a
calibration run, a model trained on it (``--train``), an online run decoded by it. The
recordings folder and its derivative dataset ``derivatives/bci-app`` are then checked by
the BIDS validator (the Deno validator, packaged on PyPI as ``bids-validator-deno``, a
``test`` extra): zero errors. Its warnings are printed (``pytest -s``).

The derivative dataset is validated on its own (as a dataset root): in recursive mode
(``-r``), bids-validator-deno 3.0.2 prunes every dotfile below the top-level dataset, the
derivative dataset's own ``.bidsignore`` included, so recursive validation would report the
files ``.bidsignore`` lists.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bci_app.resources import HOME_ENV

pytestmark = pytest.mark.slow  # two runs recorded by LabRecorder (about 45 s)

SITE = """
[dataset]
name = "Test ward sessions"
authors = ["A. Author", "B. Author"]
license = "CC-BY-4.0"
institution = "Test Hospital"
description = "Simulated sessions of the validator test."

[eeg]
line_freq = 50
reference = "site reference"
manufacturer = "Site Maker"
"""
TIMING = """
[timing]
baseline_s = 0.5
fixation_s = 0.2
cue_s = 0.2
imagery_s = 1.5
iti_min_s = 0.3
iti_max_s = 0.3
"""
CALIBRATION = """name = "Short calibration"
run_type = "calibration"
classes = ["left_hand", "right_hand"]
trials_per_class = 2
seed = 3
""" + TIMING
ONLINE = """name = "Short online"
run_type = "online"
classes = ["left_hand", "right_hand"]
trials_per_class = 1
seed = 4
""" + TIMING


def validator():
    """The ``bids-validator-deno`` command (beside this Python first), or None."""
    here = Path(sys.executable).with_name("bids-validator-deno")
    return str(here) if here.is_file() else shutil.which("bids-validator-deno")


def validate(folder):
    """The validator's issues on ``folder`` (a dataset root): (errors, warnings, summary)."""
    done = subprocess.run([validator(), "--format", "json", str(folder)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode in (0, 16), done.stderr  # 16: errors were found
    report = json.loads(done.stdout)
    issues = report["issues"]["issues"]
    by = {"error": [], "warning": []}
    for issue in issues:
        by.setdefault(issue["severity"], []).append(
            (issue["code"], issue.get("subCode"), issue.get("location")))
    return by["error"], by["warning"], report["summary"]


def _cli(*argv):
    from bci_app.cli import build_parser
    from bci_app.cli.session import run

    return run(build_parser().parse_args(["session", *argv]))


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A recordings folder holding one simulated session (calibration, model, online run)."""
    if validator() is None:
        pytest.skip("the BIDS validator is not installed (pip install bids-validator-deno, "
                    "a `test` extra of bci-app)")
    home = tmp_path_factory.mktemp("site-home")
    (home / "site.toml").write_text(SITE, encoding="utf-8")
    (home / "protocols").mkdir()
    (home / "protocols" / "short_cal.toml").write_text(CALIBRATION, encoding="utf-8")
    (home / "protocols" / "short_onl.toml").write_text(ONLINE, encoding="utf-8")
    root = tmp_path_factory.mktemp("validated") / "recordings"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(HOME_ENV, str(home))
        common = ("--subject", "01", "--session", "01", "--simulate", "--skill", "1.0",
                  "--root", str(root))
        assert _cli("--protocol", "short_cal", *common, "--amp-seed", "1",
                    "--line-freq", "60", "--amplifier", "Model X", "--train", "mdm",
                    "--window", "1.0", "--step", "0.1") == 0
        (model,) = (root / "derivatives/bci-app/sub-01/ses-01/models").glob("*.bcimodel")
        assert _cli("--protocol", "short_onl", *common, "--amp-seed", "2",
                    "--model", str(model)) == 0
    return root


def test_raw_dataset_has_no_error(recorded):
    errors, warnings, summary = validate(recorded)
    print(f"\nraw dataset: {len(warnings)} warning(s):")
    for code, sub, where in warnings:
        print(f"  {code} {sub or ''} {where}")
    assert errors == []
    assert summary["subjects"] == ["01"] and summary["sessions"] == ["01"]
    assert sorted(summary["tasks"]) == ["shortCal", "shortOnl"]
    # What the dataset says of itself comes from the site settings, not placeholders.
    described = json.loads((recorded / "dataset_description.json").read_text())
    assert described["Authors"] == ["A. Author", "B. Author"]
    assert (described["Name"], described["License"]) == ("Test ward sessions",
                                                         "CC-BY-4.0")
    readme = (recorded / "README").read_text()
    assert readme.startswith("Test ward sessions\n") and "Test Hospital" in readme
    assert "Simulated sessions of the validator test." in readme


def test_sidecars_say_the_sessions_settings(recorded):
    """The session's settings (command line) win over the amplifier's stream description,
    which wins over the site's defaults; no template electrode positions; no local path."""
    eeg = recorded / "sub-01/ses-01/eeg"
    for task in ("shortCal_run-01", "shortOnl_run-02"):
        sidecar = json.loads((eeg / f"sub-01_ses-01_task-{task}_eeg.json").read_text())
        assert sidecar["PowerLineFrequency"] == 60  # --line-freq 60 (site: 50)
        assert sidecar["ManufacturersModelName"] == "Model X"  # --amplifier (stream: ...)
        assert sidecar["Manufacturer"] == "bci-app"  # the stream's (site: "Site Maker")
        assert sidecar["EEGReference"] == "none"  # the stream's (site: "site reference")
        assert sidecar["InstitutionName"] == "Test Hospital"
        assert sidecar["BciAppProtocol"]["file"].startswith("protocols/short_")
        assert str(recorded.parent) not in json.dumps(sidecar)
    assert json.loads((eeg / "sub-01_ses-01_task-shortOnl_run-02_eeg.json").read_text())[
        "BciAppModel"]["file"] == ("derivatives/bci-app/sub-01/ses-01/models/"
                                   "sub-01_ses-01_mdm.bcimodel")
    assert not list(eeg.glob("*electrodes*")) and not list(eeg.glob("*coordsystem*"))
    settings = json.loads(
        (recorded / "derivatives/bci-app/sub-01/ses-01/session.json").read_text())
    assert (settings["line_freq"], settings["amplifier_model"]) == (60.0, "Model X")


def test_derivatives_have_no_error(recorded, tmp_path):
    deriv = recorded / "derivatives" / "bci-app"
    predictions = deriv / "sub-01/ses-01/eeg/sub-01_ses-01_task-shortOnl_run-02_predictions.tsv"
    assert predictions.is_file() and list((deriv / "sub-01/ses-01/online").iterdir())
    errors, warnings, _ = validate(deriv)
    print(f"\nderivatives: {len(warnings)} warning(s): {warnings}")
    assert errors == []
    described = json.loads((deriv / "dataset_description.json").read_text())
    assert described["DatasetType"] == "derivative"
    assert described["GeneratedBy"][0]["Name"] == "bci-app"
    assert described["Authors"] == ["A. Author", "B. Author"]
    # The .bidsignore is what keeps the app's own files out: without it, they are errors.
    bare = tmp_path / "bci-app"
    shutil.copytree(deriv, bare)
    (bare / ".bidsignore").unlink()
    errors, _, _ = validate(bare)
    flagged = {where for _, _, where in errors}
    assert "/" + predictions.relative_to(deriv).as_posix() in flagged
    assert any(where.startswith("/sub-01/ses-01/models") for where in flagged)


def test_validator_sees_a_broken_dataset(recorded, tmp_path):
    """The validator is not blind: the recordings without the required
    ``dataset_description.json`` fail it."""
    copy = tmp_path / "copy"
    shutil.copytree(recorded, copy, ignore=shutil.ignore_patterns("sourcedata",
                                                                  "derivatives"))
    os.remove(copy / "dataset_description.json")
    errors, _, _ = validate(copy)
    assert errors
