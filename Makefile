# Two commands for a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# The peer benchmark's own environment: the project plus django-hordak (the `peer` extra).
BENCH_VENV ?= .venv-bench
BENCH_INSTALLED := $(BENCH_VENV)/.installed

.PHONY: install run test lint bench bench-quick bench-peer load load-quick clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall whenever the project's dependencies change.
$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

install: $(INSTALLED)

## Migrate the embedded SQLite database, load the demo registry on first start, and serve the API
## on http://127.0.0.1:8000 (docs at /docs).
run: install
	$(BIN)/emissions-ledger serve --demo-if-empty --host 127.0.0.1 --port 8000

## Lint, type-check, check layer contracts, then run the whole test suite.
test: install lint
	$(BIN)/pytest -n 2

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: install
	$(BIN)/python -m bench.transfers

bench-quick: install
	$(BIN)/python -m bench.transfers --quick

## HTTP load on a real server (loopback): full API vs a bare FastAPI endpoint, 1 and 2 workers,
## SQLite and PostgreSQL; prints a summary and writes bench/results/load-latest.txt.
load: install
	$(BIN)/python -m bench.load

load-quick: install
	$(BIN)/python -m bench.load --quick

$(BENCH_INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -e '.[peer]'
	touch $(BENCH_INSTALLED)

## This ledger beside django-hordak on the local PostgreSQL (installed in .venv-bench only).
bench-peer: $(BENCH_INSTALLED)
	$(BENCH_VENV)/bin/python -m bench.peer_hordak

clean:
	rm -rf $(VENV) $(BENCH_VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
