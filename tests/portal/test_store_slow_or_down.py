"""C06 for real: two portal workers share their limits through Redis behind a TCP proxy that adds 500 ms
or cuts Redis off during bursts of wrong passwords. The limits fail closed (429/503, never a 500, never
more than T passwords evaluated) and /healthz stays fast; the portal serves again once Redis is back.
A first phase without a fault is the control: on a machine too loaded for /healthz to be fast even then,
the latency bound is not judged (skipped, saying so) -- the fail-closed bounds always are."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from portal_helpers import RedisServer, Stubs, query, start_portal, stop_portal

from dvclab.load.store_checks import HEALTHZ_P99_MS, StoreProxy, command, phase_figures
from dvclab.portal.demo import citizen_id

# A p99 needs 100 samples to be more than the slowest one (the gate's rule for percentiles).
HEALTHZ_SAMPLES = 100
PHASE_MAX_S = 20.0
pytestmark = [pytest.mark.slow, pytest.mark.serial]  # two uvicorn workers, Redis; /healthz p99 timed

T = 5


def _burst(url: str, identity: str, n: int) -> list[int]:
    def one(i: int) -> int:
        with httpx.Client(base_url=url, trust_env=False, timeout=10) as c:
            body = {"national_id": identity, "password": f"wrong-{i}"}
            return c.post("/api/v1/auth/login", json=body, headers={"Connection": "close"}).status_code

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def test_limits_fail_closed_while_the_store_is_slow_or_down(
    tmp_path: Path, third_parties: Stubs, redis_server: RedisServer
) -> None:
    target = urlsplit(redis_server.url)
    proxy = StoreProxy((target.hostname or "127.0.0.1", target.port or 6379))
    control = f"127.0.0.1:{proxy.control_port}"
    server = start_portal(tmp_path, third_parties, workers=2, redis_url=f"redis://127.0.0.1:{proxy.port}/0")
    healthz: list[float | None] = []
    watching = threading.Event()

    def watch() -> None:
        with httpx.Client(base_url=server.url, trust_env=False, timeout=5) as c:
            while not watching.is_set():
                started = time.perf_counter()
                ok = c.get("/healthz").status_code == 200
                healthz.append((time.perf_counter() - started) * 1000 if ok else None)
                time.sleep(0.02)

    try:
        watcher = threading.Thread(target=watch)
        watcher.start()
        phases = {}
        for fault, line in (("none", "up"), ("latency", "latency 0.5"), ("down", "down")):
            command(control, line)
            healthz.clear()
            # Bursts on one account until /healthz has HEALTHZ_SAMPLES answers under the fault: the p99 of
            # the ~20 samples three bursts allow is their slowest one (it failed ~1 run in 8, quiet machine).
            statuses, deadline = [], time.monotonic() + PHASE_MAX_S
            while len(statuses) < 9 * T or (len(healthz) < HEALTHZ_SAMPLES and time.monotonic() < deadline):
                statuses += _burst(server.url, citizen_id(160 + len(phases)), 3 * T)
            phases[fault] = {**phase_figures(statuses, T, list(healthz)), "healthz": sorted(healthz)[-5:]}
            command(control, "latency 0")
            command(control, "up")
        watching.set()
        watcher.join()
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
        control = phases["none"]["healthz_p99_ms"]
        # The machine, not the fault: with no fault at all /healthz already takes over half the limit (CI saw
        # 68 ms), so a fault phase over it cannot be told from noise (side by side, not an absolute bar).
        if control is None or control >= HEALTHZ_P99_MS / 2:
            pytest.skip(f"/healthz p99 is {control} ms with no fault at all: this machine is too loaded")
        assert phases["latency"]["pass"] and phases["down"]["pass"], phases
    finally:
        watching.set()
        stop_portal(server)
        proxy.stop()
