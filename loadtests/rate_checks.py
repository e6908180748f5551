"""Security checks of the per-client rate limits: the limiter is global across processes (C01), tracking
codes cannot be enumerated (C15), and a 429 says when to come back (C08). All three send the portal map's
track step; the limit L and its window are read from the portal's answers (RateLimit-Policy,
RateLimit-Limit, X-RateLimit-Limit), else from the map's ``limits.rate_limits.track``."""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from dvclab.load import data
from dvclab.load.check_needs import ANNOUNCED, announced
from dvclab.load.security_checks import Observed, SecurityCheck

if TYPE_CHECKING:
    from dvclab.load.check_client import ProbeClient
    from dvclab.load.harness import Run

# C01 sends more than 4 processes' worth of the limit (L): per-process counting on the 4 workers of the
# security profile would then serve ~4L and fail plainly, a global limiter serves L.
C01_FACTOR = 5
C01_MAX = 600  # requests, whatever L is
C15_MAX = 400  # tracking requests of the enumeration scan, whatever L is
C08_WAIT_MAX_S = 20  # the longest Retry-After C08 waits out to see the client served again


def announces(responses: list[Any]) -> bool:
    """Whether one of the answers announces its limit (any of the header families)."""
    return any(r is not None and announced(data.lower_headers(r))[0] is not None for r in responses)


def shape_of_429(response: Any) -> dict[str, Any]:
    """What C08 judges of one 429: Retry-After, problem+json, the policy header, and when it came."""
    headers = data.lower_headers(response)
    ok, why = data.retry_after_ok(headers)
    problem_json = headers.get("content-type", "").startswith("application/problem+json")
    return {
        "ok": ok and problem_json,
        "why": why or ("" if problem_json else f"content-type {headers.get('content-type')!r}"),
        "retry_after": headers.get("retry-after"),
        # what the limiter announced (any of the header families): a 429 of the limiter, not of a proxy
        "policy": headers.get("ratelimit-policy")
        or headers.get("ratelimit-limit")
        or headers.get("x-ratelimit-limit"),
        "at": time.time(),
    }


class LimiterIsGlobal(SecurityCheck):
    id = "C01"
    name = "limiter is global"
    invariant = "non-429 answers <= L per key per window over fresh connections; the rest 429"

    def probe(self, client: ProbeClient) -> Observed:
        """C01_FACTOR × L + 1 requests on one key, each on a fresh connection (``Connection: close``) so the
        server's processes share them out, in gated bursts; L and the window announced by the portal (or
        declared in the map)."""
        key = {**client.address(self.id), "Connection": "close"}
        burst_size = client.run.profile.security.burst
        started = time.monotonic()
        responses: list[Any] = client.burst(burst_size, lambda i: client.track(self.id, key))
        found = client.rate("track", responses)  # MissingLimit: "not run", naming the field to declare
        while len(responses) < (target := min(C01_MAX, C01_FACTOR * found.limit + 1)):
            batch = client.burst(
                min(burst_size, target - len(responses)), lambda i: client.track(self.id, key)
            )
            responses += batch
            if found.source != ANNOUNCED:  # a portal may announce its limit on its 429s only
                found = client.rate("track", batch) if announces(batch) else found
        span = time.monotonic() - started
        counts = Counter(r.status_code for r in responses)
        client.shapes_of_429 += [shape_of_429(r) for r in responses if r.status_code == 429][:3]
        return {
            **found.shown(),
            "sent": len(responses),
            "served": sum(n for s, n in counts.items() if s != 429),
            "429": counts[429],
            "other": {str(s): n for s, n in counts.items() if s not in (404, 429)},
            "span_s": round(span, 2),
            "connections": "fresh per request (Connection: close)",
        }

    @staticmethod
    def allowed(o: Observed) -> int:
        """The most non-429 answers one global limit of L per window allows over the probe's span: L while
        it lasted less than a window (the portal's moving window), one more L per window it spanned beyond."""
        quota, window = int(o["L"]), o.get("window_s")
        return quota * (1 + int(o.get("span_s", 0) // window)) if window else quota

    @classmethod
    def holds(cls, o: Observed) -> bool:
        """C01 from the attacker's figures alone. The limit is global when the non-429 answers stay within
        the one limit while many more were sent over fresh connections: counted per process, N processes
        would serve up to N × L. Every other answer must be a 429 (not a 5xx)."""
        allowed = cls.allowed(o)
        every_answer_counted = o["served"] + o["429"] == o["sent"] and not o["other"]
        return o["sent"] > allowed and o["served"] <= allowed and every_answer_counted

    def judge(self, observed: Observed, probe_says: bool, run: Run) -> bool:
        # Judged from the figures, not the probe's say, so the verdict is testable without a swarm.
        observed["allowed"] = self.allowed(observed)
        return self.holds(observed)


class TrackingEnumeration(SecurityCheck):
    id = "C15"
    name = "receipt-code enumeration"
    invariant = (
        "429 after L per client; identical answer for unknown codes; no "
        "personal data in tracking answers; receipt codes carry >= 64 random bits"
    )

    def probe(self, client: ProbeClient) -> Observed:
        """An anonymous scan of random codes on one key, until L + 10 (or C15_MAX) requests."""
        key = client.address(self.id)
        bodies, statuses = set(), []
        responses: list[Any] = [client.track(self.id, key)]
        found = client.rate("track", responses)  # announced, or the map's: else "not run"
        while len(responses) < min(C15_MAX, found.limit + 10):
            responses.append(client.track(self.id, key))
            if found.source != ANNOUNCED and announces(responses[-1:]):  # on its 429s only, say
                found = client.rate("track", responses[-1:])
        quota = found.limit
        for r in responses:
            statuses.append(r.status_code)
            if r.status_code == 404:
                bodies.add(r.content)
        client.shapes_of_429 += [shape_of_429(r) for r in responses if r.status_code == 429][:3]
        first_429 = statuses.index(429) if 429 in statuses else None
        return {
            "L": quota,
            "scanned": len(statuses),
            "found": sum(s == 200 for s in statuses),
            "first_429_at": first_429,
            "distinct_404_bodies": len(bodies),
            "pass": first_429 is not None
            and first_429 <= quota
            and len(bodies) <= 1
            and all(s in (404, 429) for s in statuses),
        }

    def judge(self, observed: Observed, probe_says: bool, run: Run) -> bool:
        # The entropy of the codes the portal actually handed out during the run (the reference format's
        # exact figure; another portal's, an upper bound from what varies between its codes).
        bits = data.codes_entropy_bits([code for code, _ in run.receipts])
        observed["receipt_code_bits"] = bits
        return probe_says and (bits is None or bits >= 64)


class ShapeOf429(SecurityCheck):
    id = "C08"
    name = "429 shape"
    invariant = (
        "Retry-After integer >= 1 and >= t; RateLimit r=0; problem+json; policy header "
        "stable; served again after Retry-After + 1 s"
    )
    after = ("C01", "C15")  # it inspects the 429s their probes provoked

    def probe(self, client: ProbeClient) -> Observed:
        shapes = client.shapes_of_429
        bad = [s for s in shapes if not s["ok"]]
        policies = {s["policy"] for s in shapes if s["policy"]}
        served_again: Any = "not tested"
        retries = [
            int(s["retry_after"]) for s in shapes if (s["retry_after"] or "").isdigit() and s["policy"]
        ]
        key = client.addresses.get("C01")
        if retries and key and max(retries) <= C08_WAIT_MAX_S:
            # Served again once Retry-After (+1 s) has passed since the 429s, not from now.
            lifted = (
                max(s["at"] + int(s["retry_after"]) for s in shapes if (s["retry_after"] or "").isdigit()) + 1
            )
            client.sleep(max(0.0, lifted - time.time()))
            served_again = client.track(self.id, {"X-Forwarded-For": key}).status_code != 429
        elif retries:
            served_again = f"not waited (Retry-After {max(retries)} s > {C08_WAIT_MAX_S} s)"
        return {
            "429s_inspected": len(shapes),
            "bad": bad[:3],
            "policies": sorted(policies),
            "served_again": served_again,
            "pass": bool(shapes) and not bad and served_again is not False,
        }


C01 = LimiterIsGlobal()
C15 = TrackingEnumeration()
C08 = ShapeOf429()
