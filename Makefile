# civmil — the two set-up commands are `make run` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CIVMIL := $(BIN)/civmil
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
CHROMIUM := /usr/bin/chromium
# Seconds since the epoch, to time each phase of `make test`.
NOW = $$(date +%s)
# pip says only what goes wrong (errors), not every index location or newer version it noticed.
PIP_QUIET := --quiet --quiet --disable-pip-version-check

.PHONY: help run test lint types test-sqlite test-postgres bench fuzz conformance clean install dev-install assets messages dist

help:
	@echo "make run   — install, migrate, load the demo mission on first start, serve http://127.0.0.1:8000"
	@echo "make test  — install test dependencies, lint, type-check, run the suite on SQLite and PostgreSQL"
	@echo "make bench — run the benchmarks (the load trial runs on its own: .venv/bin/python -m bench.load, see docs/benchmarks.md)"
	@echo "make dist  — build the wheel and sdist into dist/, with the front-end files and compiled catalogues"
	@echo "make conformance — try the GeoJSON and CSV readers on the conformance corpus (CIVMIL_CONFORMANCE_DIR)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_QUIET) --upgrade pip

# Reinstall only when the project's dependencies change.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install $(PIP_QUIET) -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install $(PIP_QUIET) -e '.[dev]'
	touch $(VENV)/.installed $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed node_modules/.installed
dev-install: $(VENV)/.dev-installed node_modules/.installed

var/static/.collected: $(VENV)/.installed node_modules/.installed $(shell find src/civmil -path '*/static/*' -type f 2>/dev/null)
	$(CIVMIL) collectstatic --noinput -v0
	touch $@

assets: var/static/.collected

# Compiled catalogues are build output; compile them when a .po file changes.
messages: $(VENV)/.installed
	@if find src/civmil -name '*.po' | grep -q .; then cd src/civmil && ../../$(CIVMIL) compilemessages -v0; fi

run: install assets messages
	$(CIVMIL) migrate --noinput -v0
	$(CIVMIL) demo --if-empty
	$(CIVMIL) demo logins
	$(CIVMIL) serve

$(CHROMIUM):
	@echo "== installing Chromium for the browser tests"
	if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi

lint: dev-install
	$(BIN)/ruff check src tests bench

types: dev-install
	$(BIN)/mypy

test-sqlite: dev-install assets messages $(CHROMIUM)
	DATABASE_URL=sqlite:///$(CURDIR)/var/test.sqlite3 $(BIN)/pytest -n 2 -q

# On PostgreSQL the suite runs again, without the browser tests (they run once, on SQLite).
test-postgres: dev-install assets
	@if $(BIN)/python -c "import psycopg,sys; psycopg.connect(sys.argv[1], connect_timeout=3).close()" '$(PG_URL)' 2>/dev/null; then \
	  DATABASE_URL='$(PG_URL)' $(BIN)/pytest -n 2 -q -m 'not browser'; \
	elif [ "$${CI:-}" = "true" ]; then \
	  echo "FAIL: PostgreSQL is not reachable at $(PG_URL) and CI=true requires it."; exit 1; \
	else \
	  echo "SKIPPED: PostgreSQL is not reachable at $(PG_URL); the PostgreSQL run did not happen."; \
	fi

test:
	@t0=$(NOW); $(MAKE) --no-print-directory dev-install assets messages $(CHROMIUM); t1=$(NOW); \
	echo "== install: $$((t1-t0)) s"; \
	$(MAKE) --no-print-directory lint; t2=$(NOW); echo "== lint (ruff): $$((t2-t1)) s"; \
	$(MAKE) --no-print-directory types; t3=$(NOW); echo "== types (mypy): $$((t3-t2)) s"; \
	$(MAKE) --no-print-directory test-sqlite; t4=$(NOW); echo "== tests on SQLite: $$((t4-t3)) s"; \
	$(MAKE) --no-print-directory test-postgres; t5=$(NOW); echo "== tests on PostgreSQL: $$((t5-t4)) s"; \
	echo "== make test total: $$((t5-t0)) s"

# A wheel and an sdist that carry the front-end files (copied from node_modules) and the compiled
# catalogues (setup.py): a server installs the wheel with no Node and no source tree (docs/deploy.md).
dist: dev-install
	rm -f dist/civmil-*.whl dist/civmil-*.tar.gz
	$(BIN)/python -m build --outdir dist .

bench: dev-install
	$(BIN)/python -m bench

# Real files from other projects, kept outside the repository (default ../shared/conformance).
conformance: install
	$(BIN)/python -m bench.conformance

fuzz: dev-install
	SCHEMATHESIS_MAX_EXAMPLES=200 DATABASE_URL=sqlite:///$(CURDIR)/var/fuzz.sqlite3 $(BIN)/pytest -q tests/api -k schemathesis

clean:
	rm -rf var/static var/test.sqlite3 .mypy_cache .ruff_cache
