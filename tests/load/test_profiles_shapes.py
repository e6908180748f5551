"""Profiles are validated like the simulation scenarios; shapes are piecewise-constant rates."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from dvclab.load import profiles, shapes
from dvclab.load.profiles import ProfileError, load_profile
from tests.load.conftest import dvclab, write_profile

SHIPPED = ("smoke", "peak-day", "deadline-spike", "soak", "security")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_profiles_validate(name: str) -> None:
    profile = load_profile(name)
    assert profile.name == name
    assert profile.duration > 0


def test_smoke_fits_ci() -> None:
    smoke = load_profile("smoke")
    assert smoke.duration + smoke.drain <= 60
    # Left to the security profile: C04 (700 logins), C09 (4,000 timed logins), C22 (a 400-login flood),
    # and C06, which needs a fault-injecting proxy in front of Redis.
    heavy = {"C04", "C06", "C09", "C22"}
    assert set(smoke.security.checks) >= set(profiles.CHECK_IDS) - {"L01"} - heavy
    assert heavy <= set(load_profile("security").security.checks)


def test_unknown_field_names_path_and_allowed(tmp_path: Path) -> None:
    path = write_profile(
        tmp_path,
        name="bad",
        shape={"kind": "step", "steps": [{"rate": 1, "duration": "5s"}]},
        mix={"citizens": 1.0},
    )
    with pytest.raises(ProfileError) as error:
        load_profile(path)
    message = str(error.value)
    assert "mix.citizens" in message and "allowed: citizen_online, assisted" in message


def test_a_renamed_field_names_its_new_name(tmp_path: Path) -> None:
    steps = [{"rate": 1, "duration": "5s"}]
    path = write_profile(tmp_path, name="old", shape={"kind": "step", "steps": steps}, pool=8)
    with pytest.raises(ProfileError, match=r"pool: unknown field 'pool' \(renamed 'journey_slots'\)"):
        load_profile(path)


def test_bad_shape_kind_and_duration(tmp_path: Path) -> None:
    path = write_profile(tmp_path, name="bad", shape={"kind": "ramp"})
    with pytest.raises(ProfileError, match=r"shape: .*'forecast'.*\(got 'ramp'\)|shape.*ramp"):
        load_profile(path)
    path = write_profile(
        tmp_path, name="bad", shape={"kind": "step", "steps": [{"rate": 1, "duration": "soon"}]}
    )
    with pytest.raises(ProfileError, match=r"shape\.step\.steps\.0\.duration"):
        load_profile(path)
    path = write_profile(
        tmp_path,
        name="bad",
        shape={"kind": "step", "steps": [{"rate": 1, "duration": 5}]},
        security={"checks": ["C99"]},
    )
    with pytest.raises(ProfileError, match=r"security\.checks\.0"):
        load_profile(path)


@pytest.mark.slow
def test_cli_bad_profile_exits_2(tmp_path: Path) -> None:
    path = write_profile(
        tmp_path,
        name="bad",
        shape={"kind": "spike", "base": 1, "peak": 2, "at": "50s", "spike": "20s", "duration": "60s"},
    )
    result = dvclab("load", "run", str(path), timeout=30)
    assert result.returncode == 2
    assert "at + spike must end within duration" in result.stderr
    assert dvclab("load", "run", "no-such-profile", timeout=30).returncode == 2


@pytest.mark.slow
def test_cli_refuses_remote_host_and_forecast_without_sim() -> None:
    result = dvclab("load", "run", "smoke", "--host", "http://10.1.2.3:8000", timeout=30)
    assert result.returncode == 2 and "--allow-remote" in result.stderr
    result = dvclab("load", "run", "peak-day", timeout=30)
    assert result.returncode == 2 and "--from-sim" in result.stderr


def test_step_spike_soak_segments() -> None:
    step = load_profile("smoke")
    segments = shapes.build_segments(step)
    assert [(s.start, s.end, s.rate) for s in segments] == [(0, 8, 1.5), (8, 30, 2.5)]
    assert shapes.expected_starts(segments) == pytest.approx(1.5 * 8 + 2.5 * 22)
    assert sum(segments[0].shares.values()) == pytest.approx(1.0)
    spike = shapes.build_segments(load_profile("deadline-spike"))
    assert [s.rate for s in spike] == [3, 10, 3] and spike[1].start == 30 and spike[1].end == 90
    soak = shapes.build_segments(load_profile("soak"))
    assert soak[0].rate < soak[9].rate < soak[-1].rate == 2 and soak[-1].end == 3600
    assert shapes.rate_at(spike, 45) == 10 and shapes.peak_rate(spike) == 10


def _arrivals(tmp_path: Path, per_hour: list[tuple[float, float, float]]) -> Path:
    path = tmp_path / "arrivals_by_hour.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["datetime", "hour", "weekday", "portal_submissions", *shapes.CHANNEL_COLUMNS])
        for hour, (online, visit, assisted) in enumerate(per_hour):
            writer.writerow(
                [
                    f"2024-01-01T{hour:02d}:00:00",
                    hour,
                    0,
                    online + visit + assisted,
                    online,
                    visit,
                    assisted,
                    0,
                    0,
                ]
            )
    return path


def test_forecast_replays_hours_compressed(tmp_path: Path) -> None:
    hours = [(0.0, 0.0, 0.0)] * 8 + [(30.0, 6.0, 4.0)] * 10 + [(6.0, 0.0, 0.0)] * 6
    path = _arrivals(tmp_path, hours)
    profile = profiles.Profile.model_validate(
        {
            "name": "f",
            "shape": {"kind": "forecast", "wall_time": "24s", "multiplier": 0.5},
            "mix": {"citizen_online": 0.5, "assisted": 0.1, "officer": 0.2, "tracker": 0.2},
        }
    )
    segments = shapes.build_segments(profile, path)
    assert len(segments) == 24 and segments[-1].end == pytest.approx(24)
    busy = segments[10]
    # 40 filings in a 1-second hour, x0.5 => 20 filing journeys/s; filing is 60% of all starts.
    assert busy.rate_of("citizen_online") + busy.rate_of("assisted") == pytest.approx(20)
    assert busy.rate_of("assisted") == pytest.approx(20 * 4 / 40)
    assert busy.rate == pytest.approx(20 / 0.6)
    assert segments[0].rate == 0
    filed = shapes.expected_starts(segments, "citizen_online") + shapes.expected_starts(segments, "assisted")
    assert filed == pytest.approx(0.5 * sum(sum(h) for h in hours))


def test_forecast_peak_replays_the_busiest_day(tmp_path: Path) -> None:
    quiet, busy = [(1.0, 0.0, 0.0)] * 24, [(1.0, 0.0, 0.0)] * 23 + [(50.0, 0.0, 10.0)]
    path = _arrivals(tmp_path, quiet + busy + quiet)
    assert shapes.busiest_day(shapes.read_arrivals(path)) == 1
    profile = profiles.Profile.model_validate(
        {"name": "p", "shape": {"kind": "forecast", "first_day": "peak", "wall_time": "24s"}}
    )
    segments = shapes.build_segments(profile, path)
    filing = segments[23].rate_of("citizen_online") + segments[23].rate_of("assisted")
    assert filing == pytest.approx(60) and segments[22].rate < segments[23].rate
    bad = write_profile(tmp_path, name="p", shape={"kind": "forecast", "first_day": "busiest"})
    with pytest.raises(ProfileError, match=r"first_day.*'peak' \(got 'busiest'\)"):
        load_profile(bad)


def test_forecast_errors_are_named(tmp_path: Path) -> None:
    profile = load_profile("peak-day")
    with pytest.raises(shapes.ShapeError, match="--from-sim"):
        shapes.build_segments(profile)
    with pytest.raises(shapes.ShapeError, match="no arrivals_by_hour.csv"):
        shapes.build_segments(profile, tmp_path)
    short = _arrivals(tmp_path, [(1.0, 0.0, 0.0)] * 10)
    with pytest.raises(shapes.ShapeError, match="has 0 days"):
        shapes.build_segments(profile, short)


@pytest.mark.slow
def test_real_simulation_run_drives_forecast_and_mix(sim_run: Path) -> None:
    rows = shapes.read_arrivals(sim_run)
    assert len(rows) == 48
    peak = shapes.build_segments(load_profile("peak-day"), sim_run)
    assert len(peak) == 24 and shapes.peak_rate(peak) > 0
    smoke = load_profile("smoke")
    mixed = shapes.build_segments(smoke, sim_run)[0].shares
    assert mixed["citizen_online"] + mixed["assisted"] == pytest.approx(0.6)
    online = sum(r.online for r in rows) / sum(r.online + r.assisted for r in rows)
    assert mixed["citizen_online"] / 0.6 == pytest.approx(online)
