# One command sets up and runs each thing; every target makes its own virtualenv.
#   make test    lint + type check + the whole suite on PostgreSQL, then on SQLite
#   make demo    the example project on http://127.0.0.1:8000 (SQLite; DATABASE_URL for PostgreSQL)
#   make matrix  the suite across Python x Django (and without the REST extra)
#   make bench   storage benchmarks against raw psycopg

SHELL := /bin/bash
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $$HOME/.pyenv)
PYTHON ?= $(firstword $(wildcard $(PYENV_ROOT)/versions/3.13*/bin/python) $(shell command -v python3))
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv lint test test-postgres test-sqlite matrix bench demo clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint docs test-postgres test-sqlite

test-postgres: $(STAMP)
	DATABASE_URL="$$(scripts/postgres-url)" $(BIN)/pytest $(PYTEST_ARGS)

test-sqlite: $(STAMP)
	env -u DATABASE_URL $(BIN)/pytest $(PYTEST_ARGS)

matrix:
	scripts/matrix

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	DATABASE_URL="$$(scripts/postgres-url)" $(BIN)/python -m benchmarks.storage $(BENCH_ARGS)

demo: $(STAMP)
	scripts/demo

# The documentation, built strictly (a warning fails) into site/.
.PHONY: docs
docs: $(STAMP)
	scripts/docs

clean:
	rm -rf $(VENV) .venvs .tmp build *.egg-info
