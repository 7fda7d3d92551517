"""`make wheel-check`: bci-app as a user installs it, outside the source tree.

1. Build the wheel from a copy of the source tree.
2. Install it in a new virtual environment with the locked versions, first without the GUI
   (a Dask worker or a server): `bci-app models` works, `bci-app gui` says how to add Qt.
3. Add the `gui` extra and run, from an empty folder: `bci-app models`,
   `bci-app session --protocol left_right_hand --subject 01 --session 01 --simulate`
   (time-scaled), `bci-app gui --autopilot` (offscreen) and `python -m bci_app --version`.

Prints one JSON summary; exits 0 when every step did what it should, 1 otherwise.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bci_app.resources import DEFAULT_MODEL  # the source tree's default model

LOCK = ROOT / "requirements" / "lock.txt"
SKIP = shutil.ignore_patterns(".git", ".venv*", "results", "build", "dist", "*.egg-info",
                              "__pycache__", ".pytest_cache", "artifacts", "recordings")


def main():
    work = Path(tempfile.mkdtemp(prefix="bci-app-wheel-"))
    steps = []

    def step(name, args, cwd=None, env=None, expect=0, timeout=1800, contains=()):
        start = time.monotonic()
        run = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                             text=True, timeout=timeout)
        ok = run.returncode == expect and all(c in run.stdout + run.stderr for c in contains)
        steps.append({"step": name, "ok": ok, "exit": run.returncode,
                      "seconds": round(time.monotonic() - start, 1)})
        if not ok:
            print(f"--- {name}: exit {run.returncode} (expected {expect}); "
                  f"wanted {list(contains)}\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}",
                  file=sys.stderr)
        return run

    src = work / "src"
    shutil.copytree(ROOT, src, ignore=SKIP)
    step("build the wheel", [sys.executable, "-m", "pip", "wheel", "--no-deps",
                             "--no-build-isolation", "-q", src, "-w", work / "dist"])
    wheels = list((work / "dist").glob("bci_app-*.whl"))
    if wheels:
        venv = work / "venv"
        bin_ = venv / "bin"
        pip = [bin_ / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check",
               "-c", LOCK]
        step("new virtual environment", [sys.executable, "-m", "venv", venv])
        step("install the wheel without the GUI", [*pip, wheels[0]])
        elsewhere = work / "elsewhere"
        elsewhere.mkdir()
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env.update(BCI_APP_HOME=str(work / "home"), QT_QPA_PLATFORM="offscreen",
                   MPLBACKEND="Agg")
        step("headless: bci-app models", [bin_ / "bci-app", "models"], elsewhere, env,
             contains=[f"{DEFAULT_MODEL}.yml", "_builtin"])
        step("headless: bci-app gui says how to add Qt", [bin_ / "bci-app", "gui"], elsewhere,
             env, expect=1, contains=['pip install "bci-app[gui]"'])
        step("install the gui extra", [*pip, f"{wheels[0]}[gui]"])
        step("python -m bci_app --version", [bin_ / "python", "-m", "bci_app", "--version"],
             elsewhere, env, contains=["bci-app "])
        step("bci-app models", [bin_ / "bci-app", "models"], elsewhere, env,
             contains=[f"{DEFAULT_MODEL}.yml", "ACM+MDM", "FUCONE", "_builtin"])
        step("bci-app session (simulated)",
             [bin_ / "bci-app", "session", "--protocol", "left_right_hand", "--subject", "01",
              "--session", "01", "--simulate", "--time-scale", "0.1", "--root", "rec"],
             elsewhere, env, contains=["complete", "_eeg.vhdr"])
        step("bci-app gui --autopilot",
             [bin_ / "bci-app", "gui", "--autopilot", "--root", "rec-gui"], elsewhere, env,
             contains=["report"])
        vhdr = sorted((elsewhere / "rec").rglob("*_eeg.vhdr"))
        reports = sorted((elsewhere / "rec-gui").rglob("report*.html"))
        steps.append({"step": "session and autopilot files written", "ok": bool(vhdr and reports),
                      "files": [str(p.relative_to(elsewhere)) for p in vhdr + reports]})
    ok = bool(wheels) and all(s["ok"] for s in steps)
    print(json.dumps({"ok": ok, "work": str(work), "steps": steps}, indent=1))
    if ok:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
