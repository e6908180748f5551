"""Security check of flow quotas (C21, OWASP API6): drafts per citizen and per client address. A gated
burst past each quota creates no more than the quota; the excess is answered 429.

The quotas are read from the portal's own ``RateLimit-Policy`` header on a first draft (the reference
portal lists ``dossier_create`` per citizen and ``dossier_create_ip`` per address), so the check holds the
portal to what it announces; a portal that announces none has them in its map (``limits.drafts_per_citizen``
and ``limits.drafts_per_address``). Drafts are the map's create step.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from dvclab.load import data
from dvclab.load.data import ATTACKERS
from dvclab.load.security_checks import Observed, SecurityCheck, in_parts

if TYPE_CHECKING:
    from dvclab.load.check_client import ProbeClient
    from dvclab.load.ground_truth import PortalDatabase
    from dvclab.load.map_steps import StepRunner
    from dvclab.load.profiles import Limits

PER_CITIZEN, PER_ADDRESS = "dossier_create", "dossier_create_ip"
EXCESS = 10  # drafts asked for beyond each quota
MOST_REQUESTS = 400  # a quota larger than this is not probed (the check would be the load)
HOUSEHOLD = ("C21b", "C21c", "C21d")  # citizens filing from one address, each below its own quota


def policies(value: str | None) -> dict[str, int]:
    """``"a";q=60;w=3600, "b";q=120;w=3600`` (RateLimit-Policy) → ``{"a": 60, "b": 120}``."""
    found: dict[str, int] = {}
    for item in (value or "").split(","):
        name, _, params = item.strip().partition(";")
        quota = data.parse_ratelimit(f"x;{params}").get("q")
        if name.strip('"') and quota is not None:
            found[name.strip('"')] = quota
    return found


def quota_figures(statuses: list[int], quota: int) -> Observed:
    """One burst's figures: it holds when no more than ``quota`` drafts were created, every other answer
    was 429, and at least one draft was (the quota is not a refusal of everything)."""
    created = statuses.count(201)
    refused = statuses.count(429)
    return {
        "quota": quota,
        "asked": len(statuses),
        "created": created,
        "refused_429": refused,
        "other": sorted({s for s in statuses if s not in (201, 429)}),
        "pass": 1 <= created <= quota and created + refused == len(statuses),
    }


class FlowQuotas(SecurityCheck):
    id = "C21"
    name = "flow quotas"
    invariant = (
        "gated draft bursts past the per-citizen quota (one citizen) and past the per-address quota "
        "(several citizens, one address): created <= quota; the excess gets 429"
    )

    def _burst(self, client: ProbeClient, sessions: list[StepRunner], n: int) -> list[int]:
        def create(i: int) -> int:
            twin = client.twin(sessions[i % len(sessions)], close=True)
            key = data.idempotency_key(client.rng)
            return twin.run("create", expect=(201, 429), idempotency_key=key).status

        return client.burst(n, create)

    def probe(self, client: ProbeClient) -> Observed:
        steps = client.signed_in(self.id, ATTACKERS[self.id])
        if steps is None:
            return {"error": "could not log in"}
        first = client.draft(steps, expect=(201, 429))
        responses = [first.response]
        per_citizen = client.rate("create", responses, PER_CITIZEN, "drafts_per_citizen").limit
        per_address = client.rate("create", responses, PER_ADDRESS, "drafts_per_address").limit
        if first.status != 201:
            return {"error": f"first draft: HTTP {first.status}"}
        each = math.ceil((per_address + EXCESS) / len(HOUSEHOLD))
        if per_citizen + EXCESS > MOST_REQUESTS or per_address + EXCESS > MOST_REQUESTS:
            quotas = {PER_CITIZEN: per_citizen, PER_ADDRESS: per_address}
            return {"error": f"quotas {quotas} are too large to probe (at most {MOST_REQUESTS} requests)"}
        if each > per_citizen:
            return {"error": f"the address quota {per_address} needs more than {len(HOUSEHOLD)} citizens"}
        citizen = quota_figures([201, *self._burst(client, [steps], per_citizen + EXCESS - 1)], per_citizen)
        # Several citizens behind one address (a household, a cybercafe, a script with stolen accounts).
        household, statuses = [], []
        for key in HOUSEHOLD:  # each member's first draft sets the values of the step (its procedure)
            member = client.signed_in(self.id, ATTACKERS[key], key=HOUSEHOLD[0])
            drafted = client.draft(member, expect=(201, 429)).status if member is not None else 0
            if member is None or drafted == 0:
                return {"error": f"could not log in {key}"}
            household.append(member)
            statuses.append(drafted)
        statuses += self._burst(client, household, each * len(HOUSEHOLD) - len(HOUSEHOLD))
        address = quota_figures(statuses, per_address)
        return {
            **in_parts(per_citizen=citizen, per_address=address),
            "citizen": client.identity(ATTACKERS[self.id]),
            "household": [client.identity(ATTACKERS[key]) for key in HOUSEHOLD],
        }

    def confirm(self, observed: Observed, db: PortalDatabase, limits: Limits) -> tuple[bool, Observed]:
        mine = db.dossiers_of([observed["citizen"]])
        theirs = db.dossiers_of(observed["household"])
        ok = mine <= observed["per_citizen"]["quota"] and theirs <= observed["per_address"]["quota"]
        return ok, {"db_citizen_dossiers": mine, "db_household_dossiers": theirs}


C21 = FlowQuotas()
