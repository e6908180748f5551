"""Load shapes as piecewise-constant journey-start rates: ``forecast``, ``step``, ``spike``, ``soak``.

A shape is a list of :class:`Segment` (start, end, rate in journey starts per second, and the share of
each journey in it). The open-model scheduler draws Poisson arrivals from the segments; the offered
load is their integral. Plain functions: tests build and check shapes without a swarm.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

from dvclab.catalog import Channel
from dvclab.load.profiles import (
    JOURNEYS,
    ForecastShape,
    Mix,
    Profile,
    SoakShape,
    SpikeShape,
    StepShape,
)

# The forecast's channel columns, in the order of dvclab.catalog.Channel.
CHANNEL_COLUMNS = tuple(channel.value for channel in Channel)
RAMP_SEGMENTS = 10


class ShapeError(ValueError):
    """A forecast that cannot be replayed (missing or malformed arrivals_by_hour.csv)."""


@dataclass(frozen=True, slots=True)
class Segment:
    start: float
    end: float
    rate: float  # journey starts per second, all journeys
    shares: dict[str, float] = field(default_factory=dict)  # journey -> share of `rate`, summing to 1

    def rate_of(self, journey: str) -> float:
        return self.rate * self.shares.get(journey, 0.0)


@dataclass(frozen=True, slots=True)
class HourRow:
    hour_start: str
    portal_submissions: float
    online: float  # self-service + online with a visit: citizens filing themselves
    assisted: float  # filed on the citizen's behalf (officer or helper)


def mix_shares(mix: Mix) -> dict[str, float]:
    raw = mix.model_dump()
    total = sum(raw.values())
    return {name: raw[name] / total for name in JOURNEYS if raw[name] > 0}


def read_arrivals(source: str | Path) -> list[HourRow]:
    """``arrivals_by_hour.csv`` of a simulation run (the file, or the run folder holding it)."""
    path = Path(source)
    if path.is_dir():
        path = path / "arrivals_by_hour.csv"
    if not path.is_file():
        raise ShapeError(f"{path}: no arrivals_by_hour.csv (run `dvclab sim run …` first)")
    rows: list[HourRow] = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"datetime", "portal_submissions", *CHANNEL_COLUMNS} - set(reader.fieldnames or ())
        if missing:
            raise ShapeError(f"{path}: missing columns {', '.join(sorted(missing))}")
        for line, row in enumerate(reader, start=2):
            try:
                rows.append(
                    HourRow(
                        row["datetime"],
                        float(row["portal_submissions"]),
                        float(row["self_service"]) + float(row["online_with_visit"]),
                        float(row["assisted"]),
                    )
                )
            except ValueError:
                raise ShapeError(f"{path}:{line}: not a number") from None
    if not rows:
        raise ShapeError(f"{path}: no rows")
    return rows


def sim_mix(mix: Mix, rows: list[HourRow]) -> Mix:
    """The profile's mix with the citizen-online/assisted split taken from a simulation run."""
    online, assisted = sum(r.online for r in rows), sum(r.assisted for r in rows)
    if online + assisted <= 0:
        return mix
    filing = mix.citizen_online + mix.assisted
    return mix.model_copy(
        update={
            "citizen_online": filing * online / (online + assisted),
            "assisted": filing * assisted / (online + assisted),
        }
    )


def busiest_day(rows: list[HourRow]) -> int:
    """The index of the day with the most portal submissions (the first such day on a tie)."""
    days = [sum(r.portal_submissions for r in rows[d * 24 : (d + 1) * 24]) for d in range(len(rows) // 24)]
    if not days:
        raise ShapeError(f"the simulation run has {len(days)} days; the shape asks for its busiest day")
    return max(range(len(days)), key=lambda d: (days[d], -d))


def _forecast(shape: ForecastShape, mix: Mix, rows: list[HourRow]) -> list[Segment]:
    """Each simulated hour becomes ``wall_time / 24`` seconds; its portal submissions (× multiplier) are
    the filing journeys started in it; the other journeys keep their share relative to filing."""
    first = busiest_day(rows) if shape.first_day == "peak" else shape.first_day
    hours = rows[first * 24 : (first + shape.days) * 24]
    if len(hours) < shape.days * 24:
        raise ShapeError(
            f"the simulation run has {len(rows) // 24} days; the shape asks for days "
            f"{first}..{first + shape.days - 1}"
        )
    base = mix_shares(mix)
    filing = base.get("citizen_online", 0.0) + base.get("assisted", 0.0)
    if filing <= 0:
        raise ShapeError("a forecast shape needs citizen_online or assisted in the mix")
    slot = shape.wall_time / 24
    segments = []
    for i, row in enumerate(hours):
        filed = row.online + row.assisted
        filing_rate = row.portal_submissions * shape.multiplier / slot
        total = filing_rate / filing
        shares = {name: share for name, share in base.items() if name not in ("citizen_online", "assisted")}
        if filed > 0:
            shares["citizen_online"] = filing * row.online / filed
            shares["assisted"] = filing * row.assisted / filed
        else:
            shares["citizen_online"] = filing
        segments.append(Segment(i * slot, (i + 1) * slot, total, _normalised(shares)))
    return segments


def _normalised(shares: dict[str, float]) -> dict[str, float]:
    total = sum(shares.values())
    return {k: v / total for k, v in shares.items() if v > 0} if total > 0 else {}


def build_segments(profile: Profile, arrivals: str | Path | None = None) -> list[Segment]:
    """The profile's shape as segments; ``arrivals`` (``--from-sim``) replaces the shape's own file."""
    shape = profile.shape
    shares = mix_shares(profile.mix)
    if isinstance(shape, ForecastShape):
        source = arrivals or shape.arrivals
        if source is None:
            raise ShapeError("a forecast shape needs a simulation run: shape.arrivals or --from-sim RUN_DIR")
        return _forecast(shape, profile.mix, read_arrivals(source))
    if arrivals is not None:
        shares = mix_shares(sim_mix(profile.mix, read_arrivals(arrivals)))
    if isinstance(shape, StepShape):
        segments, t = [], 0.0
        for step in shape.steps:
            segments.append(Segment(t, t + step.duration, step.rate, shares))
            t += step.duration
        return segments
    if isinstance(shape, SpikeShape):
        parts = [(0.0, shape.at, shape.base), (shape.at, shape.at + shape.spike, shape.peak)]
        parts.append((shape.at + shape.spike, shape.duration, shape.base))
        return [Segment(a, b, r, shares) for a, b, r in parts if b > a]
    assert isinstance(shape, SoakShape)
    segments = []
    ramp = min(shape.ramp, shape.duration)
    if ramp > 0:  # a staircase ramp: piecewise constant keeps the arrival process exact
        width = ramp / RAMP_SEGMENTS
        for i in range(RAMP_SEGMENTS):
            segments.append(
                Segment(i * width, (i + 1) * width, shape.rate * (i + 0.5) / RAMP_SEGMENTS, shares)
            )
    if shape.duration > ramp:
        segments.append(Segment(ramp, shape.duration, shape.rate, shares))
    return segments


def without_journeys(segments: list[Segment], skipped: set[str] | frozenset[str]) -> list[Segment]:
    """The segments with ``skipped`` journeys left out: the others keep their own rates (a portal map
    without an officer's steps does not turn officers into citizens)."""
    if not skipped:
        return segments
    kept = []
    for s in segments:
        left = {k: v for k, v in s.shares.items() if k not in skipped}
        share = sum(left.values())
        kept.append(Segment(s.start, s.end, s.rate * share, _normalised(left)))
    return kept


def expected_starts(segments: list[Segment], journey: str | None = None) -> float:
    """The offered journey starts: the integral of the rate."""
    return sum((s.end - s.start) * (s.rate if journey is None else s.rate_of(journey)) for s in segments)


def duration(segments: list[Segment]) -> float:
    return segments[-1].end if segments else 0.0


def peak_rate(segments: list[Segment]) -> float:
    return max((s.rate for s in segments), default=0.0)


def rate_at(segments: list[Segment], t: float) -> float:
    for s in segments:
        if s.start <= t < s.end:
            return s.rate
    return 0.0


def journey_slots_needed(segments: list[Segment], journey_seconds: float) -> int:
    """Little's law: journeys in flight at the peak rate, with headroom for Poisson bursts."""
    mean = peak_rate(segments) * journey_seconds
    return max(1, math.ceil(mean + 3 * math.sqrt(mean) + 1))
