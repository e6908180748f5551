"""Locust's common options (``-u``, ``-r``, ``-t``) against dvclab's open workload model, for plain
``locust -f loadtests/locustfile.py``. No Locust here: tests call these without a swarm.

``-t`` is honoured as a cap on the profile's schedule: journeys are scheduled for at most that long, the
drain then lets those in flight finish, and nothing past the cap is offered or counted as dropped.
``-u`` and ``-r`` are refused with one line: in an open model the profile's shape decides when journeys
start and ``journey_slots`` how many may be in flight; a user count would silently mean nothing.
"""

from __future__ import annotations

from typing import Any

from dvclab.load import harness
from dvclab.load.open_model import Scheduler
from dvclab.load.shapes import Segment

EXIT_BAD_INPUT = 2


def refused_options(options: Any, run: harness.Run) -> str | None:
    """The one-line reason to refuse Locust's options as given, or None when they can be honoured."""
    given = [
        flag for flag, name in (("-u", "num_users"), ("-r", "spawn_rate")) if getattr(options, name, None)
    ]
    if given:
        profile = run.profile
        return (
            f"{'/'.join(given)} not used: profile {profile.name!r} decides the load (an open model: its "
            f"{profile.shape.kind} shape starts journeys, journey_slots: {profile.journey_slots} bounds "
            "those in flight); choose another --dvclab-profile or edit its shape; -t caps its schedule"
        )
    if getattr(options, "run_time", None) and (
        getattr(options, "master", False) or getattr(options, "processes", None)
    ):
        # Workers schedule their own share and never see the master's -t: they would drop the rest.
        return (
            "-t caps the schedule of a single process only; with workers, use a profile with a shorter shape"
        )
    return None


def capped(segments: list[Segment], limit: float) -> list[Segment]:
    """The schedule's segments cut at ``limit`` seconds."""
    return [Segment(s.start, min(s.end, limit), s.rate, s.shares) for s in segments if s.start < limit]


def cap_schedule(run: harness.Run, limit: float) -> bool:
    """Schedule journeys for at most ``limit`` seconds (before the scheduler starts); False when the
    profile's schedule is no longer than that already."""
    if limit >= run.duration:
        return False
    run.segments = capped(run.segments, limit)
    run.duration = limit
    run.scheduler = Scheduler(run.segments, run.profile.max_lag, run.profile.seed, run.counters)
    return True
