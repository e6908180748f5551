"""The live runner's early stop: an abort_on_fail rule that keeps failing for its `for` duration."""

from __future__ import annotations

import pytest

from dvclab.gate.abort import AbortWatch, first_abort
from dvclab.gate.rules import parse_duration, parse_thresholds

RULES = parse_thresholds(
    {
        "load": {
            "total": [
                "p95_ms < 300",  # not an abort rule: never stops a run
                {"rule": "fail_ratio < 0.2", "abort_on_fail": True, "for": "10s"},
            ],
            "*": [{"rule": "p99_ms < 2000", "abort_on_fail": True}],
        }
    }
)


def snap(failures: int = 0, p95: float = 100.0, p99: float = 500.0) -> dict:
    endpoint = {"requests": 100, "failures": 0, "rps": 10.0, "p95_ms": p95, "p99_ms": p99}
    total = {"requests": 100, "failures": failures, "offered_rps": 10, "achieved_rps": 10, "p95_ms": p95}
    return {"endpoints": {"GET /a": endpoint}, "total": total}


def test_healthy_run_is_never_aborted():
    assert first_abort(RULES, [(t, snap(p95=900.0)) for t in range(0, 60, 2)]) is None


def test_abort_after_failing_for_the_whole_duration():
    stream = [(0, snap()), (2, snap(failures=50)), (6, snap(failures=50)), (11, snap(failures=50))]
    assert first_abort(RULES, stream[:3]) is None  # failing for 4 s only
    decision = first_abort(RULES, stream + [(12, snap(failures=50))])
    assert decision is not None
    assert decision.rule.text == "fail_ratio < 0.2" and decision.subject == "total"
    assert (decision.failing_since, decision.at, decision.observed) == (2, 12, 0.5)
    assert "failed for 10s" in decision.message


def test_a_passing_snapshot_restarts_the_clock():
    stream = [
        (0, snap(failures=50)),
        (8, snap(failures=50)),
        (9, snap()),
        (10, snap(failures=50)),
        (19, snap(50)),
    ]
    assert first_abort(RULES, stream) is None
    assert first_abort(RULES, stream + [(20, snap(failures=50))]) is not None


def test_rule_without_for_aborts_at_the_first_failure_per_endpoint():
    watch = AbortWatch(RULES)
    assert watch.observe(0, snap()) is None
    decision = watch.observe(1, snap(p99=2500.0))
    assert decision is not None and decision.subject == "GET /a" and decision.rule.metric == "p99_ms"


def test_missing_data_does_not_count_as_failing():
    watch = AbortWatch(RULES)
    assert watch.observe(0, {"endpoints": {}}) is None
    assert watch.observe(30, {"total": {"requests": 0, "failures": 0}}) is None  # no fail_ratio yet


def test_security_abort_on_violations():
    rules = parse_thresholds({"security": [{"rule": "violations == 0", "abort_on_fail": True, "for": "5s"}]})
    fail = {"security": [{"id": "C13", "verdict": "fail"}]}
    assert first_abort(rules, [(0, fail), (4, fail)]) is None
    assert first_abort(rules, [(0, fail), (5, fail)]).subject == "security"
    assert not AbortWatch(parse_thresholds({"load": {"total": ["p95_ms < 3"]}}))  # nothing to watch


@pytest.mark.parametrize(
    ("text", "seconds"), [("10s", 10), ("2m", 120), ("1m30s", 90), ("500ms", 0.5), ("1h", 3600)]
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10", "ten seconds", "10 s", "-5s", "5d"])
def test_bad_durations(text):
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)
