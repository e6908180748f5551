"""Deterministic tests of the working calendar: holidays, make-up days and working-time arithmetic."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from dvclab.sim.calendar import MINUTES_PER_DAY, WorkingCalendar

SESSIONS = [(450, 690), (810, 1020)]  # 07:30-11:30, 13:30-17:00: 450 working minutes


@pytest.fixture(scope="module")
def calendar() -> WorkingCalendar:
    return WorkingCalendar(dt.date(2024, 1, 1), 400, SESSIONS)


def minute(calendar: WorkingCalendar, date: dt.date, hh: int, mm: int = 0) -> float:
    return calendar.minute_of(date) + hh * 60 + mm


def test_tet_and_public_holidays_are_closed(calendar: WorkingCalendar) -> None:
    working = set(calendar.day_dates)
    for day in range(8, 15):
        assert dt.date(2024, 2, day) not in working  # Tết 2024, 8-14 Feb
    for date in (
        dt.date(2024, 1, 1),
        dt.date(2024, 4, 18),
        dt.date(2024, 4, 30),
        dt.date(2024, 5, 1),
        dt.date(2024, 9, 2),
        dt.date(2024, 9, 3),
    ):
        assert date not in working
    assert dt.date(2024, 5, 4) in working  # Saturday made up for 29 April
    assert dt.date(2024, 5, 11) not in working  # an ordinary Saturday
    assert calendar.minutes_per_working_day == 450


def test_work_stops_at_lunch_and_overnight(calendar: WorkingCalendar) -> None:
    friday = dt.date(2024, 3, 1)
    start = minute(calendar, friday, 11, 0)
    assert calendar.add_working(start, 30) == minute(calendar, friday, 11, 30)  # ends as lunch starts
    assert calendar.add_working(start, 60) == minute(calendar, friday, 14, 0)
    late = minute(calendar, friday, 16, 30)
    monday = dt.date(2024, 3, 4)
    assert calendar.add_working(late, 60) == minute(calendar, monday, 8, 0)  # over the weekend
    night = minute(calendar, friday, 22, 0)
    assert calendar.next_open(night) == minute(calendar, monday, 7, 30)
    assert calendar.to_working(calendar.from_working(12_345.0)) == pytest.approx(12_345.0)


def test_deadlines_count_working_days(calendar: WorkingCalendar) -> None:
    thursday = dt.date(2024, 2, 1)
    received = minute(calendar, thursday, 9, 0)
    assert calendar.due_time(received, 0) == minute(calendar, thursday, 17, 0)
    # 5 working days from Thu 1 Feb: Fri 2, Mon 5, Tue 6, Wed 7, then Tết closes 8-14, so Thu 15 Feb
    assert calendar.due_time(received, 5) == minute(calendar, dt.date(2024, 2, 15), 17, 0)
    # received after closing counts from the next working day
    evening = minute(calendar, thursday, 20, 0)
    assert calendar.due_time(evening, 0) == minute(calendar, dt.date(2024, 2, 2), 17, 0)


def test_always_open_calendar_is_continuous() -> None:
    calendar = WorkingCalendar(dt.date(2024, 1, 1), 10, SESSIONS, always_open=True)
    assert calendar.add_working(100.0, 5 * MINUTES_PER_DAY) == 100.0 + 5 * MINUTES_PER_DAY


def test_scenario_closures_close_the_centres(scenarios_dir) -> None:  # noqa: ANN001
    from dvclab.sim.channels import AT_COUNTER
    from dvclab.sim.model import ProvinceModel
    from dvclab.sim.procedures import build_procedures
    from dvclab.sim.scenario import load_scenario

    overrides = {"run.horizon_days": 3, "startup.warmup_days": 0, "counters.closures": ["2024-01-02"]}
    scenario, catalog = load_scenario(scenarios_dir / "nam-dinh-2024.yaml", **overrides)
    model = ProvinceModel(scenario, build_procedures(scenario, catalog))
    assert dt.date(2024, 1, 2) not in model.calendar.day_dates
    assert dt.date(2024, 1, 3) in model.calendar.day_dates
    # nobody comes to a counter on the closed day
    dossiers = model.dossiers
    day = dossiers.arrival // MINUTES_PER_DAY
    at_counter = np.isin(dossiers.channel, AT_COUNTER)
    assert not np.any(at_counter & (day == 1))
    assert np.any(at_counter & (day == 2))


def test_saturday_mornings_close_at_noon_for_deadlines() -> None:
    # with Saturday mornings open, Saturday is a working day whose close (11:30) is the due moment
    calendar = WorkingCalendar(dt.date(2024, 3, 1), 30, SESSIONS, saturday_morning=True)
    friday, saturday = dt.date(2024, 3, 8), dt.date(2024, 3, 9)
    assert calendar.due_time(minute(calendar, friday, 9, 0), 1) == minute(calendar, saturday, 11, 30)
    # received on Saturday at 12:00, after that close: counts from Monday
    saturday_noon = minute(calendar, saturday, 12, 0)
    assert calendar.due_time(saturday_noon, 0) == minute(calendar, dt.date(2024, 3, 11), 17, 0)


def test_same_day_cutoff_is_the_scenarios() -> None:
    late = WorkingCalendar(dt.date(2024, 3, 1), 30, SESSIONS, same_day_cutoff=16 * 60)
    tuesday = dt.date(2024, 3, 5)
    # 15:30 is before a 16:00 cutoff: still due the same day; after it, the next working day
    assert late.due_time(minute(late, tuesday, 15, 30), 0) == minute(late, tuesday, 17, 0)
    assert late.due_time(minute(late, tuesday, 16, 10), 0) == minute(late, dt.date(2024, 3, 6), 17, 0)
    # the cutoff only moves same-day procedures
    assert late.due_time(minute(late, tuesday, 16, 10), 1) == minute(late, dt.date(2024, 3, 6), 17, 0)


def test_add_working_in_one_call_is_bit_identical_to_the_two_conversions(calendar: WorkingCalendar) -> None:
    # the model's hot path: results (and the regression baseline) must not move by a single bit
    rng = np.random.default_rng(11)
    times = np.concatenate(
        [rng.uniform(-100.0, 380 * MINUTES_PER_DAY, 4000), np.asarray(calendar.session_starts[:50]),
         np.asarray(calendar.session_ends[:50]), [0.0, 449.9999999999999]]
    )
    minutes = np.concatenate([rng.exponential(200.0, len(times) - 10), [0.0] * 5, rng.uniform(0, 1e-9, 5)])
    for t, m in zip(times.tolist(), minutes.tolist(), strict=True):
        assert calendar.add_working(t, m) == calendar.from_working(calendar.to_working(t) + m), (t, m)


def test_times_and_deadlines_beyond_the_calendar_are_named_as_such(calendar: WorkingCalendar) -> None:
    from dvclab.sim.calendar import BeyondCalendar

    with pytest.raises(BeyondCalendar, match="time beyond the calendar"):
        calendar.next_open(calendar.end + 1.0)
    with pytest.raises(BeyondCalendar, match="deadline beyond the calendar"):
        calendar.close_of(len(calendar.day_close))
    assert issubclass(BeyondCalendar, ValueError)  # callers that caught ValueError still do
