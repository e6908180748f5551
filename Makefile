# dvclab: `make demo` and `make test` are all the set-up a fresh machine needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-sim bench-portal bench-harness bench-records loadtest system-deps catalog clean sim-baseline

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	touch $(STAMP)

system-deps:
	bash .ci/system-deps.sh

# The first contact, in about 2 1/2 minutes on an idle 2-core machine, without root, apt, Redis or
# Chromium (README, "The demo"): 90 days of the Nam Định 2024 baseline (3 replications, the fewest whose
# 95% intervals mean something; three processes on two cores finish sooner than two rounds of two), a
# comparison of one what-if against it (its HTML report), 30 s of the smoke load profile against the
# embedded portal (SQLite, 1 worker) driven by that forecast, then the gate on both runs. It ends with the
# report's path and the gate's one-line verdict; it exits 0 whenever the gate gave a verdict (pass or
# fail), 2 on bad input.
DEMO_RUN := --replications 3 --horizon-days 90 --jobs 3
demo: $(STAMP)
	@set -eu; log=$$(mktemp); trap 'rm -f "$$log"' EXIT; \
	echo "demo: needs no root, apt, Redis, PostgreSQL or Chromium: none is used below"; \
	echo "demo 1/4: the Nam Định 2024 baseline, 90 days, 3 replications"; \
	$(BIN)/dvclab sim run scenarios/sim/nam-dinh-2024.yaml $(DEMO_RUN) --no-report | tee "$$log"; \
	sim=$$(sed -n 's/^results: //p' "$$log" | tail -1); \
	[ -n "$$sim" ] || { echo "demo: the simulation did not run (see above)" >&2; exit 2; }; \
	echo "demo 2/4: what if the district land offices had 2 more officers? (paired, common random numbers)"; \
	$(BIN)/dvclab sim compare scenarios/sim/nam-dinh-2024.yaml scenarios/sim/land-office-plus-2.yaml \
		$(DEMO_RUN) | tee "$$log"; \
	report=$$(sed -n 's/^report: //p' "$$log" | tail -1); \
	[ -n "$$report" ] || { echo "demo: the comparison did not run (see above)" >&2; exit 2; }; \
	echo "demo 3/4: 30 s of the smoke load profile against the embedded portal, shaped by the forecast"; \
	load=$$($(BIN)/dvclab load run smoke --from-sim "$$sim" | tail -1) || true; \
	if [ -z "$$load" ] || [ ! -d "$$load" ]; then \
		echo "demo: load part skipped (the load run did not start; see its message above)"; load=""; fi; \
	echo "demo 4/4: the gate (scenarios/thresholds.yaml) on the simulation run$${load:+ and the load run}"; \
	echo "report: $$report"; \
	echo "gate details: results/check/summary.md, results/check/junit.xml"; \
	code=0; $(BIN)/dvclab check "$$sim" $$load --format line || code=$$?; \
	test $$code -le 1

# The smoke profile against the embedded portal, gated on latency too (`make test` runs it gated on
# correctness only: tests/load/correctness-thresholds.yaml).
loadtest: $(STAMP)
	run=$$($(BIN)/dvclab load run smoke | tail -1) && $(BIN)/dvclab check "$$run"

lint: $(STAMP)
	$(BIN)/ruff check .

# Two passes: everything but the `serial` tests spread over TEST_WORKERS processes, then the `serial` tests
# (timing and concurrency under load) alone. The slowest are listed: make test must stay under ~15 min.
TEST_WORKERS ?= 2
test: $(STAMP) system-deps lint
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) -m "not serial" --durations=20
	$(BIN)/python -m pytest -q -m serial --durations=10

bench: bench-sim bench-portal bench-harness bench-records

bench-sim: $(STAMP)
	$(BIN)/python benchmarks/bench_sim.py

catalog: $(STAMP)
	$(BIN)/python scenarios/catalog/build_catalog.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

bench-records: $(STAMP)
	$(BIN)/python benchmarks/bench_records.py

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
