"""Security check of session revocation (C20): once a logout or a lockout is acknowledged, the old token
gets no 2xx on any worker after the grace, and a login issues a new token (ASVS 7.2.4, 7.4.1)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from dvclab.load import data
from dvclab.load.data import API, ATTACKERS
from dvclab.load.security_checks import Observed, SecurityCheck

if TYPE_CHECKING:
    from collections.abc import Callable

    from dvclab.load.check_client import ProbeClient
    from dvclab.load.ground_truth import PortalDatabase
    from dvclab.load.profiles import Limits

GRACE_S = 1.0  # the catalogue's bound: revoked everywhere within a second
WATCHERS = 4  # requests in flight at once, each on a fresh connection: they spread over the workers
PACE_S = 0.05
WATCH_AFTER_S = GRACE_S + 0.5  # keep trying the old token this long past the revocation


def revocation_figures(
    samples: list[tuple[float, int]], revoked_at: float | None, grace_s: float
) -> Observed:
    """What the old token got, from (send time, status) samples and when the revocation was acknowledged
    (same clock). It holds when the token worked before, was tried past the grace, and got no 2xx there."""
    if revoked_at is None:
        return {"requests": len(samples), "revoked": False, "pass": False}
    before = sum(1 for sent, status in samples if sent < revoked_at and 200 <= status < 300)
    late = [(sent, status) for sent, status in samples if sent >= revoked_at + grace_s]
    late_2xx = sum(1 for _, status in late if 200 <= status < 300)
    accepted_after = [
        sent - revoked_at for sent, status in samples if sent >= revoked_at and 200 <= status < 300
    ]
    return {
        "requests": len(samples),
        "revoked": True,
        "2xx_before": before,
        "tried_after_grace": len(late),
        "2xx_after_grace": late_2xx,
        "last_2xx_after_revocation_s": round(max(accepted_after), 3) if accepted_after else None,
        "statuses_after_grace": sorted({status for _, status in late}),
        "pass": before > 0 and len(late) > 0 and late_2xx == 0,
    }


class SessionRevocation(SecurityCheck):
    id = "C20"
    name = "session revocation"
    invariant = (
        f"old token tried on every worker while a logout, then a lockout, is acknowledged: 0 2xx after "
        f"{GRACE_S:g} s; a new login issues a new token; the revoked tokens are gone from the database"
    )

    def _watched(
        self, client: ProbeClient, token: str, key: str, revoke: Callable[[], float | None]
    ) -> Observed:
        """The old token tried from the address of ``key`` (one per phase: the 401s of one phase
        exhaust its address's bad-token quota, and the next phase must see its own answers)."""

        def mine() -> Any:
            return client.send(
                self.id,
                "GET",
                f"{API}/dossiers?page_size=1",
                "GET /api/v1/dossiers",
                (200, 401, 429),
                headers={**client.address(key), "Connection": "close"},
                token=token,
            )

        samples, revoked_at = client.poll_during(mine, revoke, WATCHERS, PACE_S, WATCH_AFTER_S)
        return revocation_figures(samples, revoked_at, GRACE_S)

    def probe(self, client: ProbeClient) -> Observed:
        out, locked = ATTACKERS[self.id], ATTACKERS["C20b"]
        token = client.login_as(self.id, out)
        if token is None:
            return {"error": "could not log in"}

        def logout() -> float | None:
            return time.monotonic() if client.logout(self.id, token).status_code == 204 else None

        after_logout = self._watched(client, token, self.id, logout)
        renewed = client.login_as(self.id, out)
        # The lockout: T wrong passwords on an account whose token is in use.
        victim = client.login_as(self.id, locked)
        if victim is None:
            return {"error": "could not log in the account to lock"}
        limit = client.run.profile.limits.lockout_threshold

        def lock() -> float | None:
            statuses = [
                client.send(
                    self.id,
                    "POST",
                    f"{API}/auth/login",
                    "POST /api/v1/auth/login",
                    (401, 429),
                    headers=client.address(self.id),
                    json={"national_id": data.citizen_id(locked), "password": f"wrong-{i}"},
                ).status_code
                for i in range(limit)
            ]
            return time.monotonic() if statuses[-1] == 401 else None

        after_lock = self._watched(client, victim, "C20b", lock)
        return {
            "grace_s": GRACE_S,
            "logout": after_logout,
            "lockout": after_lock,
            "new_token_at_login": renewed is not None and renewed != token,
            "pass": bool(
                after_logout.pop("pass") and after_lock.pop("pass") and renewed and renewed != token
            ),
            "revoked_token_hashes": [data.token_hash(token), data.token_hash(victim)],
            "locked_account": data.citizen_id(locked),
        }

    def confirm(self, observed: Observed, db: PortalDatabase, limits: Limits) -> tuple[bool, Observed]:
        left = db.sessions_with_hashes(observed["revoked_token_hashes"])
        sessions = db.sessions_of(observed["locked_account"])
        return left == 0 and sessions == 0, {
            "db_revoked_sessions_left": left,
            "db_locked_account_sessions": sessions,
        }


C20 = SessionRevocation()
