"""The live load runner's early stop: ``abort_on_fail`` rules judged on snapshots as a run goes.

``AbortWatch`` is what the runner (``dvclab.load``'s locustfile) feeds snapshots to, to stop a run once an
``abort_on_fail`` rule has kept failing for its ``for`` duration. It derives metrics from a snapshot as
the readers do from a finished run's files, so a live abort and the gate afterwards agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dvclab.gate.metrics import Metrics, endpoint_metrics, security_metrics, total_metrics
from dvclab.gate.rules import EVERY, TOTAL, Rule, Thresholds, format_number


@dataclass(frozen=True)
class Abort:
    """Why a run should stop: which rule failed, on what, and for how long."""

    rule: Rule
    subject: str
    observed: float
    failing_since: float
    at: float

    @property
    def message(self) -> str:
        return (
            f"abort: {self.subject}: {self.rule.text} failed for {self.at - self.failing_since:g}s "
            f"(observed {format_number(self.observed)}, limit {self.rule.for_s:g}s)"
        )


class AbortWatch:
    """Feed it (time, snapshot) as the run goes; it answers with an :class:`Abort` or None.

    A snapshot has the layout of ``summary.json`` so far (``endpoints``, ``total``), optionally with a
    ``security`` list in the layout of ``security.json``. A rule aborts once it has failed in every
    snapshot over at least its ``for`` duration (0: at the first failing snapshot); any snapshot where it
    holds, or has no data yet, restarts the clock.
    """

    def __init__(self, thresholds: Thresholds) -> None:
        self.rules: list[tuple[str, Rule]] = [
            (key, rule) for key, rules in thresholds.load.items() for rule in rules if rule.abort_on_fail
        ]
        self.rules += [("security", rule) for rule in thresholds.security if rule.abort_on_fail]
        self._failing_since: dict[tuple[int, str], float] = {}

    def __bool__(self) -> bool:
        return bool(self.rules)

    @staticmethod
    def _subjects(key: str, snapshot: Mapping[str, Any]) -> list[tuple[str, Metrics]]:
        if key == "security":
            checks = snapshot.get("security") or []
            return [("security", security_metrics(str(check.get("verdict")) for check in checks))]
        if key == TOTAL:
            return [(TOTAL, total_metrics(snapshot["total"]))] if "total" in snapshot else []
        endpoints = snapshot.get("endpoints") or {}
        names = sorted(endpoints) if key == EVERY else [key] if key in endpoints else []
        return [(name, endpoint_metrics(endpoints[name])) for name in names]

    def observe(self, at: float, snapshot: Mapping[str, Any]) -> Abort | None:
        failing_now: set[tuple[int, str]] = set()
        decision: Abort | None = None
        for index, (key, rule) in enumerate(self.rules):
            for subject, metrics in self._subjects(key, snapshot):
                observed = metrics.get(rule.metric)
                if observed is None or rule.holds(observed) or rule.too_few_requests(metrics):
                    continue
                failing_now.add((index, subject))
                since = self._failing_since.setdefault((index, subject), at)
                if decision is None and at - since >= rule.for_s:
                    decision = Abort(rule, subject, float(observed), since, at)
        # A rule that held (or had no data) in this snapshot starts its clock again next time it fails.
        self._failing_since = {k: v for k, v in self._failing_since.items() if k in failing_now}
        return decision


def first_abort(thresholds: Thresholds, snapshots: Iterable[tuple[float, Mapping[str, Any]]]) -> Abort | None:
    """Replay a stream of snapshots; the first abort decision, or None if the run may go on."""
    watch = AbortWatch(thresholds)
    for at, snapshot in snapshots:
        decision = watch.observe(at, snapshot)
        if decision is not None:
            return decision
    return None
