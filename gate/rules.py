"""Threshold rules (``"p95_ms < 300"``) and the ``scenarios/thresholds.yaml`` file that holds them.

The file is validated with pydantic; every error is reported as one line naming the entry, e.g.
``load.*[1]: 'p95_ms <> 3' is not '<metric> <op> <number>'``, which the CLI prints before exiting 2.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dvclab.gate.metrics import ENDPOINT_METRICS, SECURITY_METRICS, TOTAL_METRICS, Metrics, min_samples
from dvclab.hints import did_you_mean, yaml_error

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
SECTIONS = ("load", "security", "sim", "bench")
RULE_KEYS = ("rule", "abort_on_fail", "for", "min_samples", "min_horizon_days")
EVERY = "*"  # every endpoint, every simulation scenario, every benchmark file
TOTAL = "total"  # the load section's aggregate over all endpoints
# Only these sections are watched live by the load runner, so only they may stop a run early.
LIVE_SECTIONS = ("load", "security")

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_RULE = re.compile(rf"^\s*([A-Za-z_][\w.]*|p\(\s*[\d.]+\s*\))\s*(<=|>=|==|!=|<|>)\s*({_NUMBER})\s*$")
# k6 writes percentiles as p(95), p(99.9); they are the latency fields in milliseconds: p95_ms, p999_ms.
_K6_PERCENTILE = re.compile(r"^p\(\s*(\d+(?:\.\d+)?)\s*\)$")
K6_PERCENTILES = {"50": "p50_ms", "90": "p90_ms", "95": "p95_ms", "99": "p99_ms", "99.9": "p999_ms"}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


class ThresholdsError(ValueError):
    """The thresholds file is missing or malformed."""


@dataclass(frozen=True)
class Rule:
    """One threshold: ``metric op threshold``, plus how the live runner should treat a failure."""

    metric: str
    op: str
    threshold: float
    abort_on_fail: bool = False
    for_s: float = 0.0
    # Load rules: the fewest requests an endpoint needs to be judged (default: what the percentile needs).
    min_samples: int | None = None
    # Simulation rules: judged only on runs covering at least this many days (an annual target).
    min_horizon_days: int | None = None

    @property
    def text(self) -> str:
        return f"{self.metric} {self.op} {format_number(self.threshold)}"

    def holds(self, observed: float) -> bool:
        return OPERATORS[self.op](observed, self.threshold)

    def too_few_requests(self, metrics: Metrics) -> str:
        """Why the subject has too few requests for this rule to mean anything, or "" when it has enough:
        the 95th percentile of 8 requests is the slowest of them, one request's noise, not a p95."""
        needed, requests = self.min_samples or min_samples(self.metric), metrics.get("requests")
        if requests is None or requests >= needed or needed == 1:
            return ""
        what = f"min_samples: {needed}" if self.min_samples else f"{self.metric} needs at least {needed}"
        return f"too few requests ({requests:g}; {what})"


def format_number(value: float | None) -> str:
    if value is None:
        return "n/a"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def parse_rule(text: str) -> Rule:
    """``"p95_ms < 300"`` → Rule; raises ValueError with the message users see."""
    match = _RULE.match(text) if isinstance(text, str) else None
    if not match or not math.isfinite(float(match.group(3))):
        raise ValueError(f"{text!r} is not '<metric> <op> <number>' (ops: {' '.join(OPERATORS)})")
    return Rule(metric=canonical_metric(match.group(1)), op=match.group(2), threshold=float(match.group(3)))


def canonical_metric(name: str) -> str:
    """The gate's own name for a k6-style alias (``p(95)`` → ``p95_ms``); any other name unchanged."""
    alias = _K6_PERCENTILE.match(name.replace(" ", ""))
    if alias is None:
        return name
    percentile = alias.group(1).rstrip("0").rstrip(".") if "." in alias.group(1) else alias.group(1)
    if percentile not in K6_PERCENTILES:
        known = ", ".join(f"p({p})" for p in K6_PERCENTILES)
        raise ValueError(f"{name!r}: no such percentile in the results (known: {known})")
    return K6_PERCENTILES[percentile]


def parse_duration(text: str) -> float:
    """``"10s"``, ``"2m"``, ``"1m30s"``, ``"500ms"`` → seconds."""
    if not isinstance(text, str) or not text or _DURATION_PART.sub("", text.strip()):
        raise ValueError(f"for: {text!r} is not a duration like '10s', '2m' or '1m30s'")
    return sum(float(amount) * _SECONDS[unit] for amount, unit in _DURATION_PART.findall(text))


class RuleEntry(BaseModel):
    """A rule as written: a bare string, or ``{rule, abort_on_fail, for, min_samples, min_horizon_days}``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    rule: str
    abort_on_fail: bool = False
    for_: str | None = Field(default=None, alias="for")
    min_samples: int | None = Field(default=None, ge=1)
    min_horizon_days: int | None = Field(default=None, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _bare_string(cls, data: Any) -> Any:
        if isinstance(data, str):
            parse_rule(data)  # so a malformed bare string is reported at the entry, not at `.rule`
            return {"rule": data}
        if not isinstance(data, dict):
            raise ValueError(f"{data!r} is neither a rule string nor {{rule, abort_on_fail, for}}")
        return data

    @field_validator("rule")
    @classmethod
    def _well_formed(cls, value: str) -> str:
        parse_rule(value)
        return value

    @field_validator("for_")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @model_validator(mode="after")
    def _for_needs_abort(self) -> RuleEntry:
        if self.for_ is not None and not self.abort_on_fail:
            raise ValueError("'for' only makes sense with abort_on_fail: true")
        return self

    def to_rule(self) -> Rule:
        parsed = parse_rule(self.rule)
        return Rule(
            metric=parsed.metric,
            op=parsed.op,
            threshold=parsed.threshold,
            abort_on_fail=self.abort_on_fail,
            for_s=parse_duration(self.for_) if self.for_ else 0.0,
            min_samples=self.min_samples,
            min_horizon_days=self.min_horizon_days,
        )


RuleList = list[RuleEntry]


class ThresholdsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    load: dict[str, RuleList] = Field(default_factory=dict)
    security: RuleList = Field(default_factory=list)
    sim: dict[str, RuleList] = Field(default_factory=dict)
    bench: dict[str, RuleList] = Field(default_factory=dict)

    @field_validator("bench", mode="before")
    @classmethod
    def _bench_list(cls, value: Any) -> Any:
        # A bare list means "whichever benchmark file reports the metric".
        return {EVERY: value} if isinstance(value, list) else value


# Which sections a rule option belongs to: anywhere else it would be silently meaningless.
RULE_OPTION_SECTIONS = {"min_samples": ("load",), "min_horizon_days": ("sim",)}


def _check_options(model: ThresholdsFile) -> None:
    lists: list[tuple[tuple[Any, ...], RuleList]] = [(("security",), model.security)]
    for section in ("load", "sim", "bench"):
        lists += [((section, key), entries) for key, entries in getattr(model, section).items()]
    for loc, entries in lists:
        for index, entry in enumerate(entries):
            for option, sections in RULE_OPTION_SECTIONS.items():
                if getattr(entry, option) is not None and loc[0] not in sections:
                    raise ThresholdsError(
                        f"{_path((*loc, index))}: {option} applies only to {', '.join(sections)} rules"
                    )


def _static_checks(model: ThresholdsFile) -> None:
    """Load and security metrics are this gate's own contract, so a typo is caught before any run."""
    _check_options(model)
    for key, entries in model.load.items():
        known, what = (TOTAL_METRICS, "load.total") if key == TOTAL else (ENDPOINT_METRICS, "an endpoint")
        _check_metrics(("load", key), entries, known, what)
    _check_metrics(("security",), model.security, SECURITY_METRICS, "security")
    for section in ("sim", "bench"):
        for key, entries in getattr(model, section).items():
            for index, entry in enumerate(entries):
                if entry.abort_on_fail:
                    raise ThresholdsError(
                        f"{_path((section, key, index))}: abort_on_fail applies only to the live sections "
                        f"({', '.join(LIVE_SECTIONS)})"
                    )


def _check_metrics(loc: tuple[Any, ...], entries: RuleList, known: frozenset[str], what: str) -> None:
    for index, entry in enumerate(entries):
        metric = parse_rule(entry.rule).metric
        if metric not in known:
            where, names = _path((*loc, index)), ", ".join(sorted(known))
            hint = did_you_mean(metric, known)
            raise ThresholdsError(f"{where}: unknown metric {metric!r} for {what}{hint} (known: {names})")


@dataclass(frozen=True)
class Thresholds:
    """The parsed file: for each section, the rules per subject key (endpoint, scenario, bench file)."""

    load: dict[str, list[Rule]]
    security: list[Rule]
    sim: dict[str, list[Rule]]
    bench: dict[str, list[Rule]]
    source: Path | None = None

    def count(self) -> int:
        return sum(
            len(rules) for section in (self.load, self.sim, self.bench) for rules in section.values()
        ) + len(self.security)


def _path(loc: tuple[Any, ...]) -> str:
    """('load', '*', 1) → ``load.*[1]``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _describe(error: dict[str, Any], raw: Any) -> str:
    loc = tuple(error["loc"])
    # `bench` written as a list was wrapped as {"*": list}; point at what the user wrote.
    if loc[:2] == ("bench", EVERY) and isinstance(raw, dict) and isinstance(raw.get("bench"), list):
        loc = ("bench", *loc[2:])
    if error["type"] == "extra_forbidden":
        allowed = SECTIONS if len(loc) == 1 else RULE_KEYS
        hint = did_you_mean(str(loc[-1]), allowed)
        return f"{_path(loc)}: unknown key {loc[-1]!r}{hint} (allowed: {', '.join(allowed)})"
    message = error["msg"].removeprefix("Value error, ")
    if loc and loc[-1] in ("for", "for_"):
        loc = loc[:-1]  # the duration message already says "for: …"
    return f"{_path(loc) or 'top level'}: {message}"


def parse_thresholds(raw: Any, source: Path | None = None) -> Thresholds:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ThresholdsError(f"top level: expected a mapping with keys {', '.join(SECTIONS)}")
    try:
        model = ThresholdsFile.model_validate(raw)
    except ValidationError as error:
        raise ThresholdsError(_describe(error.errors()[0], raw)) from None
    _static_checks(model)
    return Thresholds(
        load={key: [entry.to_rule() for entry in entries] for key, entries in model.load.items()},
        security=[entry.to_rule() for entry in model.security],
        sim={key: [entry.to_rule() for entry in entries] for key, entries in model.sim.items()},
        bench={key: [entry.to_rule() for entry in entries] for key, entries in model.bench.items()},
        source=source,
    )


def load_thresholds(path: Path) -> Thresholds:
    import yaml  # only the gate needs it; keep `dvclab --help` light

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ThresholdsError(f"{path}: thresholds file not found") from None
    except OSError as error:
        raise ThresholdsError(f"{path}: not readable ({error})") from None
    except yaml.YAMLError as error:
        raise ThresholdsError(yaml_error(path, error)) from None
    try:
        return parse_thresholds(raw, source=path)
    except ThresholdsError as error:
        raise ThresholdsError(f"{path}: {error}") from None
