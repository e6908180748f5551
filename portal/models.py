"""SQLAlchemy 2 models. Timestamps are naive UTC everywhere (SQLite keeps no zone)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


# Dossier life cycle (hồ sơ): the officer side follows the one-stop (một cửa) steps.
DRAFT = "draft"
SUBMITTED = "submitted"
RECEIVED = "received"
SUPPLEMENT = "supplement_requested"
APPROVED = "approved"
REJECTED = "rejected"
RETURNED = "result_returned"
STATUSES = (DRAFT, SUBMITTED, RECEIVED, SUPPLEMENT, APPROVED, REJECTED, RETURNED)
DECIDED = (APPROVED, REJECTED, RETURNED)

ROLES = ("citizen", "officer", "sync")
# How a dossier was filed: by its citizen online, or by an officer at the counter on their behalf.
ONLINE = "online"
ASSISTED = "assisted"


class ResultDelivery(StrEnum):
    """How the result goes back to the citizen: chosen at filing (``delivery``), done at return."""

    ELECTRONIC = "electronic"
    COUNTER = "counter"
    POST = "post"  # public post (bưu chính công ích)


class Procedure(Base):
    __tablename__ = "procedures"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    group: Mapped[str] = mapped_column("group_name", String(64), index=True)
    level: Mapped[str] = mapped_column(String(16), index=True)
    agency: Mapped[str] = mapped_column(String(64))
    online_level: Mapped[str] = mapped_column(String(16))
    deadline_days: Mapped[int] = mapped_column(Integer)
    fee_vnd: Mapped[int] = mapped_column(BigInteger)
    requires_originals: Mapped[bool] = mapped_column(Boolean)
    position: Mapped[int] = mapped_column(Integer)  # file order, for stable listings


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    national_id: Mapped[str] = mapped_column(String(12), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    pool: Mapped[str | None] = mapped_column(String(96), nullable=True)  # officer: level.agency; None = all
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class LoginThrottle(Base):
    """Failed-login counter per identifier, known account or not, so that both behave the same."""

    __tablename__ = "login_throttle"
    identifier: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # evaluated failures + attempts in flight
    inflight: Mapped[int] = mapped_column(Integer, default=0)  # reserved attempts not yet decided
    locked_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class PhoneVerification(Base):
    """One code sent by SMS to verify a citizen's phone (C19): its hash, expiry and wrong attempts. A row
    is written only for an SMS the identity provider accepted, so rows count what was paid for."""

    __tablename__ = "phone_verifications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    phone: Mapped[str] = mapped_column(String(16), index=True)
    client_ip: Mapped[str] = mapped_column(String(64), default="")
    code_hash: Mapped[str] = mapped_column(String(100))  # "salt$sha256(salt:code)"
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    verified_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class AuthSession(Base):
    __tablename__ = "sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the bearer token
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class Dossier(Base):
    __tablename__ = "dossiers"
    __table_args__ = (
        UniqueConstraint("owner_id", "idempotency_key", name="uq_dossier_idempotency"),
        CheckConstraint("file_count >= 0", name="ck_file_count"),
        Index("ix_dossiers_status_pool", "status", "pool"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    procedure_code: Mapped[str] = mapped_column(ForeignKey("procedures.code"))
    pool: Mapped[str] = mapped_column(String(96))
    status: Mapped[str] = mapped_column(String(32), default=DRAFT)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    delivery: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    receipt_code: Mapped[str | None] = mapped_column(String(32), unique=True, nullable=True)
    fee_vnd: Mapped[int] = mapped_column(BigInteger)
    paid: Mapped[bool] = mapped_column(Boolean, default=False)
    file_count: Mapped[int] = mapped_column(Integer, default=0)
    file_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    received_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    returned_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), nullable=True)
    # Assisted filing: the officer who filed this dossier at the counter on the owner's behalf (None:
    # the citizen filed it online themself), so the online rate can tell real self-service apart.
    filed_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), nullable=True, index=True)
    officer_note: Mapped[str] = mapped_column(Text, default="")
    result_channel: Mapped[str | None] = mapped_column(String(16), nullable=True)


class DossierFile(Base):
    __tablename__ = "dossier_files"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class StatusEvent(Base):
    """Every status change; the national sync feed reads it by increasing id (the cursor)."""

    __tablename__ = "status_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), index=True)
    status: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Payment(Base):
    __tablename__ = "payments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), unique=True)  # one intent per dossier
    amount_vnd: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="VND")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    gateway_ref: Mapped[str] = mapped_column(String(64), unique=True)
    checkout_url: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class PaymentEvent(Base):
    """Gateway callbacks already applied; the unique event id makes replays harmless."""

    __tablename__ = "payment_events"
    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Rating(Base):
    __tablename__ = "ratings"
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), primary_key=True)
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AuditEvent(Base):
    """Security events: failed logins, lockouts, refused uploads, forged callbacks, foreign access."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    event: Mapped[str] = mapped_column(String(40), index=True)
    subject: Mapped[str] = mapped_column(String(100), default="")
    client_ip: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[str] = mapped_column(String(300), default="")
