"""Passwords, login throttling and bearer tokens.

Login throttling reserves an attempt *before* the password is checked, with one conditional UPDATE
(`failures < T`), so a burst of concurrent guesses can never evaluate more than T passwords: there is
no check-then-act window. A success wipes the count only when it was the sole attempt in flight (a
sequential login, NIST's "disregard earlier failures"); inside a concurrent burst it gives back just its
own reservation, so a correct password mixed into a guessing burst cannot buy the attacker more
guesses. Unknown identifiers get a throttle row and a dummy hash too, so they answer
with the same status, body and timing as a known account with a wrong password.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import bindparam, case, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from dvclab.portal.db import Database
from dvclab.portal.errors import ApiError, Unavailable
from dvclab.portal.models import Account, AuditEvent, AuthSession, LoginThrottle, utcnow
from dvclab.portal.ratelimit import client_ip, client_key
from dvclab.portal.settings import Settings

bearer = HTTPBearer(auto_error=False, description="Token from POST /api/v1/auth/login")


class PasswordService:
    """argon2id in a bounded thread pool: never on the event loop, never more than `hash_workers`
    hashes in memory at once, and a bounded queue beyond which logins get 503 (C22)."""

    def __init__(self, settings: Settings) -> None:
        self.hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
        self.pool = ThreadPoolExecutor(max_workers=settings.hash_workers, thread_name_prefix="argon2")
        self.capacity = settings.hash_workers + settings.hash_queue
        self.inflight = 0
        self.dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self.inflight >= self.capacity:
            raise Unavailable("too many logins in progress; retry shortly", 1)
        self.inflight += 1
        try:
            yield
        finally:
            self.inflight -= 1

    def _verify(self, hashed: str, password: str) -> bool:
        try:
            return self.hasher.verify(hashed, password)
        except (VerificationError, InvalidHashError):
            return False

    async def verify(self, hashed: str | None, password: str) -> bool:
        """Always runs one full hash, whether or not the account exists (no quick exit)."""
        loop = asyncio.get_running_loop()
        ok = await loop.run_in_executor(self.pool, self._verify, hashed or self.dummy_hash, password)
        return ok and hashed is not None

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(self.pool, self.hasher.hash, password)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def audit(session: Session, event: str, subject: str = "", ip: str = "", detail: str = "") -> None:
    session.add(AuditEvent(event=event, subject=subject[:100], client_ip=ip[:64], detail=detail[:300]))


def write_audit(db: Database, event: str, subject: str = "", ip: str = "", detail: str = "") -> None:
    with db.write() as session:
        audit(session, event, subject, ip, detail)


# Hot-path statements, built once: Core with bound parameters skips the ORM and re-compilation.
_THROTTLE_ROW = {"identifier": bindparam("ident"), "failures": 0, "inflight": 0, "locked_until": None}
_INSERT_IGNORE = {
    "postgresql": postgresql.insert(LoginThrottle)
    .values(_THROTTLE_ROW)
    .on_conflict_do_nothing(index_elements=["identifier"]),
    "sqlite": sqlite.insert(LoginThrottle)
    .values(_THROTTLE_ROW)
    .on_conflict_do_nothing(index_elements=["identifier"]),
}
_RESET_EXPIRED = (
    update(LoginThrottle)
    .where(
        LoginThrottle.identifier == bindparam("ident"),
        LoginThrottle.locked_until.is_not(None),
        LoginThrottle.locked_until <= bindparam("now"),
    )
    .values(failures=0, inflight=0, locked_until=None)
)
# The reservation: one conditional UPDATE, so concurrent attempts cannot all pass a `failures < T` check.
_RESERVE = (
    update(LoginThrottle)
    .where(LoginThrottle.identifier == bindparam("ident"), LoginThrottle.failures < bindparam("threshold"))
    .values(
        failures=LoginThrottle.failures + 1,
        inflight=LoginThrottle.inflight + 1,
        locked_until=case(
            (LoginThrottle.failures + 1 >= bindparam("threshold"), bindparam("lock_end")),
            else_=LoginThrottle.locked_until,
        ),
    )
    .returning(LoginThrottle.failures)
)
_LOCKED_UNTIL = select(LoginThrottle.locked_until).where(LoginThrottle.identifier == bindparam("ident"))


_ACCOUNT = select(Account.id, Account.national_id, Account.role, Account.password_hash).where(
    Account.national_id == bindparam("ident")
)


class AccountRow(Protocol):
    """What a login reads of an account (a Core row of ``_ACCOUNT``)."""

    id: int
    national_id: str
    role: str
    password_hash: str


@dataclass(frozen=True, slots=True)
class Reservation:
    locked_until: datetime | None  # set: refused, the account is locked until then
    # This attempt's reservation reached the threshold and set the lock. The reservations of one
    # account are serialised on its row, so exactly one attempt of a burst sees this: it alone writes
    # the `account_locked` audit row if it fails.
    locks: bool = False
    # The account, read in the reservation's own transaction (one trip to a thread, not two); None for
    # an unknown identifier, or when the attempt is refused.
    account: AccountRow | None = None


def reserve_attempt(db: Database, identifier: str, settings: Settings) -> Reservation:
    """Count this attempt as a failure up front (see Reservation); committed before any hash runs."""
    now = utcnow()
    lock_end = now + timedelta(minutes=settings.lockout_minutes)
    with db.write_conn() as conn:
        conn.execute(_INSERT_IGNORE[conn.dialect.name], {"ident": identifier})
        conn.execute(_RESET_EXPIRED, {"ident": identifier, "now": now})  # an expired lock starts afresh
        failures = conn.execute(
            _RESERVE,
            {"ident": identifier, "threshold": settings.lockout_threshold, "lock_end": lock_end},
        ).scalar()
        if failures is not None:
            account = conn.execute(_ACCOUNT, {"ident": identifier}).first()
            return Reservation(None, locks=failures >= settings.lockout_threshold, account=account)
        return Reservation(conn.execute(_LOCKED_UNTIL, {"ident": identifier}).scalar() or lock_end)


def release_attempt(db: Database, identifier: str) -> None:
    """Undo a reservation when the attempt could not be evaluated (a dependency failed)."""
    with db.write() as session:
        session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.identifier == identifier, LoginThrottle.failures > 0)
            .values(failures=LoginThrottle.failures - 1, inflight=_one_less_inflight(), locked_until=None)
        )


def find_account(db: Database, national_id: str) -> AccountRow | None:
    with db.read_conn() as conn:
        return conn.execute(_ACCOUNT, {"ident": national_id}).first()  # type: ignore[return-value]


def _one_less_inflight():  # type: ignore[no-untyped-def]
    return case((LoginThrottle.inflight > 0, LoginThrottle.inflight - 1), else_=0)


def record_failure(db: Database, identifier: str, ip: str, settings: Settings, locks: bool) -> None:
    """The attempt was evaluated and failed: it stays counted, it is no longer in flight. The attempt
    whose reservation set the lock (``locks``) notes it in the audit table (one row per lock) and
    revokes the account's sessions."""
    with db.write() as session:
        session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.identifier == identifier)
            .values(inflight=_one_less_inflight())
        )
        audit(session, "bad_password", identifier, ip)
        if locks:
            # Revoke the account's tokens with the lock (C20): every worker reads sessions from the
            # database, so none of them accepts an old token once this commits.
            session.execute(
                delete(AuthSession).where(
                    AuthSession.account_id.in_(select(Account.id).where(Account.national_id == identifier))
                )
            )
            audit(
                session,
                "account_locked",
                identifier,
                ip,
                f"{settings.lockout_threshold} failed attempts; locked {settings.lockout_minutes} min",
            )


_ALONE = LoginThrottle.inflight <= 1
_RESET_FAILURES = (
    update(LoginThrottle)
    .where(LoginThrottle.identifier == bindparam("ident"))
    .values(
        failures=case((_ALONE, 0), else_=LoginThrottle.failures - 1),
        locked_until=case((_ALONE, None), else_=LoginThrottle.locked_until),
        inflight=case((LoginThrottle.inflight > 0, LoginThrottle.inflight - 1), else_=0),
    )
)
_NEW_SESSION = insert(AuthSession)


def open_session(db: Database, account: AccountRow, settings: Settings, new_hash: str | None) -> str:
    """Settle the throttle row (see the module docstring); a fresh token at every login (ASVS 7.2.4)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with db.write_conn() as conn:
        conn.execute(_RESET_FAILURES, {"ident": account.national_id})
        if new_hash:
            conn.execute(update(Account).where(Account.id == account.id).values(password_hash=new_hash))
        conn.execute(
            _NEW_SESSION,
            {
                "token_hash": token_hash(token),
                "account_id": account.id,
                "created_at": now,
                "expires_at": now + timedelta(seconds=settings.token_ttl_s),
            },
        )
    return token


def close_session(db: Database, hashed: str) -> None:
    with db.write() as session:
        session.execute(delete(AuthSession).where(AuthSession.token_hash == hashed))


@dataclass(frozen=True, slots=True)
class Principal:
    id: int
    national_id: str
    role: str
    pool: str | None
    token_hash: str


_LOOKUP = (
    select(Account.id, Account.national_id, Account.role, Account.pool)
    .join(AuthSession, AuthSession.account_id == Account.id)
    .where(AuthSession.token_hash == bindparam("token_hash"), AuthSession.expires_at > bindparam("now"))
)


def _lookup(db: Database, hashed: str) -> Principal | None:
    with db.read_conn() as conn:
        row = conn.execute(_LOOKUP, {"token_hash": hashed, "now": utcnow()}).first()
    return Principal(row[0], row[1], row[2], row[3], hashed) if row else None


_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


async def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    return await authenticate(request, credentials)


async def authenticate(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    if credentials is None or not credentials.credentials:
        raise ApiError(401, "Unauthorized", "a valid bearer token is required", _UNAUTHORIZED)
    if len(credentials.credentials) > 200:
        await _charge_failure(request)
        raise ApiError(401, "Unauthorized", "a valid bearer token is required", _UNAUTHORIZED)
    db: Database = request.app.state.db
    hashed = token_hash(credentials.credentials)
    principal = _lookup(db, hashed) if db.inline_reads else await run_in_threadpool(_lookup, db, hashed)
    if principal is None:
        await _charge_failure(request)
        raise ApiError(401, "Unauthorized", "the token is invalid, expired or logged out", _UNAUTHORIZED)
    return principal


async def _charge_failure(request: Request) -> None:
    """A presented token that authenticates no one counts against the client address's `bad_token`
    quota: past it the answer is 429 + Retry-After, so tokens cannot be tried at line rate. Only
    failures are charged, so a valid token behind the same address keeps working."""
    settings: Settings = request.app.state.settings
    await request.app.state.limiter.hit("bad_token", client_key(request, settings))


def require(role: str | tuple[str, ...], limit: str | Mapping[str, str] = "api"):  # type: ignore[no-untyped-def]
    """Dependency: a token of ``role`` (one of them, for a tuple; 403 otherwise), charged against the
    account's ``limit`` quota (by role, for a mapping). It authenticates itself rather than depending
    on current_principal: each level of FastAPI's dependency solving costs CPU on every request."""
    roles = (role,) if isinstance(role, str) else role
    names = " or ".join(roles)

    async def dependency(
        request: Request,
        response: Response,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Principal:
        principal = await authenticate(request, credentials)
        if principal.role not in roles:
            db: Database = request.app.state.db
            ip = client_ip(request, request.app.state.settings.trusted_proxies)
            await run_in_threadpool(
                write_audit,
                db,
                "forbidden_role",
                principal.national_id,
                ip,
                f"{principal.role} token on {names} route {request.url.path}"[:300],
            )
            raise ApiError(403, "Forbidden", f"this route is for {names} accounts")
        quota = limit if isinstance(limit, str) else limit[principal.role]
        headers = await request.app.state.limiter.hit(quota, f"account:{principal.id}")
        response.headers.update(headers)
        return principal

    dependency.__name__ = f"require_{'_or_'.join(roles)}"
    return dependency
