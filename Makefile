PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP_PKG := $(VENV)/.installed-pkg
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_PKG): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(STAMP_PKG)

demo: $(STAMP_PKG)
	$(BIN)/python -m provider demo

lint: $(STAMP_DEV)
	$(BIN)/ruff check provider tests bench
	$(BIN)/ruff format --check provider tests bench
	$(BIN)/mypy --strict provider

test: lint
	$(BIN)/python -m pytest -q

bench: $(STAMP_DEV)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV)
