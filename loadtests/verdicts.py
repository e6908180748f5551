"""Verdicts of the security checks: ground truth read back after the run (the portal's database,
read-only, when given, and its API), combined with what the attacker saw. No Locust here: the master
calls it at the end of a run, and tests call it without a swarm.
"""

from __future__ import annotations

import random
from typing import Any

from dvclab.load import data, harness
from dvclab.load.data import API

CATALOGUE: dict[str, tuple[str, str]] = {
    "C01": (
        "limiter is global",
        "non-429 answers <= L per key per window over fresh connections; the rest 429",
    ),
    "C02": (
        "lockout TOCTOU",
        "gated burst of wrong passwords: evaluated failures (audit bad_password) <= T; "
        "no session for the account; the correct password is refused once locked",
    ),
    "C03": (
        "client cannot reset the counter",
        "new connection, no cookies and a spoofed X-Forwarded-For on "
        "each attempt: attempt T+1 refused; audit rows carry the real client, never a spoofed one",
    ),
    "C05": (
        "NIST ceiling",
        "consecutive evaluated failures <= min(T,100); correct password refused while "
        "locked; the count restarts after a success",
    ),
    "C07": (
        "overload hygiene",
        "0 answers 500/502/504; every 429/503 has Retry-After; no trace or SQL in bodies",
    ),
    "C08": (
        "429 shape",
        "Retry-After integer >= 1 and >= t; RateLimit r=0; problem+json; policy header "
        "stable; served again after Retry-After + 1 s",
    ),
    "C10": ("upload size", "oversize uploads get 413 and store nothing; max-size upload accepted; 0 5xx"),
    "C11": (
        "upload type, count",
        "wrong magic bytes get 415; concurrent uploads past the count get 422; "
        "stored files <= max per dossier",
    ),
    "C13": (
        "BOLA/BFLA",
        "0 2xx on foreign dossiers (404, audited); citizen tokens on officer and sync "
        "routes get 403; own dossier's owner_id is stable",
    ),
    "C14": (
        "duplicate submission",
        "same Idempotency-Key x N gated: 1 dossier; same key, other body: 422; "
        "submit x N gated: 1 receipt code, 1 submitted transition",
    ),
    "C15": (
        "tracking-code enumeration",
        "429 after L per client; identical answer for unknown codes; no "
        "personal data in tracking answers; receipt codes carry >= 64 random bits",
    ),
    "C16": (
        "callback idempotency",
        "N gated plus delayed replays of one signed callback: every replay 2xx, "
        "at most 1 applied, 1 payment row, paid",
    ),
    "C17": (
        "callback authenticity",
        "forged, stale, wrong-amount and unknown-payment callbacks: 4xx and 0 "
        "state changes (event ids never recorded)",
    ),
    "L01": ("nothing lost", "every receipt code acknowledged during the run is found afterwards"),
}
TRACK_FIELDS = {"receipt_code", "procedure_code", "status", "submitted_at", "due_at", "overdue"}

# Probes run in this order: C08 inspects the 429s that C01, C15 and C02 provoked.
ORDER = ("C01", "C15", "C02", "C03", "C05", "C08", "C10", "C11", "C13", "C14", "C16", "C17")
PASSIVE = ("C07", "L01")


def c01_allowed(o: dict[str, Any]) -> int:
    """The most non-429 answers one global limit of L per window allows over the probe's span: L while it
    lasted less than a window (the portal's moving window), one more L per window it spanned beyond."""
    quota, window = int(o["L"]), o.get("window_s")
    return quota * (1 + int(o.get("span_s", 0) // window)) if window else quota


def c01_holds(o: dict[str, Any]) -> bool:
    """C01 from the attacker's figures alone (no Locust, no portal). The limit is global when the non-429
    answers stay within the one limit while many more were sent over fresh connections: counted per
    process, N processes would serve up to N × L. Every other answer must be a 429 (not a 5xx)."""
    allowed = c01_allowed(o)
    every_answer_counted = o["served"] + o["429"] == o["sent"] and not o["other"]
    return o["sent"] > allowed and o["served"] <= allowed and every_answer_counted


# --- ground truth (after the run) ---------------------------------------------------------------------


class GroundTruth:
    """Reads the portal's state back: its database (read-only) when given, and its API."""

    def __init__(self, host: str, db_url: str | None) -> None:
        self.host = host.rstrip("/")
        self.engine = None
        if db_url:
            from sqlalchemy import create_engine

            url = db_url
            if url.startswith("sqlite:///"):  # read-only: the checks must not change what they judge
                url = f"sqlite:///file:{url[len('sqlite:///') :]}?mode=ro&uri=true"
            elif url.startswith("postgresql://"):  # the driver installed (psycopg 3), as the portal does
                url = "postgresql+psycopg://" + url[len("postgresql://") :]
            self.engine = create_engine(url)

    def scalar(self, sql: str, **params: Any) -> Any:
        from sqlalchemy import bindparam, text

        statement = text(sql)
        for name, value in params.items():
            if isinstance(value, list | tuple):
                statement = statement.bindparams(bindparam(name, expanding=True))
        assert self.engine is not None
        with self.engine.connect() as conn:
            return conn.execute(statement, params).scalar()

    def rows(self, sql: str, **params: Any) -> list[Any]:
        from sqlalchemy import bindparam, text

        statement = text(sql)
        for name, value in params.items():
            if isinstance(value, list | tuple):
                statement = statement.bindparams(bindparam(name, expanding=True))
        assert self.engine is not None
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(statement, params)]

    def verify(self, check: str, o: dict[str, Any], limits: Any) -> tuple[bool, dict[str, Any]]:
        """The database's view of a check; (holds, what it showed). Without a database: API only."""
        if self.engine is None:
            return True, {"ground_truth": "API answers only (no --dvclab-db)"}
        bad_passwords = "SELECT count(*) FROM audit_events WHERE event = 'bad_password' AND subject = :a"
        if check in ("C02", "C05"):
            evaluated = self.scalar(bad_passwords, a=o["account"])
            sessions = self.scalar(
                "SELECT count(*) FROM sessions s JOIN accounts a ON a.id = s.account_id "
                "WHERE a.national_id = :a",
                a=o["account"],
            )
            ok = evaluated <= min(limits.lockout_threshold, 100) and (check == "C05" or sessions == 0)
            return ok, {"db_bad_password_rows": evaluated, "db_sessions": sessions}
        if check == "C03":
            addresses = [
                r[0]
                for r in self.rows(
                    "SELECT DISTINCT client_ip FROM audit_events "
                    "WHERE event = 'bad_password' AND subject = :a",
                    a=o["account"],
                )
            ]
            return not set(addresses) & set(o["spoofed"]), {"db_client_ips": addresses}
        if check in ("C10", "C11"):
            stored = self.scalar("SELECT count(*) FROM dossier_files WHERE dossier_id = :d", d=o["dossier"])
            ok = stored == o.get("file_count") and (check == "C10" or stored <= limits.max_files_per_dossier)
            return ok, {"db_files": stored}
        if check == "C13":
            audited = self.scalar(
                "SELECT count(*) FROM audit_events WHERE event = 'foreign_dossier' AND subject = :a",
                a=o["account"],
            )
            return audited >= 1, {"db_foreign_dossier_audits": audited}
        if check == "C14":
            dossiers = self.scalar(
                "SELECT count(*) FROM dossiers WHERE idempotency_key = :k", k=o["idempotency_key"]
            )
            submitted = self.scalar(
                "SELECT count(*) FROM status_events WHERE dossier_id = :d AND status = 'submitted'",
                d=o["dossier"],
            )
            return dossiers == 1 and submitted == 1, {
                "db_dossiers": dossiers,
                "db_submitted_transitions": submitted,
            }
        if check == "C16":
            payments = self.rows("SELECT id, status FROM payments WHERE dossier_id = :d", d=o["dossier"])
            ours = self.scalar("SELECT count(*) FROM payment_events WHERE event_id = :e", e=o["event_id"])
            events = self.scalar(
                "SELECT count(*) FROM payment_events e JOIN payments p ON p.id = e.payment_id "
                "WHERE p.dossier_id = :d",
                d=o["dossier"],
            )
            paid = self.scalar("SELECT paid FROM dossiers WHERE id = :d", d=o["dossier"])
            ok = len(payments) == 1 and payments[0][1] == "paid" and ours == 1 and events <= 2 and bool(paid)
            return ok, {
                "db_payments": len(payments),
                "db_status": payments[0][1] if payments else None,
                "db_events_recorded": events,
                "db_replayed_event_rows": ours,
            }
        if check == "C17":
            recorded = self.scalar(
                "SELECT count(*) FROM payment_events WHERE event_id IN :ids", ids=o["event_ids"]
            )
            audited = self.scalar(
                "SELECT count(*) FROM audit_events WHERE event = 'callback_rejected' AND subject IN :ids",
                ids=o["event_ids"],
            )
            return recorded == 0 and audited == len(o["event_ids"]), {
                "db_forged_events_recorded": recorded,
                "db_rejections_audited": audited,
            }
        return True, {}

    def nothing_lost(self, receipts: list[tuple[str, int]], forwarded: bool) -> tuple[bool, dict[str, Any]]:
        """L01: every acknowledged receipt code, fetched back: the sync feed (and the database)."""
        import requests

        codes = sorted({code for code, _ in receipts})
        observed: dict[str, Any] = {"acknowledged": len(codes)}
        seen: set[str] = set()
        try:
            login = requests.post(
                f"{self.host}{API}/auth/login",
                timeout=10,
                json={"national_id": data.SYNC[0], "password": data.SYNC[1]},
            )
            token = login.json()["access_token"]
            cursor = 0
            for _ in range(200):  # bounded: 100,000 status changes
                page = requests.get(
                    f"{self.host}{API}/sync/status-changes",
                    timeout=10,
                    params={"cursor": cursor, "limit": 500},
                    headers={"Authorization": f"Bearer {token}"},
                ).json()
                seen.update(item["receipt_code"] for item in page["items"] if item.get("receipt_code"))
                cursor = page["next_cursor"]
                if len(page["items"]) < 500:
                    break
        except (requests.RequestException, KeyError, ValueError, TypeError) as error:
            return False, {**observed, "error": f"cannot read the sync feed back: {type(error).__name__}"}
        missing = [c for c in codes if c not in seen]
        observed["missing_from_sync_feed"] = missing[:10]
        tracked_ok = 0
        rng = random.Random(7)
        for code in codes[:10]:
            headers = {"X-Forwarded-For": f"10.253.0.{rng.randrange(1, 255)}"} if forwarded else {}
            try:
                r = requests.get(f"{self.host}{API}/track/{code}", headers=headers, timeout=10)
            except requests.RequestException:
                continue
            body = r.json() if r.status_code == 200 else {}
            tracked_ok += r.status_code == 200 and set(body) <= TRACK_FIELDS
        observed["tracked_back"] = f"{tracked_ok} of {min(10, len(codes))}"
        ok = not missing and tracked_ok == min(10, len(codes))
        if self.engine is not None and codes:
            found = set()
            for i in range(0, len(codes), 500):
                found |= {
                    r[0]
                    for r in self.rows(
                        "SELECT receipt_code FROM dossiers WHERE receipt_code IN :c", c=codes[i : i + 500]
                    )
                }
            observed["missing_from_db"] = [c for c in codes if c not in found][:10]
            ok = ok and not observed["missing_from_db"]
        return ok, observed


def finalise(run: harness.Run, host: str, db_url: str | None) -> list[dict[str, Any]]:
    """Verdicts in security.json's layout, one per selected check; a check that could not run fails."""
    selected = run.profile.security.checks
    observations = {o["id"]: o["observed"] for o in run.observations}
    truth = GroundTruth(host, db_url) if host else None
    verdicts = []
    for check in [c for c in (*ORDER, *PASSIVE) if c in selected]:
        name, invariant = CATALOGUE[check]
        try:
            holds, observed = _judge(check, run, observations.get(check), truth)
        except Exception as error:  # noqa: BLE001 - ground truth unreadable: the check fails, named
            holds, observed = False, {"error": f"ground truth: {type(error).__name__}: {error}"[:300]}
        if run.portal_down and not holds:
            observed = {"portal_down": run.portal_down, **(observed if isinstance(observed, dict) else {})}
        verdicts.append(
            {
                "id": check,
                "name": name,
                "invariant": invariant,
                "observed": observed,
                "verdict": "pass" if holds else "fail",
            }
        )
    return verdicts


def _judge(
    check: str, run: harness.Run, o: dict[str, Any] | None, truth: GroundTruth | None
) -> tuple[bool, Any]:
    if check == "C07":
        bad = {k: v for k, v in run.hygiene.items() if not k.startswith("seen_")}
        seen = {k[5:]: v for k, v in run.hygiene.items() if k.startswith("seen_")}
        return not any(bad.values()), {
            "violations": bad,
            "non_2xx_seen": seen,
            "examples": run.hygiene_examples[:5],
        }
    if check == "L01":
        if truth is None:
            return False, {"error": "no host to read back from"}
        return truth.nothing_lost(run.receipts, run.profile.forwarded_clients)
    if o is None:
        return False, {"error": "did not run (the run stopped before the attacker reached it)"}
    if "error" in o:
        return False, o
    o = dict(o)
    holds = bool(o.pop("pass", False))
    if check == "C01":  # judged here from the figures, so the rule is testable without a swarm
        o["allowed"] = c01_allowed(o)
        holds = c01_holds(o)
    if check == "C15":  # entropy of the codes the portal actually handed out during the run
        bits = min((data.code_entropy_bits(code) for code, _ in run.receipts), default=None)
        o["receipt_code_bits"] = bits
        holds = holds and (bits is None or bits >= 64)
    if truth is not None:
        verified, extra = truth.verify(check, o, run.profile.limits)
        holds, o = holds and verified, {**o, **extra}
    return holds, o
