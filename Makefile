# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint install lock image

# The same hashed lock as the image (requirements/image.lock is its subset without the dev tools),
# so CI and the image resolve alike; okrsync itself goes on top without touching them. Runs again
# only when pyproject.toml or the lock changed.
LOCK := requirements/dev.lock

$(BIN)/okrsync: pyproject.toml $(LOCK)
	test -x $(BIN)/python || { $(PYTHON) -m venv $(VENV) && $(BIN)/pip install --quiet --upgrade pip; }
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(BIN)/okrsync

install: $(BIN)/okrsync

demo: install
	$(BIN)/okrsync demo

test: install
	$(BIN)/ruff check okrsync connectors tests benchmarks
	$(BIN)/ruff format --check --quiet okrsync connectors tests benchmarks
	$(BIN)/mypy --strict okrsync connectors
	$(BIN)/python -m pytest -q -n auto

lint: install
	$(BIN)/ruff check okrsync connectors tests benchmarks
	$(BIN)/ruff format --check okrsync connectors tests benchmarks

# Re-resolve both locks after changing dependencies in pyproject.toml (needs uv: pip install uv).
# Hashes cover every published file of each pinned release, so the locks serve any Linux machine.
UV_COMPILE := uv pip compile pyproject.toml --generate-hashes --python-version 3.11 --python-platform linux --no-header --quiet
lock:
	$(UV_COMPILE) --extra dev -o requirements/dev.lock
	$(UV_COMPILE) --extra postgres --extra apprise -o requirements/image.lock
	uv pip compile requirements/build.in --generate-hashes --python-version 3.11 --no-header --quiet -o requirements/build.lock

# The image, labelled with the version in pyproject.toml and the commit it was built from.
VERSION = $(shell $(PYTHON) -c "import tomllib; print(tomllib.load(open('pyproject.toml', 'rb'))['project']['version'])")
REVISION = $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
image:
	docker build --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) -t okrsync:$(VERSION) .
