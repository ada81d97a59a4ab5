# putdesk: `make demo` sets up and starts the console on the simulated gateway;
# `make test` sets up and runs the whole suite (ruff, mypy, pytest).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install test lint typecheck pytest demo bench sim clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy engine config

pytest: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadgroup -q

test: lint typecheck pytest

demo: $(STAMP)
	$(BIN)/putdesk console --demo

sim: $(STAMP)
	$(BIN)/putdesk sim

bench: $(STAMP)
	$(BIN)/python -m tests.bench.run_all

clean:
	rm -rf $(VENV) build *.egg-info
