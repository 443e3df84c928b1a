# Two commands set everything up on a fresh machine:
#   make demo   the school portal (examples/school_portal) with the mock IdP, on loopback:
#               seeds the demo region into SQLite, prints the URLs and the demo people
#               (make demo-cli: the terminal walk-through of matching and linking)
#   make test   lint (ruff, mypy --strict) and the whole test suite
# make venv creates .venv alone (`. .venv/bin/activate` then puts sso-bridge and mock-idp on
# the PATH); make dist builds the wheel and the sdist into dist/.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DB := build/demo.db
DEMO_CLI_DB := build/demo-cli.db

.PHONY: venv test lint demo demo-cli dist bench fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy --strict src

# the tests that time CPU or waits run by themselves, then the rest on two workers
test: lint
	$(BIN)/python -m pytest -m alone
	$(BIN)/python -m pytest -m "not alone" -n 2 --dist loadfile --durations=15

# Ctrl-C stops it; ports: make demo DEMO_ARGS="--port 8001 --idp-port 8101"
demo: $(STAMP)
	@$(BIN)/python examples/school_portal/run.py --db $(DEMO_DB) $(DEMO_ARGS)

demo-cli: $(STAMP)
	@bash examples/demo.sh $(DEMO_CLI_DB)

# The wheel and the sdist, built from a clean copy of the sources (tests/test_dist.py
# installs the wheel into a new venv and runs the commands and the README's snippet).
DIST_DIR ?= dist
dist: $(STAMP)
	rm -rf $(DIST_DIR)
	$(BIN)/python -m build --no-isolation --outdir $(DIST_DIR) .

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/pip install --quiet --no-deps python3-saml
	$(BIN)/python bench/protocols.py
	$(BIN)/python bench/broker.py
	$(BIN)/python bench/matching.py
	$(BIN)/python bench/audit.py
	$(BIN)/python bench/audit_append.py
	$(BIN)/python bench/load.py

# make fuzz: the long fuzzing profile of tests/fuzz (make test runs its quick profile), about
# 1,220,000 generated inputs: mutated signed SAML responses and logouts from the mock IdP,
# signed ID tokens with odd claims and headers, JSON bodies, identity mapping, the CSV
# importer and the normalisers; and what input costs: SAML, OIDC and ESIA input shaped to
# take time at the size limits (test_fuzz_cost_*.py). Two pytest processes, one per core, on
# disjoint targets; 25 to 30 minutes on 2 cores (from the inputs per second each target
# reached in a medium run); each target also has a time budget, so a target that turns slow
# cannot stretch it past about 70 minutes. Every input of unauthenticated origin is held to
# a CPU budget (SSO_BRIDGE_FUZZ_CPU_BUDGET_MS, 20 ms). Counters and reproducers of failures
# and of the slowest inputs go to build/fuzz/, and a table of inputs, outcomes and the slowest
# input per target is printed at the end; the run fails on a failure or a slow input.
# FUZZ_PROFILE=medium runs a twentieth of it (about 61,000 inputs, about 3 minutes).
FUZZ_PROFILE ?= long
FUZZ_OUT := build/fuzz
FUZZ_A := tests/fuzz/test_fuzz_saml.py tests/fuzz/test_fuzz_saml_logout.py \
	tests/fuzz/test_fuzz_cost_saml.py tests/fuzz/test_fuzz_cost_oidc.py
FUZZ_B := tests/fuzz/test_fuzz_oidc.py tests/fuzz/test_fuzz_json.py \
	tests/fuzz/test_fuzz_normalize.py tests/fuzz/test_fuzz_import.py \
	tests/fuzz/test_fuzz_sessions.py tests/fuzz/test_fuzz_cost_esia.py
FUZZ_ENV := SSO_BRIDGE_FUZZ=$(FUZZ_PROFILE) SSO_BRIDGE_FUZZ_OUT=$(FUZZ_OUT)

fuzz: $(STAMP)
	rm -rf $(FUZZ_OUT) && mkdir -p $(FUZZ_OUT)
	@echo "fuzzing ($(FUZZ_PROFILE)); progress in $(FUZZ_OUT)/shard-a.log and shard-b.log"
	@$(FUZZ_ENV) $(BIN)/python -m pytest -q -p no:cacheprovider $(FUZZ_A) > $(FUZZ_OUT)/shard-a.log 2>&1 & a=$$!; \
	$(FUZZ_ENV) $(BIN)/python -m pytest -q -p no:cacheprovider $(FUZZ_B) > $(FUZZ_OUT)/shard-b.log 2>&1 & b=$$!; \
	wait $$a; ra=$$?; wait $$b; rb=$$?; \
	tail -n 2 $(FUZZ_OUT)/shard-a.log $(FUZZ_OUT)/shard-b.log; \
	$(BIN)/python tests/fuzz/summary.py $(FUZZ_OUT); rs=$$?; \
	test $$ra -eq 0 && test $$rb -eq 0 && test $$rs -eq 0

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis
