# qt - `make help` lists the targets. Every target creates .venv and installs qt when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
RUNTIME := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help setup run test lint format typecheck bench clean

help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS=":.*## "} {printf "  %-10s %s\n", $$1, $$2}'

$(RUNTIME): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUNTIME)

$(STAMP): pyproject.toml $(RUNTIME)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)  ## create .venv and install qt with its dev tools and the ray/submitit extras

run: $(RUNTIME)  ## the default backtest on the bundled sample data (installs the runtime only)
	$(BIN)/qt run strategy=xmom portfolio=meanvar

test: $(STAMP)  ## the whole test suite (services it needs are checked, see README)
	.ci/ensure-chromium
	$(BIN)/python -m pytest -n 2 -q

lint: $(STAMP)  ## ruff and mypy
	$(BIN)/ruff check qt tests benchmarks hydra_plugins
	$(BIN)/ruff format --check qt tests benchmarks hydra_plugins
	$(BIN)/mypy

format: $(STAMP)  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix qt tests benchmarks hydra_plugins
	$(BIN)/ruff format qt tests benchmarks hydra_plugins

typecheck: $(STAMP)  ## mypy on qt/
	$(BIN)/mypy

bench: $(STAMP)  ## speed and memory benchmarks; figures go to benchmarks/README.md
	$(BIN)/python benchmarks/run.py

clean:  ## remove outputs and caches (keeps .venv)
	rm -rf outputs multirun .pytest_cache .mypy_cache .ruff_cache .hypothesis
