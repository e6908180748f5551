# dvclab: `make demo` and `make test` are all the set-up a fresh machine needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-sim bench-portal system-deps catalog clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	touch $(STAMP)

system-deps:
	bash .ci/system-deps.sh

demo: $(STAMP)
	$(BIN)/dvclab sim run scenarios/sim/nam-dinh-2024.yaml --replications 4

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP) system-deps lint
	$(BIN)/python -m pytest -q

bench: bench-sim bench-portal

bench-sim: $(STAMP)
	$(BIN)/python benchmarks/bench_sim.py

catalog: $(STAMP)
	$(BIN)/python scenarios/catalog/build_catalog.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

bench-portal: $(STAMP)
	$(BIN)/python benchmarks/bench_portal.py
