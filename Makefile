# Two commands for a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# The peer benchmark's own environment: the project plus django-hordak (the `peer` extra).
BENCH_VENV ?= .venv-bench
BENCH_INSTALLED := $(BENCH_VENV)/.installed

.PHONY: install run test browser test-serializable lint bench bench-quick bench-smoke bench-console bench-peer load \
	load-quick reference docs docs-serve clean

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

## Lint, type-check, check layer contracts, then run the whole test suite (the browser tests
## need Debian's chromium: `make browser` installs it when missing). The ten slowest tests are
## listed at the end, so the log shows what to look at when the suite nears its 15-minute budget.
test: install lint browser
	$(BIN)/pytest -n 2 --durations=10

## Debian's headless Chromium and its driver for the console's browser tests (tests/browser),
## installed with apt-get when missing (as root, as on CI); CJK fonts for the Chinese pages.
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
				chromium chromium-driver fonts-noto-cjk; \
		else \
			echo "install chromium, chromium-driver and fonts-noto-cjk (as root) for tests/browser"; \
		fi; \
	fi

## The PostgreSQL concurrency and property tests again, every transaction SERIALIZABLE (what
## CockroachDB and YugabyteDB run); prints how many transactions were retried. CI runs it.
SERIALIZABLE := LEDGER_TEST_POSTGRES_ISOLATION=serializable
test-serializable: install
	$(SERIALIZABLE) $(BIN)/pytest -n 2 -q tests -m postgres_only
	$(SERIALIZABLE) $(BIN)/pytest -n 2 -q -k postgresql \
		tests/integration/test_properties.py tests/integration/test_stateful_ledger.py

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

## Every page of the web console on the demo registry: median and worst response time per page
## (target: 200 ms).
bench-console: install
	$(BIN)/python -m bench.console

## Every benchmark for a second or two on tiny data, reports in a temporary directory (CI runs
## it: a benchmark that breaks fails the build).
bench-smoke: install $(BENCH_INSTALLED)
	$(BIN)/python -m bench.smoke --peer-python $(BENCH_VENV)/bin/python

$(BENCH_INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -e '.[peer]'
	touch $(BENCH_INSTALLED)

## This ledger beside django-hordak on the local PostgreSQL (installed in .venv-bench only).
bench-peer: $(BENCH_INSTALLED)
	$(BENCH_VENV)/bin/python -m bench.peer_hordak

## The documentation's reference pages (docs/reference/), generated from the code; a test fails
## when the committed ones differ from what this writes.
reference: install
	$(BIN)/python -m ledger.entrypoints.reference

## The documentation (MkDocs, docs/ and mkdocs.yml), built strictly into site/: a broken link or
## a page missing from the nav fails it. CI runs it.
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

docs-serve: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

clean:
	rm -rf $(VENV) $(BENCH_VENV) site test-artifacts .pytest_cache .mypy_cache .ruff_cache .hypothesis
