"""The ``bci-app`` command's exit codes and entry points, as a script sees them."""

import os
import subprocess
import sys

import pytest

from bci_app import __version__, cli
from bci_app.cli_common import (
    EXIT_ERROR,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
)
from bci_app.errors import DataError


def test_exit_codes_tell_usage_from_runtime_errors(capsys, tmp_path):
    assert cli.main(["models"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "ACM+MDM" in out and "acm_mdm.yml" in out and "\nfrom " in out
    # Usage: argparse's own errors, and argument checks done by the commands.
    with pytest.raises(SystemExit) as err:
        cli.main(["evaluate", "--paradigm", "nope"])
    assert err.value.code == EXIT_USAGE
    assert cli.main(["simulate", "--auto", "--classes", "tongue", "--duration", "1"]) == EXIT_USAGE
    assert "usage error: --classes/--rest/--imagery: cue cycle: unknown class(es) ['tongue']" \
        in capsys.readouterr().err
    # Runtime: the arguments are fine, the file is not there.
    assert cli.main(["models", "--models", str(tmp_path / "none")]) == EXIT_ERROR
    assert "error: " in capsys.readouterr().err


@pytest.mark.parametrize("raised, code, said", [
    (DataError("subject 3 has no runs"), EXIT_ERROR, "bci-app models: error: subject 3"),
    (KeyboardInterrupt(), EXIT_INTERRUPTED, "bci-app models: interrupted"),
    (ZeroDivisionError("division by zero"), EXIT_INTERNAL,
     "bci-app models: internal error: ZeroDivisionError: division by zero"),
])
def test_failures_become_one_message_and_a_code(monkeypatch, capsys, raised, code, said):
    def fail(args):
        raise raised

    monkeypatch.setitem(cli._COMMANDS, "models", fail)
    assert cli.main(["models"]) == code
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err


def test_python_dash_m_and_help_document_the_exit_codes(tmp_path):
    env = dict(os.environ, COLUMNS="200")
    run = subprocess.run([sys.executable, "-m", "bci_app", "--version"], cwd=tmp_path,
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == f"bci-app {__version__}"
    run = subprocess.run([sys.executable, "-m", "bci_app", "--help"], cwd=tmp_path,
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0
    assert "2 usage error" in run.stdout and "1 error" in run.stdout
    run = subprocess.run([sys.executable, "-m", "bci_app", "evaluate", "--bogus"],
                         cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == EXIT_USAGE and "unrecognized arguments: --bogus" in run.stderr


def test_help_and_the_parsers_stay_light(tmp_path):
    """`bci-app --help` and every command's parser import neither MOABB nor scikit-learn."""
    code = ("import sys\nfrom bci_app.cli import build_parser, main\nbuild_parser()\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('moabb', 'sklearn', 'mne', 'PySide6') if m in sys.modules]\n"
            "print('heavy:', heavy)")
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "heavy: []" in run.stdout


def test_commands_are_modules_with_shared_options(capsys):
    from bci_app.cli import MODULES
    from bci_app.cli._options import PARADIGM_CHOICES, decision_settings
    from bci_app.online import engine
    from bci_app.processing.paradigms import PARADIGMS

    assert all(callable(m.add_parser) and callable(m.run) for m in MODULES)
    assert set(cli._COMMANDS) == {m.NAME for m in MODULES} - {"gui"}
    assert set(PARADIGM_CHOICES) == set(PARADIGMS)
    parser = cli.build_parser()
    # The decision defaults are the engine's: live runs smooth, evaluations do not.
    live = {"smoothing": engine.ONLINE_SMOOTHING, "threshold": engine.DEFAULT_THRESHOLD}
    assert decision_settings(parser.parse_args(["online"])) == live
    assert decision_settings(parser.parse_args(["session"])) == live
    assert decision_settings(parser.parse_args(["pseudo-online"])) == {
        "smoothing": engine.DEFAULT_SMOOTHING, "threshold": engine.DEFAULT_THRESHOLD}
    assert decision_settings(parser.parse_args(["online", "--smoothing", "2"]))[
        "smoothing"] == 2
    with pytest.raises(SystemExit):
        cli.main(["online", "--help"])
    assert f"(default: {engine.ONLINE_SMOOTHING})" in " ".join(capsys.readouterr().out.split())


def test_malformed_maps_are_usage_errors(capsys, tmp_path):
    assert cli.main(["replay", str(tmp_path / "x.fif"), "--event-map", "T1"]) == EXIT_USAGE
    assert "--event-map: 'T1' is not ANNOTATION=CLASS." in capsys.readouterr().err
    assert cli.main(["simulate", "--marker-map", "769:left"]) == EXIT_USAGE
    assert "--marker-map: '769:left' is not MARKER=CLASS." in capsys.readouterr().err
