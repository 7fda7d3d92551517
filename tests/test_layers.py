"""The layers only point down (docs/architecture.md, "Layers"), function-level imports included,
and no two modules of a package import each other (directly or around a circle).

The contracts are ``[tool.importlinter]`` in pyproject.toml, checked by import-linter's
``lint-imports`` (grimp reads every import statement of a module, those inside functions
too: checked below on a scratch copy with deliberate violations).
"""

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("importlinter", reason="import-linter is not installed")

PYPROJECT = PROJECT_ROOT / "pyproject.toml"
pytestmark = pytest.mark.skipif(not (PROJECT_ROOT / "bci_app").is_dir() or not PYPROJECT.is_file(),
                                reason="needs the source tree (pyproject.toml, bci_app/)")

_LINT = ("import sys; from importlinter.cli import lint_imports; "
         "sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True, no_logo=True))")


def _lint(config, cwd):
    """Run ``lint-imports`` on ``config`` from ``cwd`` (where ``bci_app`` is read)."""
    done = subprocess.run([sys.executable, "-c", _LINT, str(config)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)
    return done.returncode, done.stdout + done.stderr


def test_layers_contract_is_kept():
    code, out = _lint(PYPROJECT, PROJECT_ROOT)
    assert code == 0, out
    assert "layers only point down KEPT" in out, out


def test_function_level_imports_are_counted(tmp_path):
    """Deliberate upward imports inside a function and a method, in a scratch copy."""
    shutil.copytree(PROJECT_ROOT / "bci_app", tmp_path / "bci_app",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PYPROJECT, tmp_path / "pyproject.toml")
    with open(tmp_path / "bci_app" / "processing" / "filters.py", "a") as f:
        f.write(textwrap.dedent("""

            def _upward():
                if True:
                    from ..session import store  # noqa: F401
            """))
    with open(tmp_path / "bci_app" / "errors.py", "a") as f:
        f.write(textwrap.dedent("""

            class _Upward:
                def method(self):
                    import bci_app.evaluation.metrics  # noqa: F401
            """))
    # state -> recovery closes a circle (recovery imports state)
    with open(tmp_path / "bci_app" / "session" / "state.py", "a") as f:
        f.write(textwrap.dedent("""

            def _circle():
                from . import recovery  # noqa: F401
            """))
    code, out = _lint(tmp_path / "pyproject.toml", tmp_path)
    assert code != 0, out
    assert "bci_app.processing.filters -> bci_app.session.store" in out, out
    assert "bci_app.errors -> bci_app.evaluation.metrics" in out, out
    assert "No cycles are allowed in bci_app.session" in out, out


def test_the_lower_layers_import_without_moabb_or_the_layers_above():
    """Training a decoder (online/) and its crops (processing/) stay light: no MOABB, no
    evaluation/, session/ or GUI behind them (module-level imports, as Python runs them)."""
    code = ("import sys, bci_app.online.training, bci_app.processing.calibration; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'moabb' or "
            "m.startswith(('bci_app.evaluation', 'bci_app.session', 'bci_app.gui'))); "
            "print(bad); sys.exit(bool(bad))")
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_no_import_cycles_between_sibling_modules():
    """No two modules of one package import each other (directly or around a circle)."""
    code, out = _lint(PYPROJECT, PROJECT_ROOT)
    assert code == 0, out
    assert "no import cycles between sibling modules KEPT" in out, out
