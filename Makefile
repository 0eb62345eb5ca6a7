# Headwater: `make run` serves on an embedded PostgreSQL, `make test` runs every test.
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help install run test test-fast demo lint bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install the project with its test tools

run: $(STAMP) ## migrate and serve on http://127.0.0.1:8000 (embedded PostgreSQL in ./data)
	$(BIN)/headwater serve

test: $(STAMP) ## the whole suite against real PostgreSQL (embedded unless TEST_DATABASE_URL)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP) ## the suite without the slow and interop markers
	$(BIN)/python -m pytest -q -m "not slow and not interop"

demo: $(STAMP) ## load the sample ingest results into the `demo` collection
	$(BIN)/headwater ingest --collection demo tests/data/sample-ingest.jsonl

lint: $(STAMP) ## ruff, import contracts and the Dockerfile linter
	$(BIN)/ruff check app sitemaps notifier tests bench
	$(BIN)/lint-imports
	$(BIN)/hadolint Dockerfile

bench: $(STAMP) ## the ingest benchmark (the others: .venv/bin/python bench/<name>.py --help)
	$(BIN)/python bench/ingest.py

clean: ## remove the virtual environment (data/ is kept)
	rm -rf $(VENV)
