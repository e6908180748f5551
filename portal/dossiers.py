"""Dossier (hồ sơ) services: synchronous, one transaction each, run off the event loop.

Every state change is a conditional UPDATE (`WHERE status IN (...)`), so two concurrent requests can
never both apply the same transition; the loser re-reads and gets the idempotent answer or a 409.
Over 400 lines on purpose: it is one state machine (the citizen's and the officer's transitions), kept
in one module so every conditional UPDATE can be read beside the others; the read-only public views
are in ``public_records``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, bindparam, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dvclab import deadlines
from dvclab.portal.auth import Principal, audit
from dvclab.portal.db import Database
from dvclab.portal.errors import ApiError
from dvclab.portal.models import (
    APPROVED,
    ASSISTED,
    DECIDED,
    DRAFT,
    ONLINE,
    RECEIVED,
    RETURNED,
    SUBMITTED,
    SUPPLEMENT,
    AuditEvent,
    Dossier,
    DossierFile,
    Payment,
    PaymentEvent,
    Procedure,
    Rating,
    StatusEvent,
    utcnow,
)

NOT_FOUND = ApiError(404, "Not found", "no such dossier")


def new_receipt_code() -> str:
    """80 random bits in base32 (ASVS 6.6.3 asks for at least 64): 'HS' + 16 characters."""
    return "HS" + base64.b32encode(secrets.token_bytes(10)).decode()


def request_fingerprint(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def due_at(received: datetime, deadline_days: int) -> datetime:
    """The due moment (naive UTC, as stored) of a dossier received at ``received`` (naive UTC): the
    shared rule of ``dvclab.deadlines``, on the Vietnamese working-day calendar and office hours."""
    due = deadlines.due_at(received.replace(tzinfo=UTC), deadline_days)
    return due.astimezone(UTC).replace(tzinfo=None)


def judged_overdue(status: str, due: datetime | None, decided: datetime | None, now: datetime | None) -> bool:
    """A decided dossier is overdue if decided after its due moment; an open one once that has passed."""
    if due is None:
        return False
    finished = decided if status in DECIDED else None
    return bool(deadlines.is_overdue(finished or now or utcnow(), due))


def is_overdue(d: Dossier, now: datetime | None = None) -> bool:
    return judged_overdue(d.status, d.due_at, d.decided_at, now)


def overdue_clause(issued: Any) -> ColumnElement[bool]:
    """``deadlines.is_overdue`` as SQL, for the statistics' counts."""
    return deadlines.is_overdue(issued, Dossier.due_at)


def summary(d: Any) -> dict[str, Any]:
    """A dossier's summary, from the ORM object or a Core row of SUMMARY_COLUMNS."""
    return {
        "id": d.id,
        "procedure_code": d.procedure_code,
        "status": d.status,
        "receipt_code": d.receipt_code,
        "fee_vnd": d.fee_vnd,
        "paid": d.paid,
        "file_count": d.file_count,
        "created_at": d.created_at,
        "submitted_at": d.submitted_at,
        "due_at": d.due_at,
        "overdue": judged_overdue(d.status, d.due_at, d.decided_at, None),
        "channel": ASSISTED if d.filed_by_id is not None else ONLINE,
    }


# What summary() reads, for the Core statements of the hot paths (no ORM unit of work, no identity map).
SUMMARY_COLUMNS = (
    Dossier.id,
    Dossier.procedure_code,
    Dossier.status,
    Dossier.receipt_code,
    Dossier.fee_vnd,
    Dossier.paid,
    Dossier.file_count,
    Dossier.created_at,
    Dossier.submitted_at,
    Dossier.due_at,
    Dossier.decided_at,
    Dossier.filed_by_id,
)
PAYMENT_COLUMNS = (
    Payment.id,
    Payment.dossier_id,
    Payment.amount_vnd,
    Payment.currency,
    Payment.status,
    Payment.gateway_ref,
    Payment.checkout_url,
    Payment.created_at,
    Payment.paid_at,
)


def _reach_of(role: str) -> ColumnElement[bool]:
    """The dossiers a filer of ``role`` may act on (bound parameter ``principal``: their account id): a
    citizen their own; an officer those they filed at the counter on a citizen's behalf, and no other
    citizen's (object-level authorisation holds for both)."""
    if role == "officer":
        return Dossier.filed_by_id == bindparam("principal")
    return Dossier.owner_id == bindparam("principal")


def reach(principal: Principal) -> ColumnElement[bool]:
    return _reach_of(principal.role)


def _by_role(build: Any) -> dict[str, Any]:
    """A hot statement built once per filer role (its ``reach`` differs), bound at execution."""
    return {role: build(role) for role in ("citizen", "officer")}


def payment_info(p: Any) -> dict[str, Any]:
    return {
        "id": p.id,
        "dossier_id": p.dossier_id,
        "amount_vnd": p.amount_vnd,
        "currency": p.currency,
        "status": p.status,
        "gateway_ref": p.gateway_ref,
        "checkout_url": p.checkout_url,
        "created_at": p.created_at,
        "paid_at": p.paid_at,
    }


def _own(session: Session, principal: Principal, dossier_id: int) -> Dossier:
    query = select(Dossier).where(Dossier.id == dossier_id, reach(principal))
    dossier = session.scalar(query, {"principal": principal.id})
    if dossier is None:
        raise NOT_FOUND
    return dossier


_FEED_LOCK = 727_001  # an arbitrary application-wide advisory lock key


def record_status(session: Session | Connection, dossier_id: int, status: str, at: datetime) -> None:
    """Append to the status log that the national sync feed reads by increasing id.

    On PostgreSQL ids come from a sequence before commit, so two transactions can commit out of id
    order and a feed reader could step past an event that commits later. A transaction-scoped
    advisory lock taken before the insert makes id order equal commit order (held for the rest of a
    short transaction). SQLite already runs one writer at a time.
    """
    dialect = session.dialect if isinstance(session, Connection) else session.get_bind().dialect
    if dialect.name == "postgresql":
        session.execute(_ADVISORY_LOCK, {"key": _FEED_LOCK})
    session.execute(_NEW_STATUS, {"dossier_id": dossier_id, "status": status, "at": at})


_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_NEW_STATUS = insert(StatusEvent)


def note_foreign_access(db: Database, principal: Principal, dossier_id: int, ip: str) -> None:
    """After a 404: if the dossier exists but belongs to someone else, that is a BOLA probe."""
    with db.read() as session:
        exists = session.scalar(select(Dossier.id).where(Dossier.id == dossier_id))
    if exists is not None:
        with db.write() as session:
            audit(session, "foreign_dossier", principal.national_id, ip, f"dossier {dossier_id}")


# --- citizen -----------------------------------------------------------------------------------------


_CREATE = insert(Dossier).returning(*SUMMARY_COLUMNS)
_AUDIT = insert(AuditEvent)
_REPLAY = select(*SUMMARY_COLUMNS, Dossier.request_hash).where(
    Dossier.owner_id == bindparam("owner"), Dossier.idempotency_key == bindparam("key")
)


def create(
    db: Database,
    owner_id: int,
    procedure: dict[str, Any],
    body: dict[str, Any],
    key: str,
    filed_by: Principal | None = None,
    ip: str = "",
    citizen: str = "",
) -> tuple[dict[str, Any], bool]:
    """A draft for ``owner_id``. ``filed_by``: the officer filing it at the counter on the citizen's
    behalf (national id ``citizen``), recorded on the dossier and in the audit table, in the same
    transaction. One Core INSERT … RETURNING (the ORM's unit of work cost as much CPU as the rest of the
    request)."""
    officer = filed_by.id if filed_by is not None else None
    fingerprint = request_fingerprint({**body, "filed_by": officer})
    try:
        with db.write_conn() as conn:
            row = conn.execute(
                _CREATE,
                {
                    "owner_id": owner_id,
                    "procedure_code": procedure["code"],
                    "pool": f"{procedure['level']}.{procedure['agency']}",
                    "status": DRAFT,
                    "idempotency_key": key,
                    "request_hash": fingerprint,
                    "delivery": body["delivery"],
                    "note": body["note"],
                    "fee_vnd": procedure["fee_vnd"],
                    "created_at": utcnow(),
                    "filed_by_id": officer,
                },
            ).one()
            if filed_by is not None:
                conn.execute(
                    _AUDIT,
                    {
                        "at": utcnow(),
                        "event": "assisted_filing",
                        "subject": filed_by.national_id,
                        "client_ip": ip[:64],
                        "detail": f"dossier {row.id} for {citizen}",
                    },
                )
            return summary(row), True
    except IntegrityError:
        pass  # the key was used before (or concurrently): answer with the first dossier
    with db.read_conn() as conn:
        existing = conn.execute(_REPLAY, {"owner": owner_id, "key": key}).first()
    if existing is None:
        raise ApiError(409, "Conflict", "the dossier could not be created; retry")
    if existing.request_hash != fingerprint:
        raise ApiError(
            422, "Unprocessable content", "this Idempotency-Key was already used with a different request"
        )
    return summary(existing), False


def list_mine(db: Database, principal: Principal, page: int, page_size: int) -> dict[str, Any]:
    with db.read() as session:
        where = Dossier.owner_id == principal.id
        total = session.scalar(select(func.count()).select_from(Dossier).where(where)) or 0
        rows = session.scalars(
            select(Dossier)
            .where(where)
            .order_by(Dossier.id.desc())
            .offset((page - 1) * page_size)
            .limit(page_size)
        ).all()
    return {"items": [summary(d) for d in rows], "page": page, "page_size": page_size, "total": total}


def _detail(session: Session, d: Dossier) -> dict[str, Any]:
    files = session.execute(
        select(
            DossierFile.id,
            DossierFile.filename,
            DossierFile.media_type,
            DossierFile.size,
            DossierFile.sha256,
            DossierFile.created_at,
        )
        .where(DossierFile.dossier_id == d.id)
        .order_by(DossierFile.id)
    ).all()
    payment = session.scalar(select(Payment).where(Payment.dossier_id == d.id))
    history = session.execute(
        select(StatusEvent.status, StatusEvent.at)
        .where(StatusEvent.dossier_id == d.id)
        .order_by(StatusEvent.id)
    ).all()
    return {
        **summary(d),
        "owner_id": d.owner_id,
        "delivery": d.delivery,
        "note": d.note,
        "officer_note": d.officer_note,
        "received_at": d.received_at,
        "decided_at": d.decided_at,
        "returned_at": d.returned_at,
        "result_channel": d.result_channel,
        "files": [dict(f._mapping) for f in files],
        "payment": payment_info(payment) if payment else None,
        "history": [{"status": h.status, "at": h.at} for h in history],
    }


def detail(db: Database, principal: Principal, dossier_id: int) -> dict[str, Any]:
    with db.read() as session:
        return _detail(session, _own(session, principal, dossier_id))


def read_file(db: Database, principal: Principal, dossier_id: int, file_id: int) -> tuple[bytes, str, str]:
    with db.read() as session:
        row = session.execute(
            select(DossierFile.content, DossierFile.media_type, DossierFile.filename)
            .join(Dossier, Dossier.id == DossierFile.dossier_id)
            .where(DossierFile.id == file_id, Dossier.id == dossier_id, Dossier.owner_id == principal.id)
        ).first()
    if row is None:
        raise ApiError(404, "Not found", "no such file")
    return row[0], row[1], row[2]


_RESERVE_FILE = _by_role(
    lambda role: (
        update(Dossier)
        .where(
            Dossier.id == bindparam("dossier"),
            _reach_of(role),
            Dossier.status.in_((DRAFT, SUPPLEMENT)),
            Dossier.file_count < bindparam("max_files"),
            Dossier.file_bytes + bindparam("size") <= bindparam("max_bytes"),
        )
        .values(file_count=Dossier.file_count + 1, file_bytes=Dossier.file_bytes + bindparam("size"))
    )
)
_FILE_STATE = _by_role(
    lambda role: select(Dossier.status, Dossier.file_count).where(
        Dossier.id == bindparam("dossier"), _reach_of(role)
    )
)
_NEW_FILE = insert(DossierFile).returning(DossierFile.id)


def store_file(
    db: Database,
    principal: Principal,
    dossier_id: int,
    filename: str,
    media_type: str,
    content: bytes,
    max_files: int,
    max_bytes: int,
) -> dict[str, Any]:
    size = len(content)
    digest = hashlib.sha256(content).hexdigest()
    now = utcnow()
    with db.write_conn() as conn:
        # Count and quota are reserved by one conditional UPDATE, so concurrent uploads cannot pass
        # the limits together (ASVS 5.2.4).
        params = {"dossier": dossier_id, "principal": principal.id, "size": size}
        result = conn.execute(
            _RESERVE_FILE[principal.role], {**params, "max_files": max_files, "max_bytes": max_bytes}
        )
        if result.rowcount != 1:
            dossier = conn.execute(_FILE_STATE[principal.role], params).first()
            if dossier is None:
                raise NOT_FOUND
            if dossier.status not in (DRAFT, SUPPLEMENT):
                raise ApiError(409, "Conflict", f"files cannot be added to a {dossier.status} dossier")
            if dossier.file_count >= max_files:
                raise ApiError(
                    422,
                    "Unprocessable content",
                    f"a dossier holds at most {max_files} files",
                    kind="too-many-files",
                )
            raise ApiError(
                413, "Content too large", f"the dossier's files may total at most {max_bytes} bytes"
            )
        file_id = conn.execute(
            _NEW_FILE,
            {
                "dossier_id": dossier_id,
                "filename": filename,
                "media_type": media_type,
                "size": size,
                "sha256": digest,
                "content": content,
                "created_at": now,
            },
        ).scalar_one()
    return {
        "id": file_id,
        "filename": filename,
        "media_type": media_type,
        "size": size,
        "sha256": digest,
        "created_at": now,
    }


_SUBMIT_STATE = _by_role(
    lambda role: select(Dossier.status, Dossier.file_count, Dossier.receipt_code, Dossier.submitted_at).where(
        Dossier.id == bindparam("dossier"), _reach_of(role)
    )
)
_SUBMIT = (
    update(Dossier)
    .where(Dossier.id == bindparam("dossier"), Dossier.status.in_((DRAFT, SUPPLEMENT)))
    .values(status=SUBMITTED, receipt_code=bindparam("code"), submitted_at=bindparam("now"))
)


def submit(db: Database, principal: Principal, dossier_id: int) -> tuple[dict[str, Any], bool]:
    now = utcnow()
    params = {"dossier": dossier_id, "principal": principal.id}
    with db.write_conn() as conn:
        dossier = conn.execute(_SUBMIT_STATE[principal.role], params).first()
        if dossier is None:
            raise NOT_FOUND
        if dossier.status in (DRAFT, SUPPLEMENT):
            if dossier.file_count == 0:
                raise ApiError(409, "Conflict", "attach at least one document before submitting")
            code = dossier.receipt_code or new_receipt_code()
            result = conn.execute(_SUBMIT, {"dossier": dossier_id, "code": code, "now": now})
            if result.rowcount == 1:
                record_status(conn, dossier_id, SUBMITTED, now)
                return {
                    "id": dossier_id,
                    "status": SUBMITTED,
                    "receipt_code": code,
                    "submitted_at": now,
                }, True
            dossier = conn.execute(_SUBMIT_STATE[principal.role], params).one()
        if dossier.receipt_code and dossier.status not in (DRAFT, SUPPLEMENT):
            # Already submitted: the same receipt code again (idempotent submit).
            return {
                "id": dossier_id,
                "status": dossier.status,
                "receipt_code": dossier.receipt_code,
                "submitted_at": dossier.submitted_at,
            }, False
        raise ApiError(409, "Conflict", f"a {dossier.status} dossier cannot be submitted")


_PAY_STATE = _by_role(
    lambda role: select(Dossier.status, Dossier.receipt_code, Dossier.fee_vnd).where(
        Dossier.id == bindparam("dossier"), _reach_of(role)
    )
)
_PAYMENT_OF = select(*PAYMENT_COLUMNS).where(Payment.dossier_id == bindparam("dossier"))


def payment_precheck(
    db: Database, principal: Principal, dossier_id: int
) -> tuple[dict[str, Any] | None, int]:
    """Two indexed reads (on SQLite, inline on the event loop: a WAL read never waits)."""
    with db.read_conn() as conn:
        dossier = conn.execute(
            _PAY_STATE[principal.role], {"dossier": dossier_id, "principal": principal.id}
        ).first()
        if dossier is None:
            raise NOT_FOUND
        if dossier.status == DRAFT or dossier.receipt_code is None:
            raise ApiError(409, "Conflict", "submit the dossier before paying")
        if dossier.fee_vnd <= 0:
            raise ApiError(409, "Conflict", "this procedure has no fee")
        payment = conn.execute(_PAYMENT_OF, {"dossier": dossier_id}).first()
        return (payment_info(payment) if payment else None), dossier.fee_vnd


_NEW_PAYMENT = insert(Payment).returning(*PAYMENT_COLUMNS)


def insert_payment(
    db: Database, dossier_id: int, amount: int, gateway: dict[str, Any]
) -> tuple[dict[str, Any], bool]:
    try:
        with db.write_conn() as conn:
            payment = conn.execute(
                _NEW_PAYMENT,
                {
                    "dossier_id": dossier_id,
                    "amount_vnd": amount,
                    "currency": "VND",
                    "status": "pending",
                    "gateway_ref": gateway["payment_ref"],
                    "checkout_url": gateway["checkout_url"],
                    "created_at": utcnow(),
                },
            ).one()
            return payment_info(payment), True
    except IntegrityError:
        pass  # a concurrent request opened the intent first: one open intent per dossier (C18)
    with db.read_conn() as conn:
        existing = conn.execute(_PAYMENT_OF, {"dossier": dossier_id}).first()
    if existing is None:
        raise ApiError(409, "Conflict", "the payment could not be recorded; retry")
    return payment_info(existing), False


class CallbackRejected(ApiError):
    pass


def apply_callback(
    db: Database, event_id: str, event_type: str, payment_ref: str, amount: int, currency: str
) -> dict[str, Any]:
    with db.write() as session:
        payment = session.scalar(select(Payment).where(Payment.gateway_ref == payment_ref))
        if payment is None:
            raise CallbackRejected(422, "Unprocessable content", "unknown payment reference")
        if payment.amount_vnd != amount or payment.currency != currency:
            raise CallbackRejected(
                422, "Unprocessable content", "amount or currency does not match the payment"
            )
        try:
            with session.begin_nested():
                session.add(PaymentEvent(event_id=event_id, payment_id=payment.id, received_at=utcnow()))
        except IntegrityError:
            # A replay (or a concurrent duplicate): acknowledged, nothing changes.
            session.refresh(payment)
            return {"event_id": event_id, "applied": False, "payment_status": payment.status}
        applied = False
        if event_type == "payment.succeeded":
            now = utcnow()
            result = session.execute(
                update(Payment)
                .where(Payment.id == payment.id, Payment.status == "pending")
                .values(status="paid", paid_at=now)
            )
            if result.rowcount == 1:
                session.execute(update(Dossier).where(Dossier.id == payment.dossier_id).values(paid=True))
                applied = True
        session.refresh(payment)
        return {"event_id": event_id, "applied": applied, "payment_status": payment.status}


def rate(db: Database, principal: Principal, dossier_id: int, score: int, comment: str) -> dict[str, Any]:
    try:
        with db.write() as session:
            dossier = _own(session, principal, dossier_id)
            if dossier.status not in DECIDED:
                raise ApiError(409, "Conflict", "a dossier can be rated once it is decided")
            session.add(Rating(dossier_id=dossier_id, score=score, comment=comment, created_at=utcnow()))
            session.flush()
    except IntegrityError:
        raise ApiError(409, "Conflict", "this dossier is already rated") from None
    return {"dossier_id": dossier_id, "score": score, "comment": comment}


# --- officer -----------------------------------------------------------------------------------------


def _pool_filter(principal: Principal) -> list[Any]:
    return [Dossier.pool == principal.pool] if principal.pool else []


def queue(db: Database, principal: Principal, status: str, page: int, page_size: int) -> dict[str, Any]:
    with db.read() as session:
        where = [Dossier.status == status, *_pool_filter(principal)]
        total = session.scalar(select(func.count()).select_from(Dossier).where(*where)) or 0
        # Oldest first: the one-stop counter works its queue in order of submission.
        rows = session.scalars(
            select(Dossier)
            .where(*where)
            .order_by(Dossier.submitted_at, Dossier.id)
            .offset((page - 1) * page_size)
            .limit(page_size)
        ).all()
    return {"items": [summary(d) for d in rows], "page": page, "page_size": page_size, "total": total}


def transition(
    db: Database,
    principal: Principal,
    dossier_id: int,
    allowed: tuple[str, ...],
    to: str,
    values: dict[str, Any],
    *,
    require_paid: bool = False,
) -> dict[str, Any]:
    now = utcnow()
    with db.write() as session:
        dossier = session.scalar(select(Dossier).where(Dossier.id == dossier_id, *_pool_filter(principal)))
        if dossier is None:
            raise NOT_FOUND
        if (
            require_paid
            and to == RETURNED
            and dossier.status == APPROVED
            and dossier.fee_vnd > 0
            and not dossier.paid
        ):
            raise ApiError(409, "Conflict", "the fee is not paid yet")
        values = dict(values)
        if to == RECEIVED:
            deadline = (
                session.scalar(
                    select(Procedure.deadline_days).where(Procedure.code == dossier.procedure_code)
                )
                or 0
            )
            values.update(received_at=now, due_at=due_at(now, deadline))
        result = session.execute(
            update(Dossier)
            .where(Dossier.id == dossier_id, Dossier.status.in_(allowed))
            .values(status=to, officer_id=principal.id, **values)
        )
        if result.rowcount != 1:
            raise ApiError(409, "Conflict", f"a {dossier.status} dossier cannot become {to}")
        record_status(session, dossier_id, to, now)
        session.flush()
        session.refresh(dossier)
        return summary(dossier)
