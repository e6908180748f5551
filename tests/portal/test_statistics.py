"""The public statistics (#14): the same answers as counting each figure on its own, in a few short reads
instead of one scan of the dossiers per figure, and one computation at a time per worker."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, insert, select

from dvclab.portal import public_records
from dvclab.portal.db import Database, load_procedures
from dvclab.portal.models import (
    APPROVED,
    DRAFT,
    RECEIVED,
    REJECTED,
    RETURNED,
    SUBMITTED,
    SUPPLEMENT,
    Account,
    Dossier,
    Procedure,
    Rating,
    utcnow,
)
from dvclab.portal.settings import Settings

DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    path: Path = tmp_path_factory.mktemp("stats") / "portal.sqlite3"
    settings = Settings(db_url=f"sqlite:///{path}", sqlite_synchronous="NORMAL")
    database = Database(settings)
    database.create_schema()
    load_procedures(database, settings.catalog_path)
    yield database
    database.dispose()


def _dossier(n: int, code: str, status: str, **fields: Any) -> dict[str, Any]:
    return {
        "owner_id": 1,
        "procedure_code": code,
        "pool": "commune.justice",
        "status": status,
        "idempotency_key": f"k{n}",
        "request_hash": "h",
        "delivery": "electronic",
        "receipt_code": None if status == DRAFT else f"HS{n:016d}",
        "fee_vnd": 0,
        "paid": False,
        **fields,
    }


def _fill(db: Database) -> list[dict[str, Any]]:
    """Every case a count could get wrong: decided on time, late, at the due moment, without a due date;
    open and overdue, open and not yet due, open without a due date; drafts with fees; paid ones."""
    now = utcnow()
    with db.read() as session:
        code = session.scalar(select(Procedure.code))
    rows: list[dict[str, Any]] = [
        _dossier(1, code, APPROVED, due_at=now - 5 * DAY, decided_at=now - 6 * DAY, fee_vnd=4000, paid=True),
        _dossier(2, code, REJECTED, due_at=now - 5 * DAY, decided_at=now - 4 * DAY),
        _dossier(3, code, RETURNED, due_at=now - 9 * DAY, decided_at=now - 9 * DAY, fee_vnd=1, paid=True),
        _dossier(4, code, APPROVED, due_at=None, decided_at=now - DAY),
        _dossier(5, code, RECEIVED, due_at=now - DAY),
        _dossier(6, code, RECEIVED, due_at=now + 3 * DAY, fee_vnd=50_000),
        _dossier(7, code, SUPPLEMENT, due_at=now - 2 * DAY),
        _dossier(8, code, SUPPLEMENT, due_at=None),
        _dossier(9, code, SUBMITTED, due_at=now - 2 * DAY, fee_vnd=2000, paid=True),
        _dossier(10, code, DRAFT, fee_vnd=2000),
        _dossier(11, code, DRAFT),
        # Filed at the counter by officer 2 on the citizen's behalf: submitted, and still a draft.
        _dossier(12, code, SUBMITTED, filed_by_id=2),
        _dossier(13, code, DRAFT, filed_by_id=2),
    ]
    with db.write() as session:
        session.execute(
            insert(Account),
            [
                {"national_id": "036090000001", "full_name": "x", "role": "citizen", "password_hash": "h"},
                {"national_id": "036080000001", "full_name": "y", "role": "officer", "password_hash": "h"},
            ],
        )
        session.execute(insert(Dossier), rows)
        ids = list(session.scalars(select(Dossier.id).order_by(Dossier.id)))
        session.execute(
            insert(Rating), [{"dossier_id": ids[0], "score": 5}, {"dossier_id": ids[2], "score": 2}]
        )
    return rows


def _counted_one_by_one(rows: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
    """The figures as the rule states them, row by row (the oracle)."""
    decided = [r for r in rows if r.get("decided_at")]
    on_time = [r for r in decided if r["due_at"] is not None and r["decided_at"] <= r["due_at"]]
    by_status: dict[str, int] = {}
    for r in rows:
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
    return {
        "dossiers": len(rows),
        "by_status": by_status,
        "decided": len(decided),
        "decided_on_time": len(on_time),
        "on_time_rate": round(len(on_time) / len(decided), 4),
        "overdue_open": sum(
            1 for r in rows if r["status"] in (RECEIVED, SUPPLEMENT) and r["due_at"] and now > r["due_at"]
        ),
        "fee_dossiers": sum(1 for r in rows if r["fee_vnd"] > 0 and r["status"] != DRAFT),
        "paid_online": sum(1 for r in rows if r["paid"]),
        "filed_online": sum(1 for r in rows if r["status"] != DRAFT and r.get("filed_by_id") is None),
        "filed_assisted": sum(1 for r in rows if r["status"] != DRAFT and r.get("filed_by_id") is not None),
        "ratings": 2,
        "rating_average": 3.5,
    }


def test_statistics_answer_as_counting_each_figure_alone_in_few_reads(db: Database) -> None:
    rows = _fill(db)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(db.read_engine, "before_cursor_execute", seen)
    try:
        figures = public_records.statistics(db)
    finally:
        event.remove(db.read_engine, "before_cursor_execute", seen)
    expected = _counted_one_by_one(rows, figures["generated_at"])
    assert {k: figures[k] for k in expected} == expected
    assert figures["procedures"] == 1679 and figures["procedures_full_online"] == 868
    assert expected["overdue_open"] == 2 and expected["decided_on_time"] == 2  # the cases are exercised
    assert expected["filed_assisted"] == 1 and expected["filed_online"] == 9
    # a read of the dossiers per figure (8 of them, 10 SELECTs) made the endpoint slow under load
    reads = [s for s in statements if s.startswith("SELECT")]
    assert len(reads) == 4 and sum("FROM dossiers" in s for s in reads) == 2, reads


def test_statistics_are_computed_once_for_requests_that_arrive_together() -> None:
    computed = 0

    async def compute() -> dict[str, Any]:
        nonlocal computed
        computed += 1
        await asyncio.sleep(0.05)  # a slow aggregate: the other requests arrive meanwhile
        return {"n": computed}

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
        cache = public_records.StatisticsCache(ttl_s=0.3)
        together = await asyncio.gather(*(cache.get(compute) for _ in range(20)))
        within_ttl = [await cache.get(compute) for _ in range(3)]
        await asyncio.sleep(0.3)
        return together, within_ttl, await cache.get(compute)

    together, within_ttl, after_ttl = asyncio.run(scenario())
    assert together == [{"n": 1}] * 20 and within_ttl == [{"n": 1}] * 3
    assert after_ttl == {"n": 2} and computed == 2


def test_statistics_without_cache_recompute_for_every_request() -> None:
    calls = 0

    async def compute() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        return {"n": calls}

    async def scenario() -> list[dict[str, Any]]:
        cache = public_records.StatisticsCache(ttl_s=0)  # the functional tests' setting
        return [await cache.get(compute) for _ in range(3)]

    assert asyncio.run(scenario()) == [{"n": 1}, {"n": 2}, {"n": 3}]
