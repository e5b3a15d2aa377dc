# kubediag: `make test` (lint + unit + e2e on the local control plane), `make demo`, `make bench`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: all install lint unit cluster pushgateway e2e test demo bench down docs clean

all: test

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check kubediag tests e2e bench
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q -m 'not e2e' tests

cluster: $(STAMP)
	e2e/cluster up

# a real Pushgateway for the e2e test of `audit --pushgateway` (built from its Go module, only when missing)
pushgateway:
	e2e/build.sh pushgateway >/dev/null

# One pytest run (unit + e2e), so CI prints one summary line.
test: lint cluster pushgateway
	source <(e2e/cluster env) && $(BIN)/pytest -q tests e2e

e2e: cluster pushgateway
	source <(e2e/cluster env) && $(BIN)/pytest -q -m e2e e2e

demo: cluster
	source <(e2e/cluster env) && cd e2e && ../$(BIN)/python demo.py

bench: cluster
	source <(e2e/cluster env) && $(BIN)/python bench/run.py $(BENCH_ARGS)

down:
	e2e/cluster down

docs: $(STAMP)
	$(BIN)/kubediag checks -o markdown > docs/checks.md

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
