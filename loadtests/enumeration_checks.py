"""Security check of account enumeration through the login (C09, ASVS 6.3.8): an unknown identity number
and a known one with a wrong password get the same status, the same body, the same lockout, and times
that a Mann-Whitney test cannot tell apart -- at low load and with the portal's logins 80% busy.

The two kinds are sent in pairs, together through a gate (both meet the same moment of the portal, and
the probe takes half the time), each from its own client address (no address quota binds), each
through the portal map's login step in a new browser; a sample's time is its login request's alone (not
the form page a map may fetch first). A known account is never locked by the samples: after T-1 wrong
passwords it logs in once (not a sample), which restarts its count.
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from dvclab.load.security_checks import Observed, SecurityCheck, in_parts

if TYPE_CHECKING:
    from dvclab.load.check_client import ProbeClient

SAMPLES = 1000  # of each kind, in each phase
KNOWN_ACCOUNTS = (206, 207, 208, 209)  # demo citizens of the checks' own, never locked by the samples
LOCKOUT_ACCOUNT = 210  # locked on purpose, to compare its lockout with an unknown number's
UNKNOWN_FIRST = 7_000_000  # identity numbers no account has, a new one each sample
P_MIN = 0.01
DELTA_MEDIAN_MS = 5.0
BUSY = 0.8  # the second phase's background logins, as a share of the rate the portal sustained
CALIBRATION_S = 3.0
CALIBRATION_CONCURRENCY = 8


def timing_figures(known_ms: list[float], unknown_ms: list[float]) -> Observed:
    """Mann-Whitney U on the two kinds' times: it holds when the test cannot tell them apart
    (p >= 0.01) or the medians differ by less than 5 ms."""
    from scipy.stats import mannwhitneyu

    if not known_ms or not unknown_ms:
        return {"samples_known": len(known_ms), "samples_unknown": len(unknown_ms), "pass": False}
    p = float(mannwhitneyu(known_ms, unknown_ms, alternative="two-sided").pvalue)
    delta = float(np.median(known_ms) - np.median(unknown_ms))
    return {
        "samples_known": len(known_ms),
        "samples_unknown": len(unknown_ms),
        "median_known_ms": round(float(np.median(known_ms)), 2),
        "median_unknown_ms": round(float(np.median(unknown_ms)), 2),
        "delta_median_ms": round(delta, 2),
        "mann_whitney_p": round(p, 4),
        "pass": p >= P_MIN or abs(delta) < DELTA_MEDIAN_MS,
    }


def answers_figures(known: set[tuple[int, str]], unknown: set[tuple[int, str]]) -> Observed:
    """The (status, body) pairs each kind got: the same single answer for both."""
    return {
        "answers_known": sorted(f"{s} {b[:80]}" for s, b in known),
        "answers_unknown": sorted(f"{s} {b[:80]}" for s, b in unknown),
        "pass": known == unknown and len(known) == 1,
    }


class LoginEnumeration(SecurityCheck):
    id = "C09"
    name = "login enumeration"
    invariant = (
        f"{SAMPLES} paired logins each of an unknown number and a known one with a wrong password, "
        f"at low load and with logins {BUSY:.0%} busy: same status and body; Mann-Whitney p >= {P_MIN:g} "
        f"or |median difference| < {DELTA_MEDIAN_MS:g} ms; the same lockout after T failures"
    )

    def probe(self, client: ProbeClient) -> Observed:
        threshold = client.limit("lockout_threshold")
        state = {"address": 0, "unknown": UNKNOWN_FIRST, "failures": dict.fromkeys(KNOWN_ACCOUNTS, 0)}

        def address() -> dict[str, str]:
            state["address"] += 1
            n = state["address"]
            return {"X-Forwarded-For": f"10.250.{n // 250 % 250}.{n % 250 + 1}"}

        def unknown_id() -> str:
            state["unknown"] += 1
            return client.identity(state["unknown"])

        def attempt(identity: str, password: str) -> tuple[Any, float]:
            started = time.perf_counter()
            outcome = client.attempt(self.id, identity, password, address(), (200, 401, 429, 503))
            response = outcome.response
            if response is None:
                return None, 0.0
            timed = getattr(response, "request_meta", {}).get("response_time")
            return response, timed if timed is not None else (time.perf_counter() - started) * 1000

        def known_account(i: int) -> str:
            """The known account of sample i, its count restarted first (outside the timed pair) when
            one more wrong password would lock it."""
            number = KNOWN_ACCOUNTS[i % len(KNOWN_ACCOUNTS)]
            if state["failures"][number] >= threshold - 1:
                attempt(client.identity(number), client.password())
                state["failures"][number] = 0
            state["failures"][number] += 1
            return client.identity(number)

        def phase(seed: int) -> Observed:
            """SAMPLES pairs, each a known and an unknown number sent together (so both meet the same
            moment of the portal), in a seeded random order within the pair."""
            flips = random.Random(seed)
            times: dict[str, list[float]] = {"known": [], "unknown": []}
            answers: dict[str, set[tuple[int, str]]] = {"known": set(), "unknown": set()}
            for i in range(SAMPLES):
                kinds = ["known", "unknown"] if flips.random() < 0.5 else ["unknown", "known"]
                identities = {"known": known_account(i), "unknown": unknown_id()}
                pair = client.burst(
                    2, lambda j, kinds=kinds, ids=identities: attempt(ids[kinds[j]], "not-the-password"), 0
                )
                for kind, outcome in zip(kinds, pair, strict=True):
                    if outcome is None or outcome[0] is None:
                        answers[kind].add((0, ""))
                        continue
                    response, ms = outcome
                    answers[kind].add((response.status_code, response.text or ""))
                    if response.status_code == 401:
                        times[kind].append(ms)
            timing = timing_figures(times["known"], times["unknown"])
            same = answers_figures(answers["known"], answers["unknown"])
            return {**timing, **same, "pass": bool(timing.pop("pass") and same.pop("pass"))}

        low = phase(client.run.profile.seed)
        rate = self._calibrate(client, unknown_id, address)
        stop = self._background(client, BUSY * rate, unknown_id, address)
        busy = phase(client.run.profile.seed + 1)
        background = stop()
        busy["background_logins_per_s"] = round(BUSY * rate, 1)
        busy["background_answers"] = background
        lockout = self._lockouts(client, threshold, unknown_id, address)
        return in_parts(low_load=low, busy=busy, lockout=lockout)

    def _calibrate(self, client: ProbeClient, unknown_id: Any, address: Any) -> float:
        """Logins/s the portal sustains, closed loop, on unknown numbers from fresh addresses."""
        done = []
        deadline = time.monotonic() + CALIBRATION_S

        def loop(_i: int) -> None:
            while time.monotonic() < deadline:
                done.append(
                    client.attempt(self.id, unknown_id(), "calibration", address(), (401, 429, 503)).status
                )

        client.burst(CALIBRATION_CONCURRENCY, loop)
        return max(1.0, done.count(401) / CALIBRATION_S)

    def _background(self, client: ProbeClient, rate: float, unknown_id: Any, address: Any) -> Any:
        """Logins at ``rate`` per second until the returned stop() (which gives their statuses)."""

        def one() -> int:
            return client.attempt(self.id, unknown_id(), "background", address(), (401, 429, 503)).status

        stop = client.arrivals(rate, one)

        def finish() -> dict[str, int]:
            statuses = stop()
            return {str(s): statuses.count(s) for s in sorted(set(statuses))}

        return finish

    def _lockouts(self, client: ProbeClient, threshold: int, unknown_id: Any, address: Any) -> Observed:
        """T+1 wrong passwords on a known account and on an unknown number: the same statuses."""

        def statuses(identity: str) -> list[int]:
            return [
                client.attempt(self.id, identity, f"wrong-{i}", address(), (401, 429)).status
                for i in range(threshold + 1)
            ]

        known = statuses(client.identity(LOCKOUT_ACCOUNT))
        unknown = statuses(unknown_id())
        return {"known": known, "unknown": unknown, "pass": known == unknown and known[-1] == 429}


C09 = LoginEnumeration()
