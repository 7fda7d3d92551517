# Two commands do everything on a fresh machine with Python 3.11+:
#   make demo   - create .venv if missing, install the locked versions, run the main job: the
#                 app on its simulated amplifier, a short autopilot session end to end
#                 (calibration, training, feedback run, report); offscreen without a screen
#   make test   - same set-up, then the whole test suite
# Maintenance:
#   make lock        - re-resolve requirements/lock.txt from pyproject.toml's ranges (network)
#   make test-latest - the suite on the newest versions the ranges allow (shows drift)
#   make wheel-check - build the wheel, install it in a new environment outside the source
#                      tree and run `bci-app models`, a simulated session and the autopilot
PYTHON ?= $(shell for p in python3.11 python3.12 python3.13 python3.14 python3; do \
            command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
            && echo $$p && break; done)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
LOCK := requirements/lock.txt
SHARED_DATA := $(abspath ../shared/data/mne_data)
# pip's full output goes to a log (shown in part on failure), so it is not quietened.
PIP_QUIET := --disable-pip-version-check --progress-bar off
# Runs a pip command with its output in a log; on failure, one clear message instead of
# pip's traceback (the log's last lines, and what to do when the machine is offline).
PIP_RUN = .ci/pip-or-explain

export MOABB_DOWNLOAD_PROVIDER ?= upstream
export MPLBACKEND ?= Agg
# Use the real EEG beside the project when nobody chose another MNE data folder.
ifeq ($(origin MNE_DATA), undefined)
  ifneq ($(wildcard $(SHARED_DATA)),)
    export MNE_DATA := $(SHARED_DATA)
  endif
endif

.PHONY: install demo demo-evaluation test test-latest lock wheel-check bench clean

$(STAMP): pyproject.toml $(LOCK)
	@test -n "$(PYTHON)" || { echo "make: Python 3.11 or newer is needed (python3.11+ on PATH, or PYTHON=/path/to/python3.11)"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	    echo "make: $(PYTHON) does not run or is older than Python 3.11, which bci-app needs (PYTHON=/path/to/python3.11)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || { echo "make: could not create $(VENV) with $(PYTHON) (on Debian/Ubuntu: apt install python3-venv)"; exit 1; }
	@echo "installing the locked versions ($(LOCK)) into $(VENV) ..."
	@$(PIP_RUN) $(VENV)/install.log $(PY) -m pip install $(PIP_QUIET) -c $(LOCK) pip setuptools
	@$(PIP_RUN) $(VENV)/install.log $(PY) -m pip install $(PIP_QUIET) -c $(LOCK) \
	    --no-build-isolation -e ".[gui,test]"
	@touch $(STAMP)

$(LOCK):
	@echo "make: $(LOCK) is missing: restore it (git checkout -- $(LOCK)) or re-create it with 'make lock' (needs the network)"; exit 1

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/bci-app gui --autopilot --root results/demo/recordings \
	    --screenshots results/demo/screenshots

# The default online model (bci_app.resources.DEFAULT_MODEL), read when a recipe runs.
DEFAULT_MODEL = $(shell $(PY) -c 'from bci_app.resources import DEFAULT_MODEL; print(DEFAULT_MODEL)')

demo-evaluation: $(STAMP)
	$(VENV)/bin/bci-app evaluate --dataset SyntheticMI --subjects 1 2 3 \
	    --paradigm left-right --evaluation within-session --out results/demo/offline
	$(VENV)/bin/bci-app pseudo-online --dataset SyntheticMI --subjects 1 \
	    --only $(DEFAULT_MODEL) ACM+MDM TS+LR CSP+LDA --window 2 --step 0.25 --smoothing 2 \
	    --out results/demo/pseudo-online

# Two pytest processes at once: most tests wait on real time (LSL streams, protocols,
# LabRecorder), so the suite takes about half as long; each writes its own log, shown at the
# end, and the target fails if either fails.
TEST_A := tests/gui tests/faults tests/session
test: $(STAMP)
	@QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -p no:cacheprovider --durations=12 $(TEST_A) \
	    > .pytest-a.log 2>&1 & a=$$!; \
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -p no:cacheprovider --durations=12 \
	    $(addprefix --ignore=,$(TEST_A)) tests > .pytest-b.log 2>&1; b=$$?; \
	wait $$a; a=$$?; \
	echo "== $(TEST_A)"; cat .pytest-a.log; echo "== the other tests"; cat .pytest-b.log; \
	rm -f .pytest-a.log .pytest-b.log; \
	test $$a -eq 0 && test $$b -eq 0

# The newest versions pyproject.toml allows, in a separate environment: red here and green
# with `make test` means a dependency release broke something; fix it, then `make lock`.
test-latest:
	@test -x .venv-latest/bin/python || $(PYTHON) -m venv .venv-latest
	@$(PIP_RUN) .venv-latest/install.log .venv-latest/bin/python -m pip install $(PIP_QUIET) \
	    --upgrade --upgrade-strategy eager pip setuptools
	@$(PIP_RUN) .venv-latest/install.log .venv-latest/bin/python -m pip install $(PIP_QUIET) \
	    --upgrade --upgrade-strategy eager --no-build-isolation -e ".[gui,test]"
	.venv-latest/bin/python -m pip list --format=freeze > .venv-latest/versions.txt
	QT_QPA_PLATFORM=offscreen .venv-latest/bin/python -m pytest -q -p no:cacheprovider

# Re-resolve the lock from pyproject.toml's ranges (and requirements/build.in), for every
# platform and Python >= 3.11, with uv. Then run `make test` before committing it.
lock:
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PIP_RUN) $(VENV)/install.log $(PY) -m pip install $(PIP_QUIET) "uv>=0.9,<1"
	$(VENV)/bin/uv pip compile pyproject.toml requirements/build.in \
	    --extra gui --extra cluster --extra test --universal --python-version 3.11 \
	    --quiet -o $(LOCK)

wheel-check: $(STAMP)
	$(PY) .ci/wheel_check.py

bench: $(STAMP)
	$(PY) benchmarks/decode.py
	$(PY) benchmarks/accuracy.py

clean:
	rm -rf $(VENV) .venv-latest results .pytest_cache build dist
