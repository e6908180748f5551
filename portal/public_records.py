"""Public views of the dossiers: tracking by receipt code (status only), the national portal's sync
feed and the statistics; read-only, with overdue judged by the one rule of ``dvclab.deadlines``.
"""

from __future__ import annotations

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


def statistics(db: Database) -> dict[str, Any]:
    now = utcnow()
    with db.read() as session:
        procedures = session.scalar(select(func.count()).select_from(Procedure)) or 0
        full = (
            session.scalar(
                select(func.count()).select_from(Procedure).where(Procedure.online_level == OnlineLevel.FULL)
            )
            or 0
        )
        by_status = {
            s: n for s, n in session.execute(select(Dossier.status, func.count()).group_by(Dossier.status))
        }
        decided = (
            session.scalar(select(func.count()).select_from(Dossier).where(Dossier.decided_at.is_not(None)))
            or 0
        )
        on_time = (
            session.scalar(
                select(func.count())
                .select_from(Dossier)
                .where(Dossier.decided_at.is_not(None), ~overdue_clause(Dossier.decided_at))
            )
            or 0
        )
        overdue_open = (
            session.scalar(
                select(func.count())
                .select_from(Dossier)
                .where(Dossier.status.in_((RECEIVED, SUPPLEMENT)), overdue_clause(now))
            )
            or 0
        )
        fee_dossiers = (
            session.scalar(
                select(func.count()).select_from(Dossier).where(Dossier.fee_vnd > 0, Dossier.status != DRAFT)
            )
            or 0
        )
        paid = session.scalar(select(func.count()).select_from(Dossier).where(Dossier.paid.is_(True))) or 0
        ratings, average = session.execute(select(func.count(), func.avg(Rating.score))).one()
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
        "ratings": ratings or 0,
        "rating_average": round(float(average), 3) if average is not None else None,
        "generated_at": now,
    }
