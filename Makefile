# SpotiFlow: `make demo` runs the main job on the bundled sample; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
# The peers the tests hold the marts to, beside the project's venv (tests/peers/requirements.txt).
PEERS ?= .venv-peers
PEERS_STAMP := $(PEERS)/.installed-$(shell cat tests/peers/requirements.txt | sha1sum | cut -c1-12)

export DBT_SEND_ANONYMOUS_USAGE_STATS := False
export DBT_PROFILES_DIR := $(CURDIR)
export GX_ANALYTICS_ENABLED := False
# Material for MkDocs announces its successor on every build.
export NO_MKDOCS_2_WARNING := 1

.PHONY: venv peers demo test test-fast lint docs pytest build bench clean system-packages

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

peers: $(PEERS_STAMP)

$(PEERS_STAMP): tests/peers/requirements.txt
	@test -x $(PEERS)/bin/python || $(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PEERS)/bin/python -m pip install --quiet --disable-pip-version-check -r tests/peers/requirements.txt
	$(PEERS)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps recommenders==1.2.1
	@rm -f $(PEERS)/.installed-*
	@touch $@

demo: venv
	$(BIN)/spotiflow demo

build: venv
	$(BIN)/spotiflow build

lint: venv
	$(BIN)/ruff check ingest spotiflow bench tests
	$(BIN)/ruff format --check ingest spotiflow bench tests
	$(BIN)/lint-imports
	SPOTIFLOW_DATA_DIR=$$(mktemp -d) $(BIN)/sqlfluff lint models tests/data

# docs/ as a site (site/); strict: a broken link or a page missing from the nav fails.
docs: venv
	$(BIN)/mkdocs build --strict --quiet

# pytest-xdist: one worker per core, each taking a test file at a time (its module fixtures
# built once), in the order tests/conftest.py sets (the longest first, not xdist's order by
# count of tests); TEST_WORKERS=0 runs the suite in this process.
TEST_WORKERS ?= auto
PYTEST := $(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=20

pytest: venv peers
	$(PYTEST)

test: system-packages lint docs pytest

# The fast lane: lint and every test but the engines' builds on PostgreSQL and Spark.
test-fast: venv peers lint
	$(PYTEST) -m "not engines"

# Debian packages the tests need (chromium, postgresql, Java), installed when missing (root).
system-packages:
	bash .ci/install-system-packages

# Not part of `make test`: generates 1M- and 10M-play populations (minutes), prints a table and
# writes BENCHMARKS.md.
bench: venv
	$(BIN)/python -m bench.run

clean:
	rm -rf target logs data
