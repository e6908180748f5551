"""Limits shared across 2 uvicorn workers through a real Redis; fail closed when Redis is down."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from portal_helpers import Portal, RedisServer, Stubs, query, start_portal, start_redis, stop, stop_portal

from dvclab.portal.demo import CITIZEN_PASSWORD, citizen_id

pytestmark = [pytest.mark.slow, pytest.mark.serial]  # uvicorn, stub third parties, Redis or PostgreSQL


def worker_pids(portal: Portal) -> set[int]:
    """uvicorn's worker processes: children of the supervisor (the CLI process)."""
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == portal.process.pid:
            children.add(int(stat.parent.name))
    return children


@pytest.fixture(scope="module")
def two_workers(
    tmp_path_factory: pytest.TempPathFactory, third_parties: Stubs, redis_server: RedisServer
) -> Iterator[Portal]:
    server = start_portal(
        tmp_path_factory.mktemp("two-workers"),
        third_parties,
        workers=2,
        redis_url=redis_server.url,
        rates={"public": "10/minute"},
        # A busy CI machine can stall Redis answers past the 200 ms default; here we test sharing.
        env={"DVCLAB_PORTAL_REDIS_TIMEOUT_S": "2"},
    )
    yield server
    stop_portal(server)


def test_rate_limit_is_global_across_workers(two_workers: Portal) -> None:
    assert len(worker_pids(two_workers)) >= 2
    # Fresh connections (Connection: close) so the kernel spreads them over both workers.
    n = 30
    gate = threading.Barrier(n)

    def one(_i: int) -> httpx.Response:
        with httpx.Client(base_url=two_workers.url, trust_env=False, headers={"Connection": "close"}) as c:
            gate.wait()
            return c.get("/api/v1/procedures")

    with ThreadPoolExecutor(n) as pool:
        responses = list(pool.map(one, range(n)))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == Counter({200: 10, 429: 20}), statuses
    refused = next(r for r in responses if r.status_code == 429)
    assert (
        refused.headers["ratelimit"].startswith('"public";r=0;t=')
        and int(refused.headers["retry-after"]) >= 1
    )
    assert all(r.headers["ratelimit-policy"] == '"public";q=10;w=60' for r in responses)


def test_lockout_holds_across_workers(two_workers: Portal) -> None:
    nid = citizen_id(150)
    n = 24
    gate = threading.Barrier(n)

    def attempt(i: int) -> int:
        with httpx.Client(base_url=two_workers.url, trust_env=False, headers={"Connection": "close"}) as c:
            gate.wait()
            password = CITIZEN_PASSWORD if i == 12 else f"guess{i}"
            return c.post("/api/v1/auth/login", json={"national_id": nid, "password": password}).status_code

    with ThreadPoolExecutor(n) as pool:
        statuses = Counter(pool.map(attempt, range(n)))
    assert statuses[401] <= 5 and statuses[200] + statuses[401] <= 6 and statuses[429] >= n - 6, statuses
    bad = query(
        two_workers, "SELECT count(*) FROM audit_events WHERE event='bad_password' AND subject=:s", s=nid
    )
    assert bad[0][0] == statuses[401]


def test_redis_down_fails_closed(tmp_path: Path, third_parties: Stubs) -> None:
    redis = start_redis(tmp_path)
    server = start_portal(tmp_path, third_parties, workers=2, redis_url=redis.url)
    try:
        with server.client() as c:
            assert c.get("/api/v1/procedures").status_code == 200
            stop(redis.process)
            for _ in range(4):
                r = c.get("/api/v1/procedures")
                assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1, r.text
                assert r.headers["content-type"] == "application/problem+json"
            r = c.post(
                "/api/v1/auth/login", json={"national_id": citizen_id(151), "password": CITIZEN_PASSWORD}
            )
            assert r.status_code == 503
            assert c.get("/healthz").status_code == 200
    finally:
        stop_portal(server)
        stop(redis.process)


def test_two_workers_without_shared_store_refused(tmp_path: Path, third_parties: Stubs) -> None:
    with pytest.raises(RuntimeError, match="--redis"):
        start_portal(tmp_path, third_parties, workers=2)
