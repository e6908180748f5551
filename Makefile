# dvclab: `make demo` and `make test` are all the set-up a fresh machine needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-sim bench-portal bench-harness loadtest system-deps catalog clean sim-baseline

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	touch $(STAMP)

system-deps:
	bash .ci/system-deps.sh

# The main job on the embedded defaults: a year of the baseline, a comparison of two what-ifs against it
# (its HTML report), then a short load run against the embedded portal driven by that forecast, and the gate.
demo: $(STAMP) system-deps
	$(BIN)/dvclab sim run scenarios/sim/nam-dinh-2024.yaml --replications 4
	$(BIN)/dvclab sim compare scenarios/sim/nam-dinh-2024.yaml scenarios/sim/land-office-plus-2.yaml \
		scenarios/sim/digital-teams.yaml --replications 4 --horizon-days 90
	run=$$($(BIN)/dvclab load run smoke --from-sim "$$(ls -td results/sim/nam-dinh-2024/*/ | head -1)" | tail -1) \
		&& $(BIN)/dvclab check "$$run"

# The smoke profile against the embedded portal, gated on latency too (`make test` runs it gated on
# correctness only: tests/load/correctness-thresholds.yaml).
loadtest: $(STAMP)
	run=$$($(BIN)/dvclab load run smoke | tail -1) && $(BIN)/dvclab check "$$run"

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP) system-deps lint
	$(BIN)/python -m pytest -q

bench: bench-sim bench-portal bench-harness

bench-sim: $(STAMP)
	$(BIN)/python benchmarks/bench_sim.py

catalog: $(STAMP)
	$(BIN)/python scenarios/catalog/build_catalog.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

bench-portal: $(STAMP)
	$(BIN)/python benchmarks/bench_portal.py

bench-harness: $(STAMP)
	$(BIN)/python -m dvclab.load.bench_harness

# The committed baseline of tests/sim/test_regression.py; regenerate only when a model change is intended.
sim-baseline: $(STAMP)
	rm -rf results/ci/sim-baseline
	$(BIN)/dvclab sim run scenarios/sim/nam-dinh-2024.yaml --replications 2 --horizon-days 7 --seed 2024 \
		--jobs 2 --out results/ci/sim-baseline
	printf 'sim:\n  nam-dinh-2024:\n    - "dossiers > 0"\n' > results/ci/sim-baseline/thresholds.yaml
	$(BIN)/dvclab check results/ci/sim-baseline --thresholds results/ci/sim-baseline/thresholds.yaml \
		--write-baseline results/baselines/sim-nam-dinh-2024-short.json \
		--junit results/ci/sim-baseline/junit.xml --summary results/ci/sim-baseline/summary.md
