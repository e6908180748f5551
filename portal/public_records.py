"""Public views of the dossiers: tracking by receipt code (status only), the national portal's sync
feed and the statistics; read-only, with overdue judged by the one rule of ``dvclab.deadlines``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import bindparam, func, select

from dvclab.catalog import OnlineLevel
from dvclab.portal.db import Database
from dvclab.portal.dossiers import judged_overdue, overdue_clause
from dvclab.portal.errors import ApiError
from dvclab.portal.models import DRAFT, RECEIVED, SUPPLEMENT, Dossier, Procedure, Rating, StatusEvent, utcnow

_TRACK = select(
    Dossier.procedure_code, Dossier.status, Dossier.submitted_at, Dossier.due_at, Dossier.decided_at
).where(Dossier.receipt_code == bindparam("code"))


def track(db: Database, receipt_code: str) -> dict[str, Any]:
    with db.read_conn() as conn:
        row = conn.execute(_TRACK, {"code": receipt_code}).first()
    if row is None:
        raise ApiError(404, "Not found", "no dossier has this receipt code")
    overdue = judged_overdue(row.status, row.due_at, row.decided_at, None)
    return {
        "receipt_code": receipt_code,
        "procedure_code": row.procedure_code,
        "status": row.status,
        "submitted_at": row.submitted_at,
        "due_at": row.due_at,
        "overdue": overdue,
    }


def sync_feed(db: Database, cursor: int, limit: int) -> dict[str, Any]:
    with db.read() as session:
        rows = session.execute(
            select(
                StatusEvent.id,
                Dossier.receipt_code,
                Dossier.procedure_code,
                StatusEvent.status,
                StatusEvent.at,
            )
            .join(Dossier, Dossier.id == StatusEvent.dossier_id)
            .where(StatusEvent.id > cursor)
            .order_by(StatusEvent.id)
            .limit(limit)
        ).all()
    items = [
        {"cursor": r[0], "receipt_code": r[1], "procedure_code": r[2], "status": r[3], "at": r[4]}
        for r in rows
    ]
    return {"items": items, "next_cursor": items[-1]["cursor"] if items else cursor}


# The statistics in four short reads: the dossiers per status (from the index on status), every other
# dossier count in one pass over the table (aggregates with FILTER), the catalog, the ratings. Nine
# separate ORM counts scanned the dossiers table six times per request (#14: 37 ms at 500 dossiers,
# 530 ms at 50,000 on this machine; mostly ORM overhead at the former size, scans at the latter).
# A single GROUP BY status with the counts inside is slower: SQLite walks the status index and fetches
# every row from the table in index order.
_BY_STATUS = select(Dossier.status, func.count()).group_by(Dossier.status)
_DOSSIER_COUNTS = select(
    func.count().filter(Dossier.decided_at.is_not(None)),
    func.count().filter(Dossier.decided_at.is_not(None), ~overdue_clause(Dossier.decided_at)),
    func.count().filter(Dossier.status.in_((RECEIVED, SUPPLEMENT)), overdue_clause(bindparam("now"))),
    func.count().filter(Dossier.fee_vnd > 0, Dossier.status != DRAFT),
    func.count().filter(Dossier.paid.is_(True)),
    # Filed (beyond a draft) by the citizen online, or by an officer on their behalf at the counter: the
    # online rate of real self-service is the former's share.
    func.count().filter(Dossier.status != DRAFT, Dossier.filed_by_id.is_(None)),
    func.count().filter(Dossier.status != DRAFT, Dossier.filed_by_id.is_not(None)),
)
_CATALOG_COUNTS = select(func.count(), func.count().filter(Procedure.online_level == OnlineLevel.FULL))
_RATINGS = select(func.count(), func.avg(Rating.score))


def statistics(db: Database) -> dict[str, Any]:
    now = utcnow()
    with db.read_conn() as conn:
        by_status = {status: n for status, n in conn.execute(_BY_STATUS)}
        counts = conn.execute(_DOSSIER_COUNTS, {"now": now}).one()
        decided, on_time, overdue_open, fee_dossiers, paid, filed_online, filed_assisted = counts
        procedures, full = conn.execute(_CATALOG_COUNTS).one()
        ratings, average = conn.execute(_RATINGS).one()
    return {
        "procedures": procedures,
        "procedures_full_online": full,
        "dossiers": sum(by_status.values()),
        "by_status": by_status,
        "decided": decided,
        "decided_on_time": on_time,
        "on_time_rate": round(on_time / decided, 4) if decided else None,
        "overdue_open": overdue_open,
        "fee_dossiers": fee_dossiers,
        "paid_online": paid,
        "filed_online": filed_online,
        "filed_assisted": filed_assisted,
        "ratings": ratings,
        "rating_average": round(float(average), 3) if average is not None else None,
        "generated_at": now,
    }


class StatisticsCache:
    """The statistics of one worker, recomputed at most every ``ttl_s`` seconds, one computation at a time.

    Requests that find the figures stale while another request is recomputing them wait for that
    computation instead of starting their own: before, every request arriving during a refresh ran the
    whole aggregate again on the same cores. The age is counted from the start of the computation, so
    no answer is older than ``ttl_s`` plus one computation; ``generated_at`` says when it was taken.
    """

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._lock = asyncio.Lock()
        self._taken = -math.inf
        self._figures: dict[str, Any] | None = None

    def _fresh(self) -> dict[str, Any] | None:
        return self._figures if time.monotonic() - self._taken < self.ttl_s else None

    async def get(self, compute: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
        figures = self._fresh()
        if figures is not None:
            return figures
        async with self._lock:
            figures = self._fresh()  # refreshed by the request this one waited for
            if figures is None:
                taken = time.monotonic()
                figures = await compute()
                self._figures, self._taken = figures, taken
            return figures
