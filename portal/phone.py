"""Phone verification by a one-time code sent by SMS through the identity provider (OWASP API4's worked
example: every SMS is paid for, so the sends are limited per phone and per client address, C19).

The code is 6 digits from ``secrets``, stored only as a hash bound to its row, valid ``otp_ttl_s``, with
``otp_max_attempts`` wrong tries counted by one conditional UPDATE (no check-then-act window).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import insert, select, update

from dvclab.portal.db import Database
from dvclab.portal.models import PhoneVerification, utcnow
from dvclab.portal.settings import Settings

CODE_DIGITS = 6


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_hash(salt: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def record_sent(
    db: Database, account_id: int, phone: str, client_ip: str, code: str, settings: Settings
) -> tuple[int, str]:
    """The row of a code the provider accepted to send: (its id, the salt its hash is bound to)."""
    salt = secrets.token_hex(8)
    now = utcnow()
    with db.write_conn() as conn:
        row_id = conn.execute(
            insert(PhoneVerification)
            .values(
                account_id=account_id,
                phone=phone,
                client_ip=client_ip[:64],
                code_hash=f"{salt}${code_hash(salt, code)}",
                created_at=now,
                expires_at=now + timedelta(seconds=settings.otp_ttl_s),
                attempts=0,
            )
            .returning(PhoneVerification.id)
        ).scalar_one()
    return row_id, salt


@dataclass(frozen=True, slots=True)
class Outcome:
    verified: bool
    phone: str | None = None  # None: no such pending code of this citizen
    exhausted: bool = False  # wrong tries used up, or expired: a new code is needed
    retry_after_s: int = 0


def confirm(db: Database, account_id: int, verification_id: int, code: str, settings: Settings) -> Outcome:
    """Spend one try on the code (atomically, before comparing), and mark it verified when right."""
    now = utcnow()
    mine = (
        PhoneVerification.id == verification_id,
        PhoneVerification.account_id == account_id,
        PhoneVerification.verified_at.is_(None),
    )
    with db.write_conn() as conn:
        row = conn.execute(
            update(PhoneVerification)
            .where(
                *mine,
                PhoneVerification.expires_at > now,
                PhoneVerification.attempts < settings.otp_max_attempts,
            )
            .values(attempts=PhoneVerification.attempts + 1)
            .returning(PhoneVerification.phone, PhoneVerification.code_hash)
        ).first()
        if row is None:
            pending = conn.execute(select(PhoneVerification.phone).where(*mine)).scalar()
            return Outcome(False, pending, exhausted=pending is not None, retry_after_s=60)
        phone, stored = row
        salt, _, expected = stored.partition("$")
        if not hmac.compare_digest(expected, code_hash(salt, code)):
            return Outcome(False, phone)
        conn.execute(
            update(PhoneVerification).where(PhoneVerification.id == verification_id).values(verified_at=now)
        )
    return Outcome(True, phone)
