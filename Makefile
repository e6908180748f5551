# dvclab: `make demo` and `make test` are all the set-up a fresh machine needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-sim bench-portal system-deps catalog clean sim-baseline

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

# The committed baseline of tests/sim/test_regression.py; regenerate only when a model change is intended.
sim-baseline: $(STAMP)
	rm -rf results/ci/sim-baseline
	$(BIN)/dvclab sim run scenarios/sim/nam-dinh-2024.yaml --replications 2 --horizon-days 7 --seed 2024 \
		--jobs 2 --out results/ci/sim-baseline
	printf 'sim:\n  nam-dinh-2024:\n    - "dossiers > 0"\n' > results/ci/sim-baseline/thresholds.yaml
	$(BIN)/dvclab check results/ci/sim-baseline --thresholds results/ci/sim-baseline/thresholds.yaml \
		--write-baseline results/baselines/sim-nam-dinh-2024-short.json \
		--junit results/ci/sim-baseline/junit.xml --summary results/ci/sim-baseline/summary.md
