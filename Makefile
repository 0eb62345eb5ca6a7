# Headwater: `make run` serves on an embedded PostgreSQL, `make test` runs every test.
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SERVER := $(VENV)/.installed-server
TOOLS := $(VENV)/.installed-test

.PHONY: help install run test test-fast demo lint bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# the server alone: what `make run` needs
$(SERVER): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $(SERVER)

# the server with the test, lint and interop tools
$(TOOLS): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $(SERVER) $(TOOLS)

install: $(SERVER) ## create .venv and install the server

run: $(SERVER) ## migrate and serve on http://127.0.0.1:8000 (embedded PostgreSQL in ./data)
	$(BIN)/headwater serve

test: $(TOOLS) ## the whole suite against real PostgreSQL (embedded unless TEST_DATABASE_URL)
	$(BIN)/python -m pytest -q

test-fast: $(TOOLS) ## the suite without the slow and interop markers
	$(BIN)/python -m pytest -q -m "not slow and not interop"

demo: $(SERVER) ## load the sample ingest results into the `demo` collection
	$(BIN)/headwater ingest --collection demo tests/data/sample-ingest.jsonl

lint: $(TOOLS) ## ruff, import contracts, the type checker and the Dockerfile linter
	$(BIN)/ruff check app sitemaps notifier tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile

bench: $(TOOLS) ## the ingest benchmark (the others: .venv/bin/python bench/<name>.py --help)
	$(BIN)/python bench/ingest.py

clean: ## remove the virtual environment (data/ is kept)
	rm -rf $(VENV)
