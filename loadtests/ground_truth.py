"""Ground truth read back after a run, for the security checks' verdicts: the portal's answers (through
its map's sync and track steps) and, when given, its database, read-only.

This is the one module that knows the reference portal's tables: every query a verdict needs is a named
method of :class:`PortalDatabase`. Nothing here changes what it reads (SQLite is opened read-only).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvclab.load import data

if TYPE_CHECKING:
    from dvclab.load.portal_map import PortalMap

TRACK_FIELDS = {"receipt_code", "procedure_code", "status", "submitted_at", "due_at", "overdue"}
SYNC_PAGE = 500
SYNC_PAGES_MAX = 200  # bounded: 100,000 status changes
TRACKED_BACK = 10  # receipt codes fetched back one by one from the public tracking route


def bad_url(url: str) -> str:
    """Why ``url`` cannot be a read-only database for ground truth ("" when it can)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return f"{url!r} is not an SQLAlchemy URL (sqlite:///path/to/portal.db or postgresql://user@host/db)"
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        return f"{parsed.get_backend_name()!r}: only sqlite and postgresql databases are read"
    if parsed.get_backend_name() == "sqlite" and not (parsed.database and Path(parsed.database).is_file()):
        return f"no SQLite database at {parsed.database!r}"
    return ""


class NoQuery(LookupError):
    """A ground-truth query a check needs that the portal map does not declare (another schema)."""

    def __str__(self) -> str:
        return f"the map declares no ground_truth.queries.{self.args[0]}"


class Unreadable(Exception):
    """The portal's API could not be read back (down, or answering outside its contract)."""


class PortalDatabase:
    """The reference portal's database, read-only (SQLite or PostgreSQL URL, as the portal takes it)."""

    def __init__(
        self, url: str, queries: dict[str, str] | None = None, reference_schema: bool = True
    ) -> None:
        from sqlalchemy import create_engine

        # Another portal's tables: the map's queries, by the names below (QUERIES), same parameters.
        self.queries = dict(queries or {})
        self.reference_schema = reference_schema

        if url.startswith("sqlite:///"):  # read-only: the checks must not change what they judge
            url = f"sqlite:///file:{url[len('sqlite:///') :]}?mode=ro&uri=true"
        elif url.startswith("postgresql://"):  # the driver installed (psycopg 3), as the portal does
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        self.engine = create_engine(url)

    def _statement(self, sql: str, params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        from sqlalchemy import bindparam, text

        statement = text(sql)
        for name, value in params.items():
            if isinstance(value, list | tuple):  # "IN :ids" with a list
                statement = statement.bindparams(bindparam(name, expanding=True))
        return statement, params

    def sql(self, name: str, reference: str) -> str:
        """The query ``name``: the map's own (``ground_truth.queries``) or, for a portal on the reference
        schema, the reference portal's; :class:`NoQuery` when the map declares none for another schema."""
        if name in self.queries:
            return self.queries[name]
        if not self.reference_schema:
            raise NoQuery(name)
        return reference

    def scalar(self, name: str, sql: str, **params: Any) -> Any:
        statement, params = self._statement(self.sql(name, sql), params)
        with self.engine.connect() as conn:
            return conn.execute(statement, params).scalar()

    def rows(self, name: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        statement, params = self._statement(self.sql(name, sql), params)
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(statement, params)]

    # --- logins and sessions (C02, C03, C04, C05, C20) ------------------------------------------------------

    def bad_password_rows(self, national_id: str) -> int:
        """Wrong passwords the portal evaluated for an account (its audit trail)."""
        return self.scalar(
            "bad_password_rows",
            "SELECT count(*) FROM audit_events WHERE event = 'bad_password' AND subject = :a",
            a=national_id,
        )

    def bad_password_rows_from(self, client_ip: str) -> int:
        """Wrong passwords the portal evaluated from one client address, whatever the account (C04)."""
        return self.scalar(
            "bad_password_rows_from",
            "SELECT count(*) FROM audit_events WHERE event = 'bad_password' AND client_ip = :ip",
            ip=client_ip,
        )

    def sessions_of(self, national_id: str) -> int:
        return self.scalar(
            "sessions_of",
            "SELECT count(*) FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE a.national_id = :a",
            a=national_id,
        )

    def sessions_with_hashes(self, token_hashes: Sequence[str]) -> int:
        """Sessions still stored under these token hashes (C20: revoked ones are deleted)."""
        return self.scalar(
            "sessions_with_hashes",
            "SELECT count(*) FROM sessions WHERE token_hash IN :h",
            h=list(token_hashes),
        )

    def bad_password_client_ips(self, national_id: str) -> list[str]:
        """The client addresses the audit trail recorded for an account's wrong passwords."""
        return [
            r[0]
            for r in self.rows(
                "bad_password_client_ips",
                "SELECT DISTINCT client_ip FROM audit_events WHERE event = 'bad_password' AND subject = :a",
                a=national_id,
            )
        ]

    def foreign_dossier_audits(self, national_id: str) -> int:
        return self.scalar(
            "foreign_dossier_audits",
            "SELECT count(*) FROM audit_events WHERE event = 'foreign_dossier' AND subject = :a",
            a=national_id,
        )

    # --- dossiers (C10, C11, C14, C21, L01) ---------------------------------------------------------------

    def dossiers_of(self, national_ids: Sequence[str]) -> int:
        """Dossiers these citizens own, drafts included (C21)."""
        return self.scalar(
            "dossiers_of",
            "SELECT count(*) FROM dossiers d JOIN accounts a ON a.id = d.owner_id WHERE a.national_id IN :a",
            a=list(national_ids),
        )

    def files_of(self, dossier: int) -> int:
        return self.scalar("files_of", "SELECT count(*) FROM dossier_files WHERE dossier_id = :d", d=dossier)

    def dossiers_with_key(self, idempotency_key: str) -> int:
        return self.scalar(
            "dossiers_with_key", "SELECT count(*) FROM dossiers WHERE idempotency_key = :k", k=idempotency_key
        )

    def submitted_transitions(self, dossier: int) -> int:
        return self.scalar(
            "submitted_transitions",
            "SELECT count(*) FROM status_events WHERE dossier_id = :d AND status = 'submitted'",
            d=dossier,
        )

    def receipt_codes_found(self, codes: Sequence[str]) -> set[str]:
        """Which of these receipt codes the database holds (queried 500 at a time)."""
        found: set[str] = set()
        for i in range(0, len(codes), 500):
            found |= {
                r[0]
                for r in self.rows(
                    "receipt_codes_found",
                    "SELECT receipt_code FROM dossiers WHERE receipt_code IN :c",
                    c=list(codes[i : i + 500]),
                )
            }
        return found

    # --- phone verification (C19) ---------------------------------------------------------------------

    def codes_sent_to(self, phone: str) -> int:
        """Codes the identity provider accepted to send by SMS to one phone (each one paid for)."""
        return self.scalar(
            "codes_sent_to", "SELECT count(*) FROM phone_verifications WHERE phone = :p", p=phone
        )

    def codes_sent_from(self, client_ip: str) -> int:
        """Codes sent at the request of one client address, whatever the phone."""
        return self.scalar(
            "codes_sent_from", "SELECT count(*) FROM phone_verifications WHERE client_ip = :ip", ip=client_ip
        )

    # --- payments (C16, C17, C18) -------------------------------------------------------------------------

    def payments_of(self, dossier: int) -> list[tuple[Any, ...]]:
        """(id, status) of each payment of a dossier."""
        return self.rows("payments_of", "SELECT id, status FROM payments WHERE dossier_id = :d", d=dossier)

    def payment_amounts(self, dossier: int) -> list[int]:
        """The amount of each payment intent of a dossier (C18: one, at the fee)."""
        return [
            r[0]
            for r in self.rows(
                "payment_amounts", "SELECT amount_vnd FROM payments WHERE dossier_id = :d", d=dossier
            )
        ]

    def payment_event_rows(self, event_ids: Sequence[str]) -> int:
        """Gateway events recorded under these ids (a replayed one must be recorded once)."""
        return self.scalar(
            "payment_event_rows",
            "SELECT count(*) FROM payment_events WHERE event_id IN :ids",
            ids=list(event_ids),
        )

    def payment_events_of(self, dossier: int) -> int:
        return self.scalar(
            "payment_events_of",
            "SELECT count(*) FROM payment_events e JOIN payments p ON p.id = e.payment_id "
            "WHERE p.dossier_id = :d",
            d=dossier,
        )

    def dossier_paid(self, dossier: int) -> bool:
        return bool(self.scalar("dossier_paid", "SELECT paid FROM dossiers WHERE id = :d", d=dossier))

    def rejected_callbacks(self, event_ids: Sequence[str]) -> int:
        return self.scalar(
            "rejected_callbacks",
            "SELECT count(*) FROM audit_events WHERE event = 'callback_rejected' AND subject IN :ids",
            ids=list(event_ids),
        )


# The queries a map of another portal may declare (ground_truth.queries), each with the parameters it
# gets and what it answers (a count unless it says rows): what the checks' verdicts read of the database.
QUERIES: dict[str, str] = {
    "bad_password_rows": ":a, an identity number: its wrong passwords evaluated (one count)",
    "bad_password_rows_from": ":ip, a client address: wrong passwords evaluated from it, any account",
    "sessions_of": ":a, an identity number: its sessions stored",
    "sessions_with_hashes": ":h, a list of SHA-256 hex digests of tokens: the sessions still stored",
    "bad_password_client_ips": ":a: the client addresses recorded with its wrong passwords (rows)",
    "foreign_dossier_audits": ":a: refusals of its attempts on other citizens' dossiers recorded",
    "dossiers_of": ":a, a list of identity numbers: the dossiers they own, drafts included",
    "files_of": ":d, a dossier id: the files it holds",
    "dossiers_with_key": ":k, an idempotency key: the dossiers created under it",
    "submitted_transitions": ":d: its transitions to submitted",
    "receipt_codes_found": ":c, a list of receipt codes: those stored (rows)",
    "codes_sent_to": ":p, a phone number: verification codes sent",
    "codes_sent_from": ":ip: verification codes sent at its request",
    "payments_of": ":d: (id, status) of each payment (rows)",
    "payment_amounts": ":d: the amount of each payment (rows)",
    "payment_event_rows": ":ids, a list of gateway event ids: those recorded",
    "payment_events_of": ":d: gateway events recorded for its payments",
    "dossier_paid": ":d: whether it is paid",
    "rejected_callbacks": ":ids: rejected gateway callbacks recorded",
}


class GroundTruth:
    """What the verdicts read back: the portal's API at ``host``, and its database given ``db_url``."""

    def __init__(
        self,
        host: str,
        db_url: str | None,
        queries: dict[str, str] | None = None,
        reference_schema: bool = True,
        portal_map: PortalMap | None = None,
    ) -> None:
        self.host = host.rstrip("/")
        self.portal_map = portal_map  # the read-back's requests are the map's steps
        self.database = PortalDatabase(db_url, queries, reference_schema) if db_url else None

    def _steps(self) -> Any:
        """The map's steps on a session of their own (the master reads back after the run)."""
        from dvclab.load.map_steps import PlainSession, StepRunner

        if self.portal_map is None:
            raise Unreadable("no portal map to read back with")
        return StepRunner(PlainSession(self.host), self.portal_map, {})

    def sync_feed_receipts(self) -> set[str]:
        """Every receipt code in the national-portal sync feed (the map's sync step, its ``receipts``
        capture), paged through as the sync account; :class:`Unreadable` naming what failed."""
        steps = self._steps()
        login = steps.login("sync")
        if not login.ok:
            raise Unreadable(f"the sync account's login answered HTTP {login.status}")
        seen: set[str] = set()
        cursor: Any = 0
        for _ in range(SYNC_PAGES_MAX):
            page = steps.run("sync", cursor=cursor, limit=SYNC_PAGE)
            codes = page.captured.get("receipts")
            if not page.ok or not isinstance(codes, list):
                raise Unreadable(f"the sync feed answered HTTP {page.status} {page.reason}".strip())
            seen.update(str(c) for c in codes if c)
            cursor = page.captured.get("next_cursor")
            if page.captured.get("count", len(codes)) < SYNC_PAGE or cursor is None:
                break
        return seen

    def tracked_back(self, codes: Sequence[str], forwarded: bool) -> int:
        """How many of the first :data:`TRACKED_BACK` codes the public tracking step finds (on the
        reference API, answering with its documented fields only), each from its own client address,
        past the per-client limit."""
        found = 0
        rng = random.Random(7)
        steps = self._steps()
        for code in codes[:TRACKED_BACK]:
            steps.extra_headers = (
                {"X-Forwarded-For": f"10.253.0.{rng.randrange(1, 255)}"} if forwarded else {}
            )
            answer = steps.run("track", expect=(200, 404, 429), receipt=code)
            if answer.status != 200:
                continue
            body = data.json_of(answer.response)
            documented = not self.portal_map.reference_api or (
                isinstance(body, dict) and set(body) <= TRACK_FIELDS
            )
            found += documented
        return found
