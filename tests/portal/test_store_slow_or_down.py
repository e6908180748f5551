"""C06 for real: two portal workers share their limits through Redis behind a TCP proxy that adds 500 ms
or cuts Redis off during bursts of wrong passwords. The limits fail closed (429/503, never a 500, never
more than T passwords evaluated) and /healthz stays fast; the portal serves again once Redis is back.
/healthz is timed from a process of its own (``HealthzWatch``): timed from a thread beside the burst's, it
measured the test's own GIL (p99 55-75 ms with no fault at all, against 10 ms from outside). A first phase
without a fault is the control: on a machine too loaded for /healthz to be fast even then, the latency
bound is not judged (skipped, saying so) -- the fail-closed bounds always are."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
from portal_helpers import RedisServer, Stubs, query, start_portal, stop_portal

from dvclab.load.healthz_watch import HealthzWatch
from dvclab.load.store_checks import HEALTHZ_P99_MS, StoreProxy, command, phase_figures
from dvclab.portal.demo import citizen_id

# A p99 needs 100 samples to be more than the slowest one (the gate's rule for percentiles).
HEALTHZ_SAMPLES = 100
PHASE_MAX_S = 20.0
pytestmark = [pytest.mark.slow, pytest.mark.serial]  # two uvicorn workers, Redis; /healthz p99 timed

T = 5


def _burst(attacker: httpx.Client, identity: str, n: int) -> list[int]:
    """``n`` wrong passwords at once, each on a connection of its own (one client: a client per attempt
    costs the test ~20 ms of CPU each, for its TLS context)."""

    def one(i: int) -> int:
        body = {"national_id": identity, "password": f"wrong-{i}"}
        return attacker.post("/api/v1/auth/login", json=body, headers={"Connection": "close"}).status_code

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def test_limits_fail_closed_while_the_store_is_slow_or_down(
    tmp_path: Path, third_parties: Stubs, redis_server: RedisServer
) -> None:
    target = urlsplit(redis_server.url)
    proxy = StoreProxy((target.hostname or "127.0.0.1", target.port or 6379))
    control = f"127.0.0.1:{proxy.control_port}"
    server = start_portal(tmp_path, third_parties, workers=2, redis_url=f"redis://127.0.0.1:{proxy.port}/0")
    attacker = httpx.Client(
        base_url=server.url, trust_env=False, timeout=10, limits=httpx.Limits(max_connections=3 * T)
    )
    try:
        phases = {}
        for fault, line in (("none", "up"), ("latency", "latency 0.5"), ("down", "down")):
            command(control, line)
            watch = HealthzWatch(server.url + "/healthz")
            # Bursts on one account until /healthz has HEALTHZ_SAMPLES answers under the fault: the p99 of
            # the ~20 samples three bursts allow is their slowest one (it failed ~1 run in 8, quiet machine).
            statuses, deadline = [], time.monotonic() + PHASE_MAX_S
            while len(statuses) < 9 * T or (watch.count < HEALTHZ_SAMPLES and time.monotonic() < deadline):
                statuses += _burst(attacker, citizen_id(160 + len(phases)), 3 * T)
            healthz = watch.stop()
            answered = sorted(ms for ms in healthz if ms is not None)
            phases[fault] = {
                **phase_figures(statuses, T, healthz),
                "healthz_p90_ms": float(np.percentile(answered, 90)) if answered else None,
                "healthz_slowest_ms": answered[-5:],
            }
            command(control, "latency 0")
            command(control, "up")
        for figures in phases.values():  # fail closed: at most T guesses, the rest refused, never a 500
            assert figures["evaluated_401"] <= T and set(figures["statuses"]) <= {"401", "429", "503"}, phases
        assert set(phases["down"]["statuses"]) == {"503"}  # no store: every attempt refused, none guessed
        assert all(figures["healthz_samples"] >= HEALTHZ_SAMPLES for figures in phases.values()), phases
        rows = query(
            server,
            "SELECT count(*) FROM audit_events WHERE event = 'bad_password' AND subject IN (:a, :b)",
            a=citizen_id(161),
            b=citizen_id(162),
        )
        assert rows[0][0] <= 2 * T
        # Redis back: the portal serves again (the limiter reconnects on its own).
        time.sleep(0.5)
        assert server.login(citizen_id(163))["Authorization"].startswith("Bearer ")
        # The machine, not the fault: when, with no fault at all, a tenth of /healthz answers already take
        # half the limit (a quiet 2-core machine: 2-5 ms; the control's own p99 includes its 5 hashes, up
        # to 40 ms), a fault phase over the limit cannot be told from noise (side by side, not a bar).
        control = phases["none"]["healthz_p90_ms"]
        if control is None or control >= HEALTHZ_P99_MS / 2:
            pytest.skip(f"/healthz p90 is {control} ms with no fault at all: this machine is too loaded")
        assert phases["latency"]["pass"] and phases["down"]["pass"], phases
    finally:
        attacker.close()
        stop_portal(server)
        proxy.stop()
