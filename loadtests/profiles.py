"""Load profiles (``scenarios/load/*.yaml``): pydantic models, validated like the simulation scenarios.

A bad profile is rejected with the field path and what is allowed (``ProfileError``, exit 2 in the CLI).
Everything a run varies lives here as data: the shape, the journey mix, think times, the security checks
and the settings of the embedded portal. The mix is overridden by a simulation run (``--from-sim``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeInt,
    ValidationError,
    model_validator,
)

from dvclab.gate.rules import parse_duration
from dvclab.hints import did_you_mean
from dvclab.load.check_registry import CHECK_IDS as CHECK_IDS  # the ids a profile may name, derived
from dvclab.load.check_registry import known_id
from dvclab.load.data import JOURNEY_CITIZENS_MAX
from dvclab.load.yaml_files import read_yaml, validated
from dvclab.paths import shipped

JOURNEYS = ("citizen_online", "assisted", "officer", "tracker", "sync")
PROFILE_DIR = shipped("load")


# Fields renamed since the first release, named in the error so an old profile is quick to fix.
RENAMED = {"pool": "journey_slots"}


class ProfileError(ValueError):
    """A load profile that cannot be run; the message names the file, the field and what is allowed."""


def _seconds(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        seconds = parse_duration(value)
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


# seconds, or "30s", "2m", "1m30s" (the gate's duration syntax)
Duration = Annotated[float, BeforeValidator(_seconds)]
# a security check's id, one the registry knows (check_registry.CHECK_IDS)
CheckId = Annotated[str, AfterValidator(known_id)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Step(_Strict):
    rate: float = Field(ge=0, description="journey starts per second")
    duration: Duration = Field(gt=0)


class StepShape(_Strict):
    kind: Literal["step"]
    steps: list[Step] = Field(min_length=1)


class SpikeShape(_Strict):
    """Deadline day: a base rate, a spike of ``peak`` from ``at`` for ``spike``, back to base."""

    kind: Literal["spike"]
    base: float = Field(ge=0)
    peak: float = Field(gt=0)
    at: Duration = Field(ge=0)
    spike: Duration = Field(gt=0)
    duration: Duration = Field(gt=0)

    @model_validator(mode="after")
    def _inside(self) -> SpikeShape:
        if self.at + self.spike > self.duration:
            raise ValueError("at + spike must end within duration")
        return self


class SoakShape(_Strict):
    kind: Literal["soak"]
    rate: float = Field(gt=0)
    ramp: Duration = Field(default=0.0, ge=0)
    duration: Duration = Field(gt=0)


class ForecastShape(_Strict):
    """Replays a simulation run's ``arrivals_by_hour.csv``: ``days`` days from ``first_day`` (a day index,
    or ``peak`` for the run's busiest day) compressed into ``wall_time`` each, arrivals scaled by
    ``multiplier``."""

    kind: Literal["forecast"]
    arrivals: str | None = Field(default=None)  # a run folder or arrivals_by_hour.csv; --from-sim overrides
    # a day index of the run, or "peak": its busiest day by portal submissions
    first_day: NonNegativeInt | Literal["peak"] = 0
    days: int = Field(default=1, ge=1)
    wall_time: Duration = Field(default=60.0, gt=0)
    multiplier: float = Field(default=1.0, gt=0)


Shape = Annotated[StepShape | SpikeShape | SoakShape | ForecastShape, Field(discriminator="kind")]


class Mix(_Strict):
    """Journey starts as shares of the shape's rate. With a simulation run, citizen_online and assisted
    are split hour by hour from its channel columns (their sum keeps this profile's share)."""

    citizen_online: float = Field(default=0.55, ge=0)
    assisted: float = Field(default=0.1, ge=0)
    officer: float = Field(default=0.15, ge=0)
    tracker: float = Field(default=0.2, ge=0)
    sync: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _some(self) -> Mix:
        if sum(self.model_dump().values()) <= 0:
            raise ValueError("at least one journey needs a positive share")
        return self


class ThinkTime(_Strict):
    min: Duration = Field(default=0.05, ge=0)
    max: Duration = Field(default=0.3, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> ThinkTime:
        if self.max < self.min:
            raise ValueError("max must be >= min")
        return self


class Security(_Strict):
    checks: list[CheckId] = Field(default_factory=list)  # run in the registry's order, whatever order here
    start_after: Duration = Field(default=2.0, ge=0)
    burst: int = Field(default=20, ge=2, le=200)  # gated concurrent requests per burst
    # How long the run may go on past its schedule and drain while the attacker is still probing: a
    # slow machine then finishes its last check (C09 times 4,000 logins) instead of leaving it "not run".
    overrun: Duration = Field(default=120.0, ge=0)


class Limits(_Strict):
    """What the reference portal this profile sets up enforces (its defaults here). Fields set in the
    profile override its map's ``limits:`` for a portal that speaks the reference API (the embedded
    portal gets the same settings through ``portal.env``); another map's portal has its own limits, in
    its map or announced in its answers (``check_needs``)."""

    lockout_threshold: int = Field(default=5, ge=1)
    max_file_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    max_files_per_dossier: int = Field(default=20, ge=1)
    gateway_secret: str = "dvclab-dev-gateway-secret"  # noqa: S105 - the portal's documented test value


class EmbeddedPortal(_Strict):
    """Settings for the portal `dvclab load run` starts when no --host is given."""

    rates: dict[str, str] = Field(default_factory=dict)
    env: dict[str, str] = Field(default_factory=dict)
    # The generator is a trusted proxy, so each journey has its own client address (X-Forwarded-For).
    trust_generator: bool = True
    # uvicorn worker processes; above 1 the runner starts a throwaway Redis for the shared limits, so C01
    # judges a limiter that has to hold across processes.
    workers: int = Field(default=1, ge=1, le=16)
    # SQLite (a file, one writer at a time) or a throwaway PostgreSQL cluster the runner starts, for
    # write-heavy runs on several workers; either way a fresh database per run.
    database: Literal["sqlite", "postgresql"] = "sqlite"


class Profile(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str = ""
    shape: Shape
    mix: Mix = Field(default_factory=Mix)
    think_time: ThinkTime = Field(default_factory=ThinkTime)
    # Journeys in flight at most, all workers: one Locust user runs one journey at a time in a slot.
    journey_slots: int = Field(default=60, ge=1, le=5000)
    max_lag: Duration = Field(default=1.0, gt=0)
    drain: Duration = Field(default=10.0, ge=0)
    forwarded_clients: bool = Field(default=True)  # send a per-journey client address in X-Forwarded-For
    citizens: int = Field(default=180, ge=1, le=JOURNEY_CITIZENS_MAX)  # demo citizens 1..N for journeys
    security: Security = Field(default_factory=Security)
    limits: Limits = Field(default_factory=Limits)
    portal: EmbeddedPortal = Field(default_factory=EmbeddedPortal)
    thresholds: str | None = None
    # the portal map the journeys run from: a shipped map's name or a YAML path (--map overrides)
    map: str = "reference"
    seed: int = 1

    @property
    def duration(self) -> float:
        shape = self.shape
        if isinstance(shape, StepShape):
            return sum(step.duration for step in shape.steps)
        if isinstance(shape, ForecastShape):
            return shape.wall_time * shape.days
        return shape.duration


def _format_errors(path: Path | str, error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        loc = [str(part) for part in item["loc"] if not str(part).startswith(("function-", "tagged-union"))]
        where = ".".join(loc) or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            parent = _model_at(item["loc"][:-1])
            message = f"unknown field '{loc[-1]}'"
            if loc[-1] in RENAMED:
                message += f" (renamed '{RENAMED[loc[-1]]}')"
            elif parent is not None:
                message += did_you_mean(loc[-1], parent.model_fields)
            if parent is not None:
                message += f"; allowed: {', '.join(parent.model_fields)}"
        elif item["type"] in ("literal_error", "union_tag_invalid", "enum"):
            got = item.get("input") if item["type"] != "union_tag_invalid" else item.get("ctx", {}).get("tag")
            ctx = item.get("ctx", {})
            choices = re.findall(r"'([^']*)'", str(ctx.get("expected", ctx.get("expected_tags", ""))))
            message += f" (got {got!r}){did_you_mean(str(got), choices)}"
        lines.append(f"{path}: {where}: {message}")
    return "\n".join(lines)


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model at a validation-error location, to list its allowed fields."""
    shapes = {"step": StepShape, "spike": SpikeShape, "soak": SoakShape, "forecast": ForecastShape}
    model: Any = Profile
    for part in loc:
        if isinstance(part, int):
            continue
        if part in shapes:
            model = shapes[part]
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return None
        annotation = field.annotation
        inner = getattr(annotation, "__args__", (annotation,))
        model = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)), None)
    return model


def profile_names() -> list[str]:
    """The shipped profiles by name: the YAML files of scenarios/load that are profiles (a thresholds file
    or a portal map sits beside them and has no ``shape``)."""
    names = []
    for path in sorted(PROFILE_DIR.glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and "shape" in data:
            names.append(path.stem)
    return names


def resolve(name_or_path: str | Path) -> Path:
    """A profile name (``smoke``) or a path to a YAML file."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        return candidate
    return PROFILE_DIR / f"{name_or_path}.yaml"


def load_profile(name_or_path: str | Path) -> Profile:
    path = resolve(name_or_path)
    known = profile_names()
    listing = f"known profiles: {', '.join(known)}"
    data = read_yaml(
        name_or_path, path, PROFILE_DIR, known, "profile", listing, ProfileError, " (or give a YAML path)"
    )
    profile = validated(data, Profile, path, "profile", ProfileError, _format_errors)
    if profile.thresholds and not Path(profile.thresholds).is_absolute():
        # relative to the profile's own file, like a scenario's catalog
        profile.thresholds = str(path.resolve().parent / profile.thresholds)
    if profile.map.endswith((".yaml", ".yml")) and not Path(profile.map).is_absolute():
        profile.map = str(path.resolve().parent / profile.map)  # relative to the profile, like thresholds
    return profile
