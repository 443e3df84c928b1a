# Two commands set everything up on a fresh machine:
#   make demo   import the sample region into SQLite and show match decisions
#   make test   lint (ruff, mypy --strict) and the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DB := build/demo.db

.PHONY: test lint demo bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy --strict src

test: lint
	$(BIN)/python -m pytest

demo: $(STAMP)
	@bash examples/demo.sh $(DEMO_DB)

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/pip install --quiet --no-deps python3-saml
	$(BIN)/python bench/protocols.py
	$(BIN)/python bench/matching.py

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache .hypothesis
