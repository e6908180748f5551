"""The scenario: one validated parameter object per what-if, read from YAML.

A what-if is a small diff of its baseline: ``extends: nam-dinh-2024.yaml`` (relative to the extending
file, or absolute) deep-merges the file over its parent. Every field is checked by pydantic; unknown keys,
wrong types, out-of-range probabilities and references to procedures or pools that do not exist are
rejected with the field path and what is allowed (``ScenarioError``). ``with_value`` makes a sweep's
point: the scenario with one field changed, validated the same way.

Over ~400 lines because it is one concept: the schema and the only ways a scenario gets made (from a
file, or from another scenario), which must validate alike.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dvclab import catalog as vocabulary
from dvclab.catalog import LEVELS, CatalogError, Procedure, load_catalog
from dvclab.hints import did_you_mean, yaml_error

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Positive = Annotated[float, Field(gt=0.0)]
# Plain strings in scenario files; the one list of each lives in dvclab.catalog (Level, Channel).
CHANNELS: tuple[str, ...] = tuple(channel.value for channel in vocabulary.Channel)
Level = Literal[tuple(level.value for level in vocabulary.Level)]  # type: ignore[valid-type]
Channel = Literal[CHANNELS]  # type: ignore[valid-type]


class ScenarioError(ValueError):
    """A scenario file that cannot be run; the message names the file, the field and what is allowed."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RunSettings(_Strict):
    start_date: dt.date = dt.date(2024, 1, 1)
    horizon_days: Annotated[int, Field(ge=1, description="simulated days counted in the KPIs")] = 366
    replications: Annotated[int, Field(ge=1, le=1000)] = 10
    seed: Annotated[int, Field(ge=0)] = 2024


class Surge(_Strict):
    """A temporary rise in demand, e.g. the year-end rush or a land rush before a reform."""

    name: str
    start: dt.date
    end: dt.date
    factor: Positive
    groups: list[str] = Field(default_factory=list, description="procedure groups; empty means all")

    @model_validator(mode="after")
    def _ordered(self) -> Surge:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class Demand(_Strict):
    dossiers_per_year: NonNegative = 1_000_000
    level_shares: dict[Level, NonNegative] = Field(
        default_factory=lambda: {"province": 0.10, "district": 0.30, "commune": 0.60}
    )
    month_factors: Annotated[list[NonNegative], Field(min_length=12, max_length=12)] = [1.0] * 12
    weekday_factors: Annotated[list[NonNegative], Field(min_length=7, max_length=7)] = [1.0] * 7
    online_hour_profile: Annotated[list[NonNegative], Field(min_length=24, max_length=24)] = [1.0] * 24
    counter_hour_profile: Annotated[list[NonNegative], Field(min_length=24, max_length=24)] = [1.0] * 24
    surges: list[Surge] = Field(default_factory=list)

    @field_validator("level_shares")
    @classmethod
    def _shares_sum_to_one(cls, shares: dict[str, float]) -> dict[str, float]:
        total = sum(shares.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"level shares must add up to 1, they add up to {total:.4f}")
        return shares


class Geography(_Strict):
    # The counts must agree with the scenario's units file, which holds each unit's size.
    districts: Annotated[int, Field(ge=1)] = 9
    communes: Annotated[int, Field(ge=1)] = 175
    district_level: bool = Field(True, description="False after the 2025 reform: no district level")
    district_procedures_to_province: Probability = Field(
        0.05, description="when district_level is false: share of district procedures moved to province"
    )

    @model_validator(mode="before")
    @classmethod
    def _sizes_are_data(cls, data: Any) -> Any:
        if isinstance(data, dict) and "commune_size_cv" in data:
            raise ValueError(
                "commune_size_cv is no longer read: commune sizes are data, in the scenario's units file "
                "(units:, see scenarios/catalog/README.md); remove it"
            )
        return data


class Channels(_Strict):
    """How a citizen files: the segment (smartphone + VNeID level 2) and the procedure decide."""

    capable_share: Probability = 0.70
    digital_team_coverage: Probability = 0.0
    self_service_propensity: Probability = 0.90
    partial_online_filing: Probability = 0.50
    postal_submission_share: Probability = 0.01
    assisted_filing_share: Probability = 0.95
    originals_enforced: bool = True
    assisted_extra_min: NonNegative = 4.0


class Counters(_Strict):
    mode: Literal["per_unit", "pooled"] = "per_unit"
    officers: dict[Level, Annotated[int, Field(ge=1)]] = Field(
        default_factory=lambda: {"province": 14, "district": 6, "commune": 1}
    )
    opening_hours: list[tuple[str, str]] = [("07:30", "11:30"), ("13:30", "17:00")]
    saturday_morning: bool = False
    closures: list[dt.date] = Field(
        default_factory=list,
        description="days the centres close beyond public holidays (e.g. provincial Tết days)",
    )
    same_day_cutoff: str = Field(
        "15:00", description="a same-day (deadline 0) dossier received after this is due the next day"
    )
    scan_min: NonNegative = 2.0
    scan_share: Probability = 0.75
    reception_cv: NonNegative = 0.5
    any_centre: bool = Field(False, description="2025 reform: file at the least busy nearby centre")

    @field_validator("opening_hours")
    @classmethod
    def _hours(cls, hours: list[tuple[str, str]]) -> list[tuple[str, str]]:
        previous = -1
        for start, end in hours:
            s, e = _minutes(start), _minutes(end)
            if not previous <= s < e <= 24 * 60:
                raise ValueError("opening hours must be ordered, non-overlapping HH:MM pairs within a day")
            previous = e
        if not hours:
            raise ValueError("at least one opening interval is needed")
        return hours


class BackOffice(_Strict):
    discipline: Literal["fifo", "edf"] = "fifo"
    staffing: dict[Level, dict[str, Annotated[int, Field(ge=0)]]] = Field(default_factory=dict)
    default_officers: Annotated[int, Field(ge=1)] = 1
    effort_cv: NonNegative = 0.5
    # the effort factor's family (sim.effort): effort_cv shapes lognormal and gamma; an exponential's CV
    # is 1, an empirical one's is its quantiles' (at probabilities 0, ..., 1), whatever effort_cv says
    effort_family: Literal["lognormal", "gamma", "exponential", "empirical"] = "lognormal"
    effort_quantiles: list[NonNegative] | None = None
    approval_cv: NonNegative = 0.8

    @model_validator(mode="after")
    def _effort_shape(self) -> BackOffice:
        family, quantiles = self.effort_family, self.effort_quantiles
        if family == "empirical":
            if quantiles is None or len(quantiles) < 2:
                raise ValueError("effort_family empirical needs effort_quantiles: at least 2 values")
            if any(b < a for a, b in zip(quantiles, quantiles[1:], strict=False)) or quantiles[-1] <= 0:
                raise ValueError("effort_quantiles must be non-decreasing and not all 0")
        elif quantiles is not None:
            raise ValueError(f"effort_quantiles is for effort_family empirical, not {family}")
        return self


class Interlinked(_Strict):
    share: Probability
    deadline_days: Annotated[int, Field(ge=0)]


class Supplements(_Strict):
    probability_scale: NonNegative = 1.0
    response_days_mean: NonNegative = 4.0
    clock: Literal["runs", "pauses"] = "runs"
    rework_share: Probability = 0.5


class Payment(_Strict):
    online_share: dict[Channel, Probability] = Field(
        default_factory=lambda: {
            "self_service": 0.98,
            "online_with_visit": 0.90,
            "assisted": 0.88,
            "counter": 0.10,
            "postal": 0.50,
        }
    )


class ResultReturn(_Strict):
    electronic_share: dict[Channel, Probability] = Field(
        default_factory=lambda: {
            "self_service": 0.92,
            "online_with_visit": 0.50,
            "assisted": 0.35,
            "counter": 0.05,
            "postal": 0.0,
        }
    )
    postal_share_of_paper: Probability = 0.10
    postal_days: tuple[NonNegative, NonNegative] = (1.0, 2.0)
    postal_fee_vnd: NonNegative = 25_000
    result_scan_share: Probability = 0.70


class Sync(_Strict):
    lag_min_mean: NonNegative = 20.0
    failure_prob: Probability = 0.03
    retry_interval_min: NonNegative = 60.0
    max_retries: Annotated[int, Field(ge=0)] = 3
    snapshot_days: Annotated[int, Field(ge=1)] = 7


AUTO = "auto"


class Startup(_Strict):
    mode: Literal["warmup", "backlog"] = "warmup"
    # ``auto``: chosen per run from a pilot's output (MSER-5 on each pool's daily backlog, ``sim.warmup``)
    warmup_days: Annotated[int, Field(ge=0)] | Literal["auto"] = 30
    backlog: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict, description="pool -> dossiers already waiting at the start (mode: backlog)"
    )


class ProcedureOverride(_Strict):
    deadline_days: Annotated[int, Field(ge=0)] | None = None
    supplement_prob: Probability | None = None
    effort_min: NonNegative | None = None
    approval_days: NonNegative | None = None
    requires_originals: bool | None = None
    demand_factor: NonNegative | None = None


class Scenario(_Strict):
    name: str
    # one text, or one per report language ({vi: ..., en: ...}): a report's headline speaks its language
    description: str | dict[Literal["vi", "en"], str] = ""
    lang: Literal["vi", "en"] = "en"
    catalog: str = "../catalog/nam-dinh-2024.csv"
    # the province's units, their sizes and own staffing (``sim.units``): data, the same for every seed
    units: str = "../catalog/nam-dinh-2024-units.csv"
    run: RunSettings = RunSettings()
    demand: Demand = Demand()
    geography: Geography = Geography()
    channels: Channels = Channels()
    counters: Counters = Counters()
    back_office: BackOffice = BackOffice()
    interlinked: dict[str, Interlinked] = Field(default_factory=dict)
    supplements: Supplements = Supplements()
    payment: Payment = Payment()
    results_return: ResultReturn = ResultReturn()
    sync: Sync = Sync()
    startup: Startup = Startup()
    procedures: dict[str, ProcedureOverride] = Field(default_factory=dict)

    # Set by load_scenario: where the file was, to resolve the catalog path.
    source: str = ""

    def catalog_path(self) -> Path:
        return self._beside_source(self.catalog)

    def units_path(self) -> Path:
        return self._beside_source(self.units)

    def _beside_source(self, name: str) -> Path:
        path = Path(name)
        if not path.is_absolute() and self.source:
            path = Path(self.source).parent / path
        return path.resolve()


def _minutes(hhmm: str) -> int:
    try:
        hours, minutes = hhmm.split(":")
        value = int(hours) * 60 + int(minutes)
    except ValueError:
        raise ValueError(f"{hhmm!r} is not a time HH:MM") from None
    if not 0 <= value <= 24 * 60:
        raise ValueError(f"{hhmm!r} is not a time of day")
    return value


def opening_minutes(hours: list[tuple[str, str]]) -> list[tuple[int, int]]:
    return [(_minutes(s), _minutes(e)) for s, e in hours]


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    if path in chain:
        raise ScenarioError(f"{path}: extends itself through {' -> '.join(p.name for p in chain)}")
    if not path.is_file():
        where = f" (extended by {chain[-1]})" if chain else ""
        raise ScenarioError(f"{path}: scenario file not found{where}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as bad:
        raise ScenarioError(yaml_error(path, bad)) from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: a scenario is a mapping of fields, got {type(data).__name__}")
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ScenarioError(f"{path}: extends: expected a path to another scenario file")
    parent_path = Path(parent)
    if not parent_path.is_absolute():
        parent_path = path.parent / parent_path
    base = _read_yaml(parent_path.resolve(), (*chain, path))
    # The catalog and units paths are relative to the file that names them.
    for data_file in ("catalog", "units"):
        if data_file in base and data_file not in data and not Path(base[data_file]).is_absolute():
            base[data_file] = str((parent_path.parent / base[data_file]).resolve())
    return _deep_merge(base, data)


def _format_errors(path: Path, error: ValidationError) -> str:
    lines = [f"{path}: {error.error_count()} invalid field(s)"]
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown field"
            parent = _model_at(item["loc"][:-1])
            if parent is not None:
                message += did_you_mean(str(item["loc"][-1]), parent.model_fields)
                message += f"; allowed: {', '.join(sorted(parent.model_fields))}"
        elif item["type"] in ("literal_error", "enum"):
            got = item.get("input")
            message = f"{message} (got {got!r}){did_you_mean(str(got), _choices(item))}"
        lines.append(f"  {where}: {message}")
    return "\n".join(lines)


def _choices(item: Any) -> list[str]:
    """The allowed values of a literal or enum error (pydantic lists them in ``ctx.expected``)."""
    expected = str(item.get("ctx", {}).get("expected", ""))
    return re.findall(r"'([^']*)'", expected)


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] = Scenario
    for part in loc:
        if not isinstance(part, str) or part not in model.model_fields:
            return None
        annotation = model.model_fields[part].annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            return None
    return model


def check_references(scenario: Scenario, catalog: list[Procedure]) -> None:
    """Reject procedure codes, pools, groups and levels that the catalog does not have."""
    codes = {p.code for p in catalog}
    groups = {p.group for p in catalog}
    errors: list[str] = []
    for code in scenario.procedures:
        if code not in codes:
            errors.append(
                f"procedures.{code}: no such procedure code in {scenario.catalog_path().name}"
                f"{did_you_mean(code, codes)}"
            )
    agencies: dict[str, set[str]] = {level: set() for level in LEVELS}
    for p in catalog:
        agencies[p.level].add(p.agency)
    if not scenario.geography.district_level:
        # district agencies move to the communes (and a few to the province) after the reform
        agencies["commune"] |= agencies["district"]
        agencies["province"] |= agencies["district"]
    for level, pools in scenario.back_office.staffing.items():
        for agency in pools:
            if agency not in agencies[level]:
                errors.append(
                    f"back_office.staffing.{level}.{agency}: no such pool"
                    f"{did_you_mean(agency, agencies[level])}; pools at {level} level: "
                    f"{', '.join(sorted(agencies[level]))}"
                )
    for pool in scenario.startup.backlog:
        level, _, agency = pool.partition(".")
        if level not in agencies or agency not in agencies[level]:
            known = [f"{lv}.{name}" for lv, names in agencies.items() for name in names]
            errors.append(
                f"startup.backlog.{pool}: no such pool{did_you_mean(pool, known)} "
                "(write level.agency, e.g. district.land)"
            )
    for index, surge in enumerate(scenario.demand.surges):
        for group in surge.groups:
            if group not in groups:
                errors.append(
                    f"demand.surges.{index}.groups: no procedure group {group!r}"
                    f"{did_you_mean(group, groups)}; groups: "
                    f"{', '.join(sorted(groups))}"
                )
    errors += _unit_errors(scenario, agencies)
    linked = {p.interlinked_group for p in catalog if p.interlinked_group}
    for name in scenario.interlinked:
        if name not in linked:
            errors.append(
                f"interlinked.{name}: no inter-linked group {name!r}{did_you_mean(name, linked)}; "
                f"groups: {sorted(linked)}"
            )
    if errors:
        raise ScenarioError(
            f"{scenario.source or scenario.name}: {len(errors)} invalid reference(s)\n  "
            + "\n  ".join(errors)
        )


def _unit_errors(scenario: Scenario, agencies: dict[str, set[str]]) -> list[str]:
    """The units file must exist, be valid and describe the scenario's geography."""
    from dvclab.sim.units import UnitsError, load_units

    name = scenario.units_path().name
    try:
        units = load_units(scenario.units_path())
    except UnitsError as error:
        return [f"units: {error}"]
    geography = scenario.geography
    errors = [
        f"geography.{field}: {wanted}, but {name} has {found} {field}"
        for field, wanted, found in (
            ("districts", geography.districts, units.districts),
            ("communes", geography.communes, units.communes),
        )
        if wanted != found
    ]
    for (level, number), pools in sorted(units.staffing.items()):
        for agency in sorted(set(pools) - agencies[level]):
            errors.append(f"units: {name}: {level}.{number} staffs {agency!r}, no such pool at {level} level")
    return errors


def load_scenario(path: str | Path, **overrides: Any) -> tuple[Scenario, list[Procedure]]:
    """Read, merge (``extends``), validate and cross-check a scenario file against its catalog."""
    path = Path(path).resolve()
    data = _read_yaml(path)
    for dotted, value in overrides.items():
        _set_dotted(data, dotted, value)
    data["source"] = str(path)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        raise ScenarioError(_format_errors(path, error)) from None
    try:
        catalog = load_catalog(scenario.catalog_path())
    except CatalogError as error:
        raise ScenarioError(f"{path}: catalog: {error}") from None
    check_references(scenario, catalog)
    return scenario, catalog


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ScenarioError(f"{dotted}: {part} is not a section")
    node[parts[-1]] = value


def resolved_dict(scenario: Scenario) -> dict[str, Any]:
    """The scenario as it ran (after ``extends``), for the manifest."""
    return scenario.model_dump(mode="json")


# A point shares its base's catalog and units (read once), so it may not name others.
_NOT_A_POINT = ("catalog", "units", "source")


def with_value(scenario: Scenario, path: str, value: Any, catalog: list[Procedure]) -> Scenario:
    """A validated copy of ``scenario`` with the field at the dotted ``path`` set to ``value`` (a sweep or
    plan point, e.g. ``back_office.staffing.district.land`` = 14).

    Works on a copy of the resolved data in memory: no file is read, so it holds after the YAML changed
    or went away. pydantic validates the copy and its references are checked against ``catalog``, the
    one already loaded for ``scenario``. Errors start with ``path=value`` (``ScenarioError``)."""
    where = f"{path}={value}"
    parts = path.split(".")
    if parts[0] in _NOT_A_POINT:
        raise ScenarioError(f"{where}: a point cannot change the {parts[0]}; write a what-if file instead")
    data = resolved_dict(scenario)  # a fresh structure: the original stays untouched
    node = data
    for depth, part in enumerate(parts[:-1]):
        node = node.setdefault(part, {})  # a missing section is added, then named by pydantic
        if not isinstance(node, dict):
            raise ScenarioError(
                f"{where}: {'.'.join(parts[: depth + 1])} is a value ({node!r}), not a section"
            )
    if isinstance(node.get(parts[-1]), dict):
        fields = ", ".join(sorted(node[parts[-1]])) or "empty"
        raise ScenarioError(f"{where}: {path} is a section ({fields}); name one of its fields")
    node[parts[-1]] = value
    try:
        copy = Scenario.model_validate(data)
    except ValidationError as error:
        raise ScenarioError(
            f"{where}: {_format_errors(Path(scenario.source or scenario.name), error)}"
        ) from None
    try:
        check_references(copy, catalog)
    except ScenarioError as error:
        raise ScenarioError(f"{where}: {error}") from None
    taken = resolved_dict(copy)
    for part in parts:
        taken = taken.get(part) if isinstance(taken, dict) else None
    if taken != value and not _same_number(taken, value):
        raise ScenarioError(f"{where}: the scenario did not take the value (it holds {taken!r})")
    return copy


def _same_number(a: Any, b: Any) -> bool:
    return isinstance(a, int | float) and isinstance(b, int | float) and math.isclose(a, b)
