# Every target creates .venv when it is missing and is a no-op install when it is current.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.onepipe-installed
UV_VERSION := 0.13.8

.PHONY: demo test test-fast bench lint lock clean venv

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "onepipe needs Python 3.11 or newer; found " + sys.version.split()[0] + " (set PYTHON=python3.11)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/onepipe demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check src components pipelines tests bench
	$(BIN)/ruff format --check src components pipelines tests bench

# Re-resolve the pinned environment after editing pyproject.toml dependencies.
# requirements.lock: dev tools + every extra (what .venv gets). components/requirements.lock:
# the training image, which runs the cluster side (trials, Pachyderm worker, monitor, drift
# job): core + IMAGE_EXTRAS. It is seeded with requirements.lock's pins, which uv keeps as
# preferences, so both files pin the same versions (tests/package/test_locks.py checks).
IMAGE_EXTRAS := cluster pachyderm postgres
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --no-header -o requirements.lock
	cp requirements.lock components/requirements.lock
	$(BIN)/uv pip compile pyproject.toml $(IMAGE_EXTRAS:%=--extra %) --python-version 3.11 --no-header -o components/requirements.lock

clean:
	rm -rf $(VENV) .onepipe .pytest_cache
