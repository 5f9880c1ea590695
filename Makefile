# Nimbus — `make run` to chat, `make test` to check everything.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Portable llama.cpp build flags: ~4 min on 2 cores instead of ~11, and the wheel runs on any AVX2 CPU.
export CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
PIP := $(BIN)/python -m pip --disable-pip-version-check

.PHONY: help install dev run serve ui test lint fmt typecheck pytest bench eval migrate browser clean

help:
	@echo "make run      install everything (incl. the offline model) and start API + UI"
	@echo "make test     install dev tools, then lint, type-check and run the tests"
	@echo "make install | lint | fmt | typecheck | pytest | bench | migrate | clean"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml VERSION | $(BIN)/python
	$(PIP) install --quiet -e '.[local]'
	@touch $@

$(VENV)/.dev: $(VENV)/.installed
	$(PIP) install --quiet -e '.[local,dev]'
	@touch $@

install: $(VENV)/.installed

dev: $(VENV)/.dev

run: install
	$(BIN)/nimbus run

serve: install
	$(BIN)/nimbus serve

ui: install
	$(BIN)/nimbus ui

# Retrieval quality on the bundled PubMedQA set, for the three ranking modes.
eval: install
	for mode in hybrid vector lexical; do $(BIN)/nimbus eval data/eval/pubmedqa --mode $$mode | tail -n 1; done

migrate: install
	$(BIN)/nimbus migrate

# Debian's chromium drives the real-browser test (never a browser downloaded at test time).
browser:
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

lint: dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: dev
	$(BIN)/mypy src

pytest: dev browser
	$(BIN)/pytest --cov --cov-report=term

test: lint typecheck pytest

bench: dev
	$(BIN)/python bench/chat_overhead.py
	$(BIN)/python bench/ingestion.py
	$(BIN)/python bench/retrieval_latency.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage* htmlcov
