# tinyship: `make demo` and `make test` set everything up first (idempotent, quick when done).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
APT_PKGS := gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib qemu-system-arm chromium
STAMP := $(VENV)/.installed

.PHONY: setup system-deps data demo test test-fast fuzz bench readme clean

setup: system-deps $(STAMP)

# Debian packages, installed with apt-get only when one is missing.
system-deps:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

# The published models and samples (models/zoo.yaml): read from ../shared/data when it exists,
# else downloaded once into $$TINYSHIP_CACHE (default ~/.cache/tinyship). Offline this says so
# in one line and goes on: the tests that need the files are then skipped, each with the reason.
data: setup
	@$(PY) -m toolchain zoo --fetch >/dev/null || echo "make: going on without the shared models; the tests and labs that need them will say so"

demo: setup data
	$(PY) labs/01_hello_world/lab.py

# The whole suite, slow tests included, on both cores.
test: setup data
	$(PY) -m pytest -n 2 -rs --durations=15 tests

test-fast: setup data
	$(PY) -m pytest -n 2 -rs -m "not slow" tests

# Re-run `make demo` and write its transcript into README.md (its figures are tested against a run).
readme: setup
	$(PY) docs/readme_transcript.py

# Hostile models (and devices, tests/fuzz/device.py) against the CLI: docs/fuzz.md. FUZZ_SEED=N for other cases.
FUZZ_CASES ?= 3000
FUZZ_SEED ?= 12
fuzz: setup data
	PYTHONPATH=$(CURDIR) $(PY) -m tests.fuzz.run --cases $(FUZZ_CASES) --seed $(FUZZ_SEED) --jobs 2

bench: setup
	$(PY) -m toolchain bench

clean:
	rm -rf build out .pytest_cache
