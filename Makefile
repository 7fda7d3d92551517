# Two commands do everything on a fresh machine with Python 3.11+:
#   make demo   - create .venv if missing, install, run the main job: the app on its
#                 simulated amplifier, a short autopilot session end to end (calibration,
#                 training, feedback run, report); offscreen when there is no screen
#   make test   - same bootstrap, then the whole test suite
PYTHON ?= $(shell for p in python3.11 python3.12 python3.13 python3; do \
            command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
            && echo $$p && break; done)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
SHARED_DATA := $(abspath ../shared/data/mne_data)

export MOABB_DOWNLOAD_PROVIDER ?= upstream
export MPLBACKEND ?= Agg
# Use the real EEG beside the project when nobody chose another MNE data folder.
ifeq ($(origin MNE_DATA), undefined)
  ifneq ($(wildcard $(SHARED_DATA)),)
    export MNE_DATA := $(SHARED_DATA)
  endif
endif

.PHONY: install demo demo-evaluation test bench clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is needed (python3.11+ on PATH)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/bci-app gui --autopilot --root results/demo/recordings \
	    --screenshots results/demo/screenshots

demo-evaluation: $(STAMP)
	$(VENV)/bin/bci-app evaluate --dataset SyntheticMI --subjects 1 2 3 \
	    --paradigm left-right --evaluation within-session --models models/ --out results/demo/offline
	$(VENV)/bin/bci-app pseudo-online --dataset SyntheticMI --subjects 1 \
	    --models models/ --only ACM+MDM TS+LR CSP+LDA --window 2 --step 0.25 --smoothing 2 \
	    --out results/demo/pseudo-online

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(PY) benchmarks/decode.py
	$(PY) benchmarks/accuracy.py

clean:
	rm -rf $(VENV) results .pytest_cache
