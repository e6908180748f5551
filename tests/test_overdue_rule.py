"""One rule for due dates and overdue: the simulation and the portal agree on the same dates.

Every case is run through both sides: the simulation's calendar as the shipped Nam Định scenario builds it
(due time and the KPI's overdue test), and the reference portal's own services on a SQLite database (its
due_at at receipt, the overdue flag of a decided and of an open dossier, and the public statistics).
Times in the table are Vietnamese local time; the portal stores UTC.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete

from dvclab import deadlines
from dvclab.deadlines import VIETNAM
from dvclab.portal import dossiers, public_records
from dvclab.portal.auth import Principal
from dvclab.portal.db import Database
from dvclab.portal.models import APPROVED, RECEIVED, SUBMITTED, Account, Dossier, Procedure, StatusEvent
from dvclab.portal.settings import Settings
from dvclab.sim.calendar import WorkingCalendar
from dvclab.sim.model import ProvinceModel
from dvclab.sim.procedures import build_procedures
from dvclab.sim.scenario import load_scenario

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "sim" / "nam-dinh-2024.yaml"


@dataclass(frozen=True)
class Case:
    what: str
    received: dt.datetime  # local time
    deadline_days: int
    issued: dt.datetime  # local time: the decision, or "now" for a dossier still open
    due: dt.datetime  # expected due moment, local time
    overdue: bool


def case(what: str, received: str, deadline_days: int, issued: str, due: str, overdue: bool) -> Case:
    parse = dt.datetime.fromisoformat
    return Case(what, parse(received), deadline_days, parse(issued), parse(due), overdue)


# fmt: off
CASES = [case(*row) for row in (
    # what                           received        days  issued (or now)    due                overdue
    ("decided 16:59 on the due day",  "2024-03-05 09:00", 3, "2024-03-08 16:59", "2024-03-08 17:00", False),
    ("decided 17:01 on the due day",  "2024-03-05 09:00", 3, "2024-03-08 17:01", "2024-03-08 17:00", True),
    ("decided at 17:00 sharp",        "2024-03-05 09:00", 3, "2024-03-08 17:00", "2024-03-08 17:00", False),
    ("a weekend inside",              "2024-03-07 10:00", 2, "2024-03-11 17:01", "2024-03-11 17:00", True),
    ("received on a Saturday",        "2024-03-09 10:00", 1, "2024-03-12 16:59", "2024-03-12 17:00", False),
    ("received after close",          "2024-03-08 17:30", 1, "2024-03-12 09:00", "2024-03-12 17:00", False),
    ("received at 17:00 sharp",       "2024-03-08 17:00", 0, "2024-03-11 16:59", "2024-03-11 17:00", False),
    ("received before opening",       "2024-03-05 06:00", 0, "2024-03-05 17:01", "2024-03-05 17:00", True),
    ("same day, before cutoff",       "2024-03-05 14:59", 0, "2024-03-05 17:01", "2024-03-05 17:00", True),
    ("same day, after cutoff",        "2024-03-05 15:30", 0, "2024-03-05 17:01", "2024-03-06 17:00", False),
    ("Tết 2024 (8-14 Feb)",           "2024-02-07 09:00", 1, "2024-02-15 16:59", "2024-02-15 17:00", False),
    ("5 days across Tết",             "2024-02-01 09:00", 5, "2024-02-16 08:00", "2024-02-15 17:00", True),
    ("received during Tết",           "2024-02-10 10:00", 0, "2024-02-15 17:01", "2024-02-15 17:00", True),
    ("29/4 (swap), 30/4, 1/5",        "2024-04-26 10:00", 1, "2024-05-02 16:59", "2024-05-02 17:00", False),
    ("make-up Saturday 4 May",        "2024-04-26 10:00", 3, "2024-05-06 09:00", "2024-05-04 17:00", True),
    ("Hùng Kings' day",               "2024-04-17 09:00", 1, "2024-04-19 17:01", "2024-04-19 17:00", True),
    ("National Day (2-3 Sep)",        "2024-08-30 09:00", 1, "2024-09-04 16:59", "2024-09-04 17:00", False),
)]
# fmt: on
IDS = [c.what for c in CASES]


def to_utc(local: dt.datetime) -> dt.datetime:
    """Naive UTC, as the portal stores times."""
    return local.replace(tzinfo=VIETNAM).astimezone(dt.UTC).replace(tzinfo=None)


def to_local(utc: dt.datetime) -> dt.datetime:
    return utc.replace(tzinfo=dt.UTC).astimezone(VIETNAM).replace(tzinfo=None)


# --- the simulation's side -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sim_calendar() -> WorkingCalendar:
    """The calendar the simulation runs on, built by the model from the shipped scenario."""
    overrides = {"run.start_date": "2024-01-01", "run.horizon_days": 2, "startup.warmup_days": 0}
    scenario, catalog = load_scenario(SCENARIO, **overrides)
    return ProvinceModel(scenario, build_procedures(scenario, catalog)).calendar


def sim_minute(calendar: WorkingCalendar, local: dt.datetime) -> float:
    return calendar.minute_of(local.date()) + local.hour * 60 + local.minute


def sim_verdict(calendar: WorkingCalendar, case: Case) -> tuple[dt.datetime, bool]:
    received = sim_minute(calendar, case.received)
    due = calendar.due_time(received, case.deadline_days)
    # the KPIs judge whole arrays of dossiers
    overdue = deadlines.is_overdue(np.array([sim_minute(calendar, case.issued)]), np.array([due]))
    due_local = dt.datetime.combine(calendar.epoch, dt.time()) + dt.timedelta(minutes=due)
    return due_local, bool(overdue[0])


# --- the portal's side -----------------------------------------------------------------------------------

OFFICER = Principal(id=1, national_id="000000000001", role="officer", pool=None, token_hash="-")


@pytest.fixture(scope="module")
def portal_db(tmp_path_factory: pytest.TempPathFactory) -> Database:
    path = tmp_path_factory.mktemp("overdue") / "portal.sqlite3"
    db = Database(Settings(db_url=f"sqlite:///{path}"))
    db.create_schema()
    with db.write() as session:
        session.add(
            Account(
                id=1, national_id=OFFICER.national_id, full_name="officer", role="officer", password_hash="-"
            )
        )
        for n in sorted({c.deadline_days for c in CASES}):
            session.add(
                Procedure(
                    code=f"T-{n}",
                    name=f"{n} days",
                    group="test",
                    level="commune",
                    agency="test",
                    online_level="full",
                    deadline_days=n,
                    fee_vnd=0,
                    requires_originals=False,
                    position=n,
                )
            )
    yield db
    db.dispose()


def portal_verdict(db: Database, case: Case, monkeypatch: pytest.MonkeyPatch) -> tuple[dt.datetime, bool]:
    """Receive two dossiers at ``received``; at ``issued`` decide one, leave the other open."""
    with db.write() as session:
        session.execute(delete(StatusEvent))
        session.execute(delete(Dossier))
        for key in ("decided", "open"):
            session.add(
                Dossier(
                    owner_id=1,
                    procedure_code=f"T-{case.deadline_days}",
                    pool="commune.test",
                    status=SUBMITTED,
                    idempotency_key=key,
                    request_hash="-",
                    delivery="electronic",
                    receipt_code=f"HS{key.upper():A<16}",
                    fee_vnd=0,
                    submitted_at=to_utc(case.received),
                )
            )
    with db.read() as session:
        ids = {d.idempotency_key: (d.id, d.receipt_code) for d in session.query(Dossier)}

    monkeypatch.setattr(dossiers, "utcnow", lambda: to_utc(case.received))
    received = [dossiers.transition(db, OFFICER, i, (SUBMITTED,), RECEIVED, {}) for i, _ in ids.values()]
    assert received[0]["due_at"] == received[1]["due_at"]
    monkeypatch.setattr(dossiers, "utcnow", lambda: to_utc(case.issued))
    monkeypatch.setattr(public_records, "utcnow", lambda: to_utc(case.issued))
    decided = dossiers.transition(
        db, OFFICER, ids["decided"][0], (RECEIVED,), APPROVED, {"decided_at": to_utc(case.issued)}
    )
    overdue = decided["overdue"]
    # every way the portal tells overdue says the same
    assert public_records.track(db, ids["decided"][1])["overdue"] is overdue
    assert public_records.track(db, ids["open"][1])["overdue"] is overdue  # open, judged at the same moment
    stats = public_records.statistics(db)
    assert (stats["decided"], stats["decided_on_time"]) == (1, 0 if overdue else 1)
    assert stats["overdue_open"] == (1 if overdue else 0)
    return to_local(decided["due_at"]), overdue


# --- both ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_simulation_and_portal_agree(
    case: Case, sim_calendar: WorkingCalendar, portal_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = (case.due, case.overdue)
    assert sim_verdict(sim_calendar, case) == expected
    assert portal_verdict(portal_db, case, monkeypatch) == expected
    assert deadlines.due_at(case.received, case.deadline_days) == case.due


def test_due_at_reads_aware_times_in_vietnamese_time() -> None:
    # 02:00 UTC is 09:00 in Hanoi: a same-day procedure is due at 17:00 local, 10:00 UTC
    received = dt.datetime(2024, 3, 5, 2, 0, tzinfo=dt.UTC)
    due = deadlines.due_at(received, 0)
    assert due == dt.datetime(2024, 3, 5, 17, 0, tzinfo=VIETNAM)
    assert due.astimezone(dt.UTC) == dt.datetime(2024, 3, 5, 10, 0, tzinfo=dt.UTC)
    # 11:00 UTC is 18:00 in Hanoi: after close, so it counts from Wednesday
    assert deadlines.due_at(dt.datetime(2024, 3, 5, 11, 0, tzinfo=dt.UTC), 0).date() == dt.date(2024, 3, 6)


def test_long_deadlines_and_year_end() -> None:
    # received on the last working day of 2024, 23 working days (first land certificate): into 2025
    due = deadlines.due_at(dt.datetime(2024, 12, 31, 9, 0), 23)
    assert due.year == 2025 and due.time() == dt.time(17, 0)
    assert deadlines.due_at(dt.datetime(2024, 3, 5, 9, 0), 400) > dt.datetime(2025, 9, 1)
    with pytest.raises(ValueError, match="working days >= 0"):
        deadlines.due_at(dt.datetime(2024, 3, 5, 9, 0), -1)
