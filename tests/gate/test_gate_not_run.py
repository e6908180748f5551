"""A security check that did not run is neither a violation nor a pass: the gate counts it as not_run,
so `violations == 0` alone does not pass a run whose checks never ran, and `passes >= N` catches it."""

from __future__ import annotations

from gate_builders import write_load_run

from dvclab.gate.metrics import SECURITY_METRICS, direction
from dvclab.gate.results import read_load_run

CHECKS = [
    {"id": "C01", "name": "limiter is global", "invariant": "2xx <= L", "observed": "60", "verdict": "pass"},
    {"id": "C16", "name": "callback idempotency", "invariant": "1 PAID", "observed": "2", "verdict": "fail"},
    {
        "id": "C13",
        "name": "BOLA",
        "invariant": "0 2xx on foreign objects",
        "observed": None,
        "verdict": "not run",
        "reason": "the run ended before the attacker started (security.start_after: 3 s)",
    },
]


def test_not_run_is_counted_apart_from_violations_and_passes(tmp_path):
    run = read_load_run(write_load_run(tmp_path / "smoke-1", checks=CHECKS))
    assert run.security_metrics() == {"violations": 1.0, "not_run": 1.0, "checks": 3.0, "passes": 1.0}
    assert [c.id for c in run.failed_checks()] == ["C16"]
    assert [c.id for c in run.not_run_checks()] == ["C13"]
    assert "not_run" in SECURITY_METRICS and direction("not_run") > 0  # more checks not run is worse


def test_a_run_whose_checks_did_not_run_fails_passes_and_names_them(tmp_path, thresholds, check):
    not_run = [{**CHECKS[2], "id": cid} for cid in ("C01", "C13")]
    run = write_load_run(tmp_path / "smoke-1", checks=not_run)
    assert check(run, "--thresholds", thresholds("security: ['violations == 0']")) == 0  # no check failed
    assert check(run, "--thresholds", thresholds("security: ['violations == 0', 'passes >= 2']")) == 1
    summary = check.summary.read_text()
    assert "C13 BOLA: not run (the run ended before the attacker started" in summary
    assert "C01 BOLA: not run" in summary
    assert check(run, "--thresholds", thresholds("security: ['not_run == 0']")) == 1


def test_every_check_ran_and_passed(tmp_path, thresholds, check):
    run = write_load_run(tmp_path / "smoke-1", checks=[CHECKS[0]])
    rules = "security: ['violations == 0', 'not_run == 0', 'passes >= 1']"
    assert check(run, "--thresholds", thresholds(rules)) == 0


def test_live_abort_rules_count_not_run_apart_too():
    from dvclab.gate.abort import first_abort
    from dvclab.gate.rules import parse_thresholds

    snapshot = {"security": [{"id": "C13", "verdict": "not run"}, {"id": "C01", "verdict": "pass"}]}
    violations = parse_thresholds({"security": [{"rule": "violations == 0", "abort_on_fail": True}]})
    assert first_abort(violations, [(0, snapshot)]) is None  # a check not run is no violation
    passes = parse_thresholds({"security": [{"rule": "passes >= 2", "abort_on_fail": True}]})
    decision = first_abort(passes, [(0, snapshot)])
    assert decision is not None and decision.observed == 1.0
