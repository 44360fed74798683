# One command sets up and runs each thing; every target makes its own virtualenv.
#   make test    system programs, lint + type check, the whole suite on PostgreSQL, then on SQLite
#   make demo    the example project on http://127.0.0.1:8000 (SQLite; DATABASE_URL for PostgreSQL)
#   make matrix  the suite across Python x Django, and without the REST extra (tox.ini)
#   make bench   storage benchmarks against raw psycopg

SHELL := /bin/bash
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $$HOME/.pyenv)
PYTHON ?= $(firstword $(wildcard $(PYENV_ROOT)/versions/3.13*/bin/python) $(shell command -v python3))
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_VENV ?= .venvs/demo
DEMO_STAMP := $(DEMO_VENV)/.installed
# Browser tests keep a screenshot and a Playwright trace of each failure, one folder per pass
# (pytest-playwright empties its folder when a run starts).
BROWSER_ARGS = --screenshot only-on-failure --tracing retain-on-failure --output artifacts/playwright-$(1)
# make matrix TOX_ENVS=py312-django52,py313-django61: only those environments of tox.ini.
TOX_ENVS ?=

.PHONY: system-deps venv lint test test-postgres test-sqlite matrix bench demo clean

# pip >= 25.1 reads the dependency groups (--group); the venv's own pip may be older.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade 'pip>=25.1'
	$(BIN)/python -m pip install --quiet -e '.[postgres,drf]' --group dev
	touch $(STAMP)

venv: $(STAMP)

system-deps:
	scripts/system-deps

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: system-deps lint docs test-postgres test-sqlite

test-postgres: system-deps $(STAMP)
	DATABASE_URL="$$(scripts/postgres-url)" $(BIN)/pytest $(call BROWSER_ARGS,postgres) $(PYTEST_ARGS)

test-sqlite: system-deps $(STAMP)
	env -u DATABASE_URL $(BIN)/pytest $(call BROWSER_ARGS,sqlite) $(PYTEST_ARGS)

matrix: system-deps $(STAMP)
	TOX="$(BIN)/tox" scripts/matrix $(TOX_ENVS)

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet --group bench
	DATABASE_URL="$$(scripts/postgres-url)" $(BIN)/python -m benchmarks.storage $(BENCH_ARGS)

# The demo's own virtualenv: the app, its extras and the example, no development tools.
$(DEMO_STAMP): pyproject.toml
	test -x $(DEMO_VENV)/bin/python || $(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/python -m pip install --quiet --upgrade 'pip>=25.1'
	$(DEMO_VENV)/bin/python -m pip install --quiet -e '.[postgres,drf]' --group demo
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	VENV=$(DEMO_VENV) scripts/demo

# The documentation, built strictly (a warning fails) into site/.
.PHONY: docs
docs: $(STAMP)
	scripts/docs

clean:
	rm -rf $(VENV) .venvs .tox .tmp build dist *.egg-info
