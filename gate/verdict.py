"""What a check gives: one outcome per rule × subject, the baseline's regressions, and the verdict.

Shared by the evaluation, the baseline comparison and the reports, which import these types from here
(and never each other) so the gate's modules form no import cycle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from dvclab.gate.metrics import DIRECTION_WORDS, direction
from dvclab.gate.rules import Rule, format_number

Status = Literal["pass", "fail", "skipped"]
NO_RESULTS = "no results"
NO_DATA = "no data"


class GateInputError(ValueError):
    """A rule names a metric the results do not have, or a baseline is unusable: exit 2."""


@dataclass(frozen=True)
class Outcome:
    section: str  # load, security, sim, bench
    subject: str  # what the rule was applied to, e.g. "smoke-1 · GET /api/v1/procedures"
    rule: Rule
    status: Status
    observed: float | None = None
    detail: str = ""
    # The subject without the run's timestamped folder, so CI tools can follow a test across builds:
    # what ran (a load profile, a scenario, a benchmark file's stem) and which part (an endpoint, total).
    name: str = ""
    part: str = ""

    @property
    def message(self) -> str:
        if self.status == "skipped":
            return f"skipped ({self.detail})"
        text = f"observed {format_number(self.observed)}, threshold {self.rule.text}"
        return f"{text}; {self.detail}" if self.detail else text


@dataclass(frozen=True)
class Regression:
    subject: str  # baseline key, e.g. "load/smoke/total"
    metric: str
    baseline: float
    observed: float
    change: float  # relative change observed vs baseline, signed (+0.25 = 25 % higher); inf from 0

    @property
    def message(self) -> str:
        change = "from 0" if math.isinf(self.change) else f"{self.change:+.1%}"
        return (
            f"{self.subject}: {self.metric} {format_number(self.baseline)} → "
            f"{format_number(self.observed)} ({change}, {DIRECTION_WORDS[direction(self.metric)]})"
        )


@dataclass
class Verdict:
    outcomes: list[Outcome] = field(default_factory=list)
    regressions: list[Regression] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    baseline_compared: bool = False

    def count(self, status: Status) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    @property
    def failed(self) -> bool:
        return self.count("fail") > 0 or bool(self.regressions)
