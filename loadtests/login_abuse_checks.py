"""Security checks of login abuse at scale: credential stuffing and password spraying (C04), and a flood
of logins that would each cost a password hash (C22).

Both need many client addresses, which the generator can only give when the portal trusts it as a proxy
(``forwarded_clients``); without that they are "not run", with that reason (their declarations in
``check_registry.NEEDS``). Every login goes through the portal map's login step, each in a new browser.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np

from dvclab.load import data
from dvclab.load.security_checks import NOT_RUN_KEY, Observed, SecurityCheck, in_parts

if TYPE_CHECKING:
    from dvclab.load.check_client import ProbeClient
    from dvclab.load.ground_truth import PortalDatabase
    from dvclab.load.profiles import Limits

# --- C04 ------------------------------------------------------------------------------------------------

STUFFING_ACCOUNT = 201  # a demo citizen of the checks' own (journeys stay below data.JOURNEY_CITIZENS_MAX)
STUFFING_SOURCES = 200  # one leaked pair tried from each of 200 addresses (a botnet)
LEAKED_RIGHT_AT = 120  # the leaked list holds the right password too, well past the lockout threshold
SPRAYED_ACCOUNTS = 500  # one common password tried on 500 accounts from one address
SPRAY_FIRST_ACCOUNT = 9_000_000  # identity numbers no demo account has: spraying must not log anyone in


def stuffing_figures(statuses: list[int], right_at: int, threshold: int) -> Observed:
    """(a) one account from many addresses: at most T passwords evaluated (401), none accepted, the rest
    refused (429) -- the right password included, since it comes after the lock."""
    counts = Counter(statuses)
    return {
        "sources": len(statuses),
        "T": threshold,
        "evaluated_401": counts[401],
        "refused_429": counts[429],
        "accepted_200": counts[200],
        "other": {str(s): n for s, n in counts.items() if s not in (200, 401, 429)},
        "right_password_at": right_at,
        "right_password_answer": statuses[right_at] if right_at < len(statuses) else None,
        "pass": counts[401] <= threshold and counts[200] == 0 and counts[401] + counts[429] == len(statuses),
    }


def spraying_figures(
    statuses: list[int], quota: int | None, window_s: float | None, span_s: float
) -> Observed:
    """(b) many accounts from one address: at most L logins evaluated per window of the address's quota
    (L read from the portal's RateLimit-Policy), the rest 429."""
    counts = Counter(statuses)
    allowed = quota * (1 + int(span_s // window_s)) if quota and window_s else None
    window_s = int(window_s) if window_s and float(window_s).is_integer() else window_s
    return {
        "accounts": len(statuses),
        "L": quota,
        "window_s": window_s,
        "span_s": round(span_s, 2),
        "allowed": allowed,
        "evaluated_401": counts[401],
        "refused_429": counts[429],
        "other": {str(s): n for s, n in counts.items() if s not in (401, 429)},
        "pass": allowed is not None
        and counts[401] <= allowed
        and counts[401] + counts[429] == len(statuses)
        and counts[429] > 0,
    }


class StuffingAndSpraying(SecurityCheck):
    id = "C04"
    name = "credential stuffing and spraying"
    invariant = (
        f"(a) one account tried from {STUFFING_SOURCES} addresses, the right password among them: "
        f"evaluated (401) <= T, no session; (b) one address trying {SPRAYED_ACCOUNTS} accounts: "
        "evaluated <= L per window of the address's login quota, the rest 429"
    )

    def probe(self, client: ProbeClient) -> Observed:
        threshold = client.limit("lockout_threshold")
        account = client.identity(STUFFING_ACCOUNT)
        burst = client.run.profile.security.burst

        def stuff(i: int) -> Any:
            password = client.password() if i == LEAKED_RIGHT_AT else f"leaked-{i}"
            source = {"X-Forwarded-For": f"10.252.{i // 250}.{i % 250 + 1}", "Connection": "close"}
            return client.attempt(self.id, account, password, source, (200, 401, 429, 503))

        stuffed: list[int] = []
        for start in range(0, STUFFING_SOURCES, burst):
            n = min(burst, STUFFING_SOURCES - start)
            stuffed += [o.status for o in client.burst(n, lambda i, s=start: stuff(s + i))]

        sprayer = {**client.address("C04b"), "Connection": "close"}

        def spray(i: int) -> Any:
            identity = client.identity(SPRAY_FIRST_ACCOUNT + i)
            return client.attempt(self.id, identity, client.password(), sprayer, (401, 429, 503))

        sprayed: list[Any] = []
        started = time.monotonic()
        for start in range(0, SPRAYED_ACCOUNTS, burst):
            n = min(burst, SPRAYED_ACCOUNTS - start)
            sprayed += client.burst(n, lambda i, s=start: spray(s + i))
        span = time.monotonic() - started
        # the address's login quota: announced on the answers (the reference portal's "login_ip"), or
        # the map's limits.rate_limits.login
        quota = client.rate("login", [o.response for o in sprayed], policy="login_ip")
        stuffing = stuffing_figures(stuffed, LEAKED_RIGHT_AT, threshold)
        spraying = spraying_figures([o.status for o in sprayed], quota.limit, quota.window_s, span)
        figures = in_parts(stuffing=stuffing, spraying=spraying)
        return {**figures, "account": account, "sprayer": sprayer.get("X-Forwarded-For")}

    def confirm(self, observed: Observed, db: PortalDatabase, limits: Limits) -> tuple[bool, Observed]:
        evaluated = db.bad_password_rows(observed["account"])
        sessions = db.sessions_of(observed["account"])
        from_sprayer = db.bad_password_rows_from(observed["sprayer"])
        allowed = observed["spraying"].get("allowed") or 0
        ok = evaluated <= observed["stuffing"]["T"] and sessions == 0 and from_sprayer <= allowed
        return ok, {
            "db_bad_password_rows_account": evaluated,
            "db_sessions_account": sessions,
            "db_bad_password_rows_from_sprayer": from_sprayer,
        }


# --- C22 ------------------------------------------------------------------------------------------------

FLOOD = 400  # logins at once, each from its own address on its own (unknown) account: no per-key limit binds
FLOOD_FIRST_ACCOUNT = 8_000_000
HASH_POOL = 2  # the reference portal's hashing pool per process (hash_workers)
MIB_PER_HASH = 64  # the catalogue's bound per hash in the pool (argon2-cffi's default m; the portal uses 19)
HEALTHZ_P99_MS = 100.0
HEALTHZ_SAMPLES = 100  # a p99 of fewer is the slowest sample (the gate's rule for percentiles)
HEALTHZ_EVERY_S = 0.02
HEALTHZ_MORE_S = 10.0  # after the flood, /healthz is timed at most this much longer to reach HEALTHZ_SAMPLES
RSS_EVERY_S = 0.1
QUIET_S = 1.0  # /healthz and memory watched this long before the flood (the baseline) and after it


def flood_figures(
    statuses: list[int],
    retry_after_missing: int,
    healthz_ms: list[float | None],
    rss_before: dict[int, float],
    rss_peak: dict[int, float],
) -> Observed:
    """The flood's answers, /healthz during it, and each portal process's memory against its bound."""
    counts = Counter(statuses)
    answered = [ms for ms in healthz_ms if ms is not None]
    p99 = float(np.percentile(answered, 99)) if answered else None
    bound = HASH_POOL * MIB_PER_HASH
    growth = {pid: round(rss_peak.get(pid, mib) - mib, 1) for pid, mib in rss_before.items()}
    refused = counts[429] + counts[503]
    return {
        "logins": len(statuses),
        "evaluated_401": counts[401],
        "refused_429_503": refused,
        "refused_without_retry_after": retry_after_missing,
        "other": {str(s): n for s, n in counts.items() if s not in (401, 429, 503)},
        "healthz_samples": len(healthz_ms),
        "healthz_failed": len(healthz_ms) - len(answered),
        "healthz_p99_ms": round(p99, 1) if p99 is not None else None,
        "portal_processes": len(rss_before),
        "rss_mib_before": round(sum(rss_before.values()), 1),
        "rss_mib_peak": round(sum(rss_peak.get(pid, mib) for pid, mib in rss_before.items()), 1),
        "rss_growth_mib_max_per_process": max(growth.values()) if growth else None,
        "rss_bound_mib_per_process": bound,
        "pass": bool(
            counts[401] + refused == len(statuses)
            and retry_after_missing == 0
            and len(healthz_ms) >= HEALTHZ_SAMPLES
            and len(answered) == len(healthz_ms)
            and p99 is not None
            and p99 < HEALTHZ_P99_MS
            and growth
            and max(growth.values()) <= bound
        ),
    }


class HashFlood(SecurityCheck):
    id = "C22"
    name = "hash flood"
    invariant = (
        f"{FLOOD} logins at once from as many addresses on as many accounts: each portal process's "
        f"memory grows <= pool ({HASH_POOL}) x {MIB_PER_HASH} MiB; /healthz p99 < {HEALTHZ_P99_MS:g} ms "
        f"over >= {HEALTHZ_SAMPLES} samples timed from a process of its own, always answered; the excess "
        "gets 429/503 with Retry-After, nothing else"
    )

    def probe(self, client: ProbeClient) -> Observed:
        processes = client.portal_processes()
        if not processes:
            return {NOT_RUN_KEY: "the portal's processes are not on this machine: its memory cannot be read"}
        peak: dict[int, float] = {}

        def memory() -> None:
            for pid, mib in client.rss_mib(processes).items():
                peak[pid] = max(peak.get(pid, 0.0), mib)

        health = client.watch_healthz(HEALTHZ_EVERY_S)
        client.sleep(QUIET_S)
        before = client.rss_mib(processes)
        stop_memory = client.sample_every(RSS_EVERY_S, memory)

        def login(i: int) -> Any:  # each in a browser of its own: every login of the flood in flight at once
            source = {"X-Forwarded-For": f"10.251.{i // 250}.{i % 250 + 1}", "Connection": "close"}
            identity = client.identity(FLOOD_FIRST_ACCOUNT + i)
            return client.attempt(self.id, identity, "flood", source, (401, 429, 503)).response

        started = time.monotonic()
        answers = client.burst(FLOOD, login)  # None: no answer within the burst's minute
        span = time.monotonic() - started
        client.sleep(QUIET_S)
        more = time.monotonic() + HEALTHZ_MORE_S
        while health.count < HEALTHZ_SAMPLES and time.monotonic() < more:
            client.sleep(HEALTHZ_EVERY_S)
        stop_memory()
        healthz = health.stop()
        statuses = [r.status_code if r is not None else 0 for r in answers]
        refused = [r for r in answers if r is not None and r.status_code in (429, 503)]
        missing = sum(1 for r in refused if not data.retry_after_ok(data.lower_headers(r))[0])
        return {"flood_s": round(span, 2), **flood_figures(statuses, missing, healthz, before, peak)}


C04 = StuffingAndSpraying()
C22 = HashFlood()
