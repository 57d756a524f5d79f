# Two commands do everything on a fresh machine with Python 3.11+:
#   make run    the dashboard on http://127.0.0.1:8000 with demo data
#   make test   every test (lint, unit, API, browser, shippers)
# Both are idempotent: the venv is rebuilt only when pyproject.toml changes.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_DAYS ?= 14
export PYTHONDONTWRITEBYTECODE := 1

# Every Django app and the project package: what `make lint` type-checks.
ROOMS := clickpost_monitor ingest stats tokens dashboard alerts subscriptions demo

.PHONY: run test install lint db-stop bench browser-deps shipper-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/python manage.py setup_demo --days $(DEMO_DAYS) --host $(HOST) --port $(PORT)
	# The web server and the alert evaluator side by side (clickpost_monitor/run.py); Ctrl-C stops both.
	$(BIN)/python -m clickpost_monitor.run --bind $(HOST):$(PORT)

# Debian's chromium for the browser tests (Playwright drives it; no browser download).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "WARNING: chromium could not be installed; browser tests will be skipped"; }

# The real log shippers of ../shared/shippers for tests/shippers/ (apt, npm, PyPI; idempotent).
# One that cannot be installed is reported here and its tests fail, naming it.
# SHARED_DIR: the shared folder the tests read (error codes, shippers, captures); SHIPPERS_DIR
# its shippers/ alone. A test that needs a missing one fails, naming the variable (tests/shared.py).
SHARED_DIR ?= $(CURDIR)/../shared
SHIPPERS_DIR ?= $(SHARED_DIR)/shippers
export SHARED_DIR SHIPPERS_DIR
shipper-deps:
	@bash tests/shippers/install_deps.sh "$(SHIPPERS_DIR)"

# Style, the rooms' import boundaries (pyproject [tool.importlinter]) and types of every room.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	SECRET_KEY=$${SECRET_KEY:-lint-only-secret-key} $(BIN)/mypy $(ROOMS)

test: install browser-deps shipper-deps lint
	SECRET_KEY=$${SECRET_KEY:-test-only-secret-key} $(BIN)/python -m pytest $(PYTEST_ARGS)

# Benchmarks into docs/PERFORMANCE.md, on bench_* databases of the same PostgreSQL server:
#   make bench                    full run (1 M events ingested; reads at 1 M and 10 M events)
#   BENCH_SCALE=small make bench  smoke run of every step (a few minutes)
# Other knobs (BENCH_ONLY, BENCH_REUSE, ...): bench/run_all.py.
bench: install
	$(BIN)/python -m bench.run_all

db-stop: install
	$(BIN)/python -c "from pathlib import Path; from clickpost_monitor.embedded_db import stop; stop(Path('.local/pgdata'))"

clean: db-stop
	rm -rf $(VENV) .local staticfiles
