"""The package as a user installs it: a wheel with the shipped models and protocols inside,
working outside the source tree; and the dependency lock that `make` installs.

`make wheel-check` (run by CI) goes further: the wheel in a new virtual environment with its
locked dependencies, running `bci-app models`, a simulated session and the autopilot.
"""

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
SKIP = shutil.ignore_patterns(".git", ".venv*", "results", "build", "dist", "*.egg-info",
                              "__pycache__", ".pytest_cache", "artifacts", "recordings")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """A wheel built from a copy of the source tree (the tree itself is never written)."""
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    shutil.copytree(ROOT, src, ignore=SKIP)
    run = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--quiet", "--disable-pip-version-check", str(src), "-w", str(work / "dist")],
        capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    (path,) = (work / "dist").glob("bci_app-*.whl")
    return path


def test_wheel_carries_the_shipped_models_protocols_and_license(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    models = {p.name for p in (ROOT / "models").glob("*.yml")}
    protocols = {p.name for p in (ROOT / "protocols").glob("*.toml")}
    assert models and protocols
    assert {f"bci_app/_builtin/models/{m}" for m in models} <= names
    assert "bci_app/_builtin/models/reference/acm_ts_svm_fullgrid.yml" in names
    assert {f"bci_app/_builtin/protocols/{p}" for p in protocols} <= names
    assert "bci_app/__main__.py" in names
    assert not any(n.endswith(".lock") for n in names)
    (meta,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    text = zipfile.ZipFile(wheel).read(meta).decode()
    assert "License-Expression: BSD-3-Clause" in text
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    # Qt only with the gui extra: a Dask worker or a server installs without it.
    qt = [line for line in text.splitlines()
          if line.startswith("Requires-Dist:") and "PySide6" in line]
    assert qt and all('extra == "gui"' in line for line in qt)


def test_every_package_of_the_source_tree_is_listed_for_the_wheel():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())
                 ["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(ROOT).parts)
               for p in (ROOT / "bci_app").rglob("__init__.py")}
    missing = sorted(on_disk - listed)
    assert not missing, f"add {missing} to [tool.setuptools] packages in pyproject.toml"


def test_installed_wheel_works_outside_the_source_tree(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    py = venv / "bin" / "python"
    run = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install",
                          "--no-deps", "--no-index", "--quiet", "--disable-pip-version-check",
                          str(wheel)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    # The dependencies: this environment's (a plain path entry: its editable bci-app,
    # activated by a .pth file there, stays out of sight).
    site = Path(subprocess.check_output(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        text=True).strip())
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["BCI_APP_HOME"] = str(tmp_path / "home")
    installed = site / "bci_app"

    def bci_app(*args):
        return subprocess.run([str(venv / "bin" / "bci-app"), *args], cwd=elsewhere, env=env,
                              capture_output=True, text=True, timeout=300)

    run = bci_app("models")
    assert run.returncode == 0, run.stderr
    assert "ACM+MDM" in run.stdout and f"from {installed / '_builtin' / 'models'}" in run.stdout
    code = ("import bci_app, bci_app.protocol as p; print(bci_app.__file__); "
            "print(p.protocol_path('left_right_hand')); print(p.load_protocol("
            "'hand_vs_rest', affected_hand='right').classes)")
    run = subprocess.run([str(py), "-c", code], cwd=elsewhere, env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == str(installed / "__init__.py")
    assert lines[1] == str(installed / "_builtin" / "protocols" / "left_right_hand.toml")
    assert lines[2] == "('right_hand', 'rest')"
    run = subprocess.run([str(py), "-m", "bci_app", "session", "--protocol", "no_such",
                          "--subject", "01", "--root", str(tmp_path / "rec")], cwd=elsewhere,
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1 and "left_right_hand" in run.stderr  # lists what there is
    assert not (tmp_path / "rec").exists()  # nothing created for a bad input


def test_lock_pins_every_dependency_exactly():
    """requirements/lock.txt pins each project dependency (and the build tools) to one
    version inside pyproject.toml's range, for Python 3.11."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(r) for r in project["dependencies"]]
    for extra in ("gui", "cluster", "test"):
        wanted += [Requirement(r) for r in project["optional-dependencies"][extra]]
    wanted += [Requirement(line) for line in
               (ROOT / "requirements" / "build.in").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    env = {"python_version": "3.11", "python_full_version": "3.11.7", "extra": ""}
    pinned = {}
    for line in (ROOT / "requirements" / "lock.txt").read_text().splitlines():
        if not line or line.startswith(("#", " ")):
            continue
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate(env):
            (spec,) = req.specifier
            assert spec.operator == "==", line
            pinned[_norm(req.name)] = spec.version
    for req in wanted:
        if _norm(req.name) == "bci-app" or (req.marker and not req.marker.evaluate(
                {**env, "extra": "gui"})):
            continue
        version = pinned.get(_norm(req.name))
        assert version is not None, f"{req.name} is not in requirements/lock.txt"
        assert req.specifier.contains(version, prereleases=True), (req, version)


def _norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()
