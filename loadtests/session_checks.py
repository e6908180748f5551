"""Security check of session revocation (C20): once a logout or a lockout is acknowledged, the old token
(or session cookie) gets no 2xx on any worker after the grace, and a login issues a new one (ASVS 7.2.4,
7.4.1). Sent through the portal map: login, create, status (what the old session reads), logout."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from dvclab.load import data
from dvclab.load.data import ATTACKERS
from dvclab.load.map_steps import NoAnswer
from dvclab.load.security_checks import Observed, SecurityCheck, in_parts

if TYPE_CHECKING:
    from collections.abc import Callable

    from dvclab.load.check_client import ProbeClient
    from dvclab.load.ground_truth import PortalDatabase
    from dvclab.load.map_steps import StepRunner
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
        f"old token (or session cookie) tried on every worker while a logout, then a lockout, is "
        f"acknowledged: 0 2xx after {GRACE_S:g} s; a new login issues a new one; the revoked tokens are "
        "gone from the database"
    )

    def _watched(
        self, client: ProbeClient, session: StepRunner, key: str, revoke: Callable[[], float | None]
    ) -> Observed:
        """The old session's credentials tried on the map's status step, from the address of ``key``
        (one per phase: the 401s of one phase exhaust its address's bad-token quota, and the next phase
        must see its own answers), each request on a fresh connection."""
        watcher = client.twin(session, close=True)
        watcher.extra_headers.update(client.address(key))

        def mine() -> Any:
            response = watcher.run("status", expect=(200, 401, 403, 404, 429)).response
            return response if response is not None else NoAnswer()

        samples, revoked_at = client.poll_during(mine, revoke, WATCHERS, PACE_S, WATCH_AFTER_S)
        return revocation_figures(samples, revoked_at, GRACE_S)

    def _session(self, client: ProbeClient, number: int, key: str) -> StepRunner | None:
        """Citizen ``number`` signed in with a dossier of their own (what the watchers read)."""
        steps = client.signed_in(self.id, number, key)
        if steps is None or client.draft(steps).captured.get("dossier") is None:
            return None
        return steps

    def probe(self, client: ProbeClient) -> Observed:
        out, locked = ATTACKERS[self.id], ATTACKERS["C20b"]
        limit = client.limit("lockout_threshold")
        session = self._session(client, out, self.id)
        if session is None:
            return {"error": "could not log in and create a dossier"}
        old = client.credential(session)

        def logout() -> float | None:
            status = session.run("logout", expect=(200, 204, 302, 303)).status
            return time.monotonic() if 200 <= status < 400 else None

        after_logout = self._watched(client, session, self.id, logout)
        renewed = client.signed_in(self.id, out)
        new = client.credential(renewed) if renewed is not None else None
        # The lockout: T wrong passwords on an account whose session is in use.
        victim = self._session(client, locked, "C20b")
        if victim is None:
            return {"error": "could not log in the account to lock"}
        identity = client.identity(locked)

        def lock() -> float | None:
            statuses = [
                client.attempt(self.id, identity, f"wrong-{i}", None, (401, 429), self.id).status
                for i in range(limit)
            ]
            return time.monotonic() if statuses[-1] == 401 else None

        held = client.credential(victim)
        after_lock = self._watched(client, victim, "C20b", lock)
        figures = in_parts(logout=after_logout, lockout=after_lock)
        fresh = new is not None and new != old
        bearer = client.run.portal_map.auth.kind == "bearer"
        return {
            "grace_s": GRACE_S,
            **figures,
            "new_token_at_login": fresh,
            "pass": bool(figures["pass"] and fresh),
            # how the reference portal stores a token (ground truth finds the revoked ones by it)
            "revoked_token_hashes": [data.token_hash(t) for t in (old, held) if t and bearer],
            "locked_account": identity,
        }

    def confirm(self, observed: Observed, db: PortalDatabase, limits: Limits) -> tuple[bool, Observed]:
        left = db.sessions_with_hashes(observed["revoked_token_hashes"])
        sessions = db.sessions_of(observed["locked_account"])
        return left == 0 and sessions == 0, {
            "db_revoked_sessions_left": left,
            "db_locked_account_sessions": sessions,
        }


C20 = SessionRevocation()
