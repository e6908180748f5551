"""Security checks of login throttling and lockout: a gated burst of guesses cannot outrun the lockout
(C02), the client cannot reset its count (C03), and the ceiling follows NIST SP 800-63B (C05).

Every login goes through the portal map's login step (its form page first where the map says so), each
attempt in a browser of its own; T is the map's ``limits.lockout_threshold`` (or the profile's, for the
reference portal it sets up)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from dvclab.load import data
from dvclab.load.data import ATTACKERS
from dvclab.load.security_checks import Observed, SecurityCheck

if TYPE_CHECKING:
    from dvclab.load.check_client import ProbeClient
    from dvclab.load.ground_truth import PortalDatabase
    from dvclab.load.profiles import Limits

# Sequential guesses are paced: one attacker at a human-like rate, so the argon2 pool it shares with the
# citizens' logins is not what the check measures (the gated bursts are the concurrency tests).
PACE_S = 0.4
NIST_CEILING = 100  # SP 800-63B: at most 100 consecutive failed attempts on one account


def _login(client: ProbeClient, check: str, number: int, password: str, headers: dict[str, str]) -> Any:
    """Citizen ``number``'s login with ``password``: its status (0: the login form did not answer)."""
    identity = client.identity(number)
    return client.attempt(check, identity, password, headers, (200, 401, 429)).status


def _evaluated_failures(db: PortalDatabase, observed: Observed, no_session: bool) -> tuple[bool, Observed]:
    """The audit trail's wrong passwords for the account stay within the ceiling (T as the probe used
    it: the map's, or the profile's); with ``no_session``, the account never got a session either."""
    evaluated = db.bad_password_rows(observed["account"])
    sessions = db.sessions_of(observed["account"])
    ok = evaluated <= min(observed["T"], NIST_CEILING) and (not no_session or sessions == 0)
    return ok, {"db_bad_password_rows": evaluated, "db_sessions": sessions}


class LockoutRace(SecurityCheck):
    id = "C02"
    name = "lockout TOCTOU"
    invariant = (
        "gated burst of wrong passwords: evaluated failures (audit bad_password) <= T; "
        "no session for the account; the correct password is refused once locked"
    )

    def probe(self, client: ProbeClient) -> Observed:
        number, limit = ATTACKERS[self.id], client.limit("lockout_threshold")
        n = max(client.run.profile.security.burst, 3 * limit)
        identity = client.identity(number)

        def guess(i: int) -> Any:  # every guess from its own address: the per-account lock must hold alone
            address = (
                {"X-Forwarded-For": f"10.254.{i // 250}.{i % 250 + 1}"}
                if client.run.profile.forwarded_clients
                else {}
            )
            headers = {**address, "Connection": "close"}
            return client.attempt(self.id, identity, f"wrong-{i}", headers, (401, 429, 503)).status

        statuses = Counter(client.burst(n, guess))
        correct = [client.signed_in(self.id, number) for _ in range(2)]
        return {
            "T": limit,
            "burst": n,
            "statuses": {str(k): v for k, v in statuses.items()},
            "correct_after_lock": ["session" if t else "refused" for t in correct],
            "pass": statuses[401] <= limit and not any(correct),
            "account": identity,
        }

    def confirm(self, observed: Observed, db: PortalDatabase, limits: Limits) -> tuple[bool, Observed]:
        return _evaluated_failures(db, observed, no_session=True)


class CounterCannotBeReset(SecurityCheck):
    id = "C03"
    name = "client cannot reset the counter"
    invariant = (
        "new connection, no cookies and a spoofed X-Forwarded-For on "
        "each attempt: attempt T+1 refused; audit rows carry the real client, never a spoofed one"
    )

    def probe(self, client: ProbeClient) -> Observed:
        number, limit = ATTACKERS[self.id], client.limit("lockout_threshold")
        real = client.address(self.id).get("X-Forwarded-For")
        statuses, spoofed = [], []
        for i in range(limit + 1):
            client.sleep(PACE_S)
            fake = f"203.0.113.{client.rng.randrange(1, 255)}"
            spoofed.append(fake)
            chain = f"{fake}, {real}" if real else fake  # a trusted proxy appends the real client last
            password = client.password() if i == limit else f"wrong-{i}"
            # a new browser each time: no cookie carries the count
            statuses.append(_login(client, self.id, number, password, {"X-Forwarded-For": chain}))
        return {
            "T": limit,
            "statuses": statuses,
            "last_refused": statuses[-1] == 429,
            "spoofed": spoofed,
            "real": real,
            "pass": statuses[-1] == 429,
            "account": client.identity(number),
        }

    def confirm(self, observed: Observed, db: PortalDatabase, limits: Limits) -> tuple[bool, Observed]:
        addresses = db.bad_password_client_ips(observed["account"])
        return not set(addresses) & set(observed["spoofed"]), {"db_client_ips": addresses}


class NistCeiling(SecurityCheck):
    id = "C05"
    name = "NIST ceiling"
    invariant = (
        "consecutive evaluated failures <= min(T,100); correct password refused while "
        "locked; the count restarts after a success"
    )

    def probe(self, client: ProbeClient) -> Observed:
        limit = client.limit("lockout_threshold")
        locked, reset = ATTACKERS["C05"], ATTACKERS["C05b"]

        def attempt(number: int, good: bool) -> Any:
            password = client.password() if good else "not-the-password"
            client.sleep(PACE_S)
            expect = (200, 401, 429)
            return client.attempt(self.id, client.identity(number), password, None, expect, self.id)

        wrong = [attempt(locked, False).status for _ in range(limit)]
        after = attempt(locked, True)
        retry = data.lower_headers(after.response).get("retry-after") if after.response is not None else None
        first = [attempt(reset, False).status for _ in range(limit - 1)]
        success = attempt(reset, True).status
        again = [attempt(reset, False).status for _ in range(limit - 1)]
        evaluated = wrong.count(401)
        ok = (
            evaluated <= min(limit, NIST_CEILING)
            and after.status == 429
            and bool(retry)
            and success == 200
            and all(s == 401 for s in first + again)
        )
        return {
            "T": limit,
            "evaluated_failures": evaluated,
            "correct_while_locked": after.status,
            "retry_after": retry,
            "success_after_T_minus_1": success,
            "failures_after_success": again,
            "pass": ok,
            "account": client.identity(locked),
        }

    def confirm(self, observed: Observed, db: PortalDatabase, limits: Limits) -> tuple[bool, Observed]:
        # A success restarts the count: sessions are expected here, only the ceiling is judged.
        return _evaluated_failures(db, observed, no_session=False)


C02 = LockoutRace()
C03 = CounterCannotBeReset()
C05 = NistCeiling()
