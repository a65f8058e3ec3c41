# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint install

$(BIN)/okrsync: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/okrsync

install: $(BIN)/okrsync

demo: install
	$(BIN)/okrsync demo

test: install
	$(BIN)/ruff check okrsync connectors tests benchmarks
	$(BIN)/ruff format --check --quiet okrsync connectors tests benchmarks
	$(BIN)/mypy --strict okrsync connectors
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check okrsync connectors tests benchmarks
	$(BIN)/ruff format --check okrsync connectors tests benchmarks
