"""Rule strings: the six operators at their boundaries, and what counts as a number."""

from __future__ import annotations

import pytest

from dvclab.gate.rules import parse_rule


@pytest.mark.parametrize(
    ("text", "holds_at_3", "holds_below", "holds_above"),
    [
        ("m < 3", False, True, False),
        ("m <= 3", True, True, False),
        ("m > 3", False, False, True),
        ("m >= 3", True, False, True),
        ("m == 3", True, False, False),
        ("m != 3", False, True, True),
    ],
)
def test_operators_at_the_boundary(text, holds_at_3, holds_below, holds_above):
    rule = parse_rule(text)
    assert (rule.holds(3.0), rule.holds(2.999), rule.holds(3.001)) == (holds_at_3, holds_below, holds_above)


@pytest.mark.parametrize(
    ("text", "metric", "threshold"),
    [
        ("p95_ms<300", "p95_ms", 300.0),
        ("  overdue_rate.ci_high   <   0.03 ", "overdue_rate.ci_high", 0.03),
        ("index_766.timeliness >= 1.5e1", "index_766.timeliness", 15.0),
        ("delta > -.5", "delta", -0.5),
    ],
)
def test_well_formed_rules(text, metric, threshold):
    rule = parse_rule(text)
    assert (rule.metric, rule.threshold) == (metric, threshold)


@pytest.mark.parametrize(
    "text", ["p95_ms <> 3", "p95_ms < ", "< 3", "p95_ms = 3", "p95_ms < 3ms", "p95_ms < nan", "3 < p95_ms"]
)
def test_malformed_rules(text):
    with pytest.raises(ValueError, match="is not '<metric> <op> <number>'"):
        parse_rule(text)
