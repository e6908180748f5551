"""One test per documented limit, each on a server started with that limit set tight (SQLite)."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from portal_helpers import Portal, Stubs, query, start_portal, start_stubs, stop, stop_portal
from portal_journey import create, submitted, upload

from dvclab.cli import main as dvclab_main
from dvclab.portal.demo import citizen_id

pytestmark = [pytest.mark.slow, pytest.mark.serial]  # uvicorn, stub third parties, Redis or PostgreSQL

RATELIMIT = re.compile(r'^"(\w+)";r=(\d+);t=(\d+)$')


@pytest.fixture(scope="module")
def tight(tmp_path_factory: pytest.TempPathFactory, third_parties: Stubs) -> Iterator[Portal]:
    server = start_portal(
        tmp_path_factory.mktemp("tight"),
        third_parties,
        rates={"public": "5/minute", "track": "3/minute", "dossier_create": "3/hour"},
    )
    yield server
    stop_portal(server)


def test_rate_limit_429_shape_and_untrusted_forwarded_for(tight: Portal) -> None:
    with tight.client() as c:
        ok = [c.get("/api/v1/procedures", headers={"X-Forwarded-For": f"203.0.113.{i}"}) for i in range(5)]
        refused = c.get("/api/v1/procedures", headers={"X-Forwarded-For": "198.51.100.7"})
    assert [r.status_code for r in ok] == [200] * 5
    assert ok[0].headers["ratelimit-policy"] == '"public";q=5;w=60'
    assert [int(RATELIMIT.match(r.headers["ratelimit"]).group(2)) for r in ok] == [4, 3, 2, 1, 0]
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("quota-exceeded")
    retry_after = int(refused.headers["retry-after"])
    name, remaining, window = RATELIMIT.match(refused.headers["ratelimit"]).groups()
    assert name == "public" and remaining == "0" and 1 <= int(window) <= retry_after <= 60
    # Statistics share the "public" quota; tracking has its own.
    with tight.client() as c:
        assert c.get("/api/v1/statistics").status_code == 429
        assert c.get("/healthz").status_code == 200  # health is never limited


def test_tracking_limit(tight: Portal) -> None:
    with tight.client() as c:
        statuses = [c.get("/api/v1/track/HSAAAAAAAAAAAAAAAA").status_code for _ in range(5)]
    assert statuses == [404, 404, 404, 429, 429]


def test_dossier_creation_quota_per_citizen(tight: Portal) -> None:
    auth = tight.login(citizen_id(1))
    other = tight.login(citizen_id(2))
    with tight.client() as c:
        statuses = [create(c, auth).status_code for _ in range(5)]
        assert create(c, other).status_code == 201  # per account, not global
    assert statuses == [201, 201, 201, 429, 429]


def test_login_limit_per_ip(tmp_path: Path, third_parties: Stubs) -> None:
    server = start_portal(tmp_path, third_parties, rates={"login_ip": "4/minute"})
    try:
        with server.client() as c:
            # Password spraying: one source, many accounts.
            rs = [
                c.post("/api/v1/auth/login", json={"national_id": citizen_id(10 + i), "password": "x"})
                for i in range(6)
            ]
        assert [r.status_code for r in rs] == [401] * 4 + [429] * 2
        assert rs[-1].headers["retry-after"].isdigit()
        # Refused by the per-IP limit before any password was evaluated.
        assert query(server, "SELECT count(*) FROM audit_events WHERE event = 'bad_password'")[0][0] == 4
    finally:
        stop_portal(server)


def test_body_over_limit_refused_before_it_is_read(portal: Portal, citizen: dict) -> None:
    with portal.client() as c:
        dossier_id = create(c, citizen).json()["id"]
    host, port = portal.url.removeprefix("http://").split(":")
    # Announce 50 MiB and send none of it: the answer must come anyway.
    request = (
        f"POST /api/v1/dossiers/{dossier_id}/files HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: {citizen['Authorization']}\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 52428800\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(request.encode())
        answer = s.recv(4096).decode(errors="replace")
    assert answer.startswith("HTTP/1.1 413"), answer
    # A JSON route has a much smaller cap.
    with portal.client() as c:
        r = c.post(
            "/api/v1/auth/login",
            content=b"{" + b" " * 70_000 + b"}",
            headers={"content-type": "application/json"},
        )
    assert r.status_code == 413

    # Chunked bodies (no Content-Length) are counted as they stream.
    def chunks() -> Iterator[bytes]:
        yield b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n%PDF-'
        for _ in range(12):
            yield b"0" * 1024 * 1024

    with portal.client() as c:
        r = c.post(
            f"/api/v1/dossiers/{dossier_id}/files",
            content=chunks(),
            headers={**citizen, "content-type": "multipart/form-data; boundary=x"},
        )
    assert r.status_code == 413
    assert query(portal, "SELECT count(*) FROM dossier_files WHERE dossier_id = :d", d=dossier_id)[0][0] == 0


def test_per_account_api_and_upload_limits(tmp_path: Path, third_parties: Stubs) -> None:
    server = start_portal(tmp_path, third_parties, rates={"api": "6/minute", "upload": "2/hour"})
    try:
        auth, other = server.login(citizen_id(30)), server.login(citizen_id(31))
        with server.client() as c:
            dossier_id = create(c, auth).json()["id"]
            uploads = [upload(c, auth, dossier_id).status_code for _ in range(3)]
            reads = [c.get("/api/v1/dossiers", headers=auth).status_code for _ in range(7)]
            assert c.get("/api/v1/dossiers", headers=other).status_code == 200  # per account
        assert uploads == [201, 201, 429]
        assert reads == [200] * 6 + [429]
    finally:
        stop_portal(server)


def test_hash_pool_saturation_answers_503(tmp_path: Path, third_parties: Stubs) -> None:
    # One argon2 slot and no queue: concurrent logins beyond it are refused, not queued without bound.
    server = start_portal(
        tmp_path, third_parties, env={"DVCLAB_PORTAL_HASH_WORKERS": "1", "DVCLAB_PORTAL_HASH_QUEUE": "0"}
    )
    try:
        gate = threading.Barrier(8)

        def login(i: int) -> tuple[int, str | None]:
            with server.client() as c:
                c.get("/healthz")
                gate.wait()
                r = c.post("/api/v1/auth/login", json={"national_id": citizen_id(40 + i), "password": "x"})
                return r.status_code, r.headers.get("retry-after")

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(login, range(8)))
        statuses = Counter(s for s, _ in results)
        assert set(statuses) == {401, 503} and statuses[503] >= 1, statuses
        assert all(ra for s, ra in results if s == 503)
        # Refused before evaluation: only evaluated attempts count as failures.
        assert (
            query(server, "SELECT count(*) FROM audit_events WHERE event = 'bad_password'")[0][0]
            == statuses[401]
        )
    finally:
        stop_portal(server)


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Portal, Stubs]]:
    """A portal with its own stubs (faults injected here touch no other test) and short timeouts."""
    own = start_stubs()
    server = start_portal(
        tmp_path_factory.mktemp("faulty"),
        own,
        env={"DVCLAB_PORTAL_UPSTREAM_TIMEOUT_S": "1.0", "DVCLAB_PORTAL_MAX_INFLIGHT": "4"},
    )
    yield server, own
    stop_portal(server)
    for p in own.processes:
        stop(p)


def test_dependency_down_or_slow_gives_503_and_writes_nothing(faulty: tuple[Portal, Stubs]) -> None:
    server, stubs_ = faulty
    auth = server.login(citizen_id(3))
    dossier_id, _ = submitted(server, auth)
    stubs_.faults("gateway", outage=True)
    with server.client() as c:
        r = c.post(f"/api/v1/dossiers/{dossier_id}/payment", headers=auth)
        assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
        assert "gateway" in r.json()["detail"]
        stubs_.faults("gateway", latency_ms=4000)  # slower than the portal's 1 s timeout
        started = time.monotonic()
        r = c.post(f"/api/v1/dossiers/{dossier_id}/payment", headers=auth)
        assert r.status_code == 503 and time.monotonic() - started < 3.0
        assert c.get(f"/api/v1/dossiers/{dossier_id}", headers=auth).json()["payment"] is None
        assert query(server, "SELECT count(*) FROM payments")[0][0] == 0
        stubs_.faults("gateway", malformed=True)  # a 200 whose body is not JSON: still a 503, not a 500
        assert c.post(f"/api/v1/dossiers/{dossier_id}/payment", headers=auth).status_code == 503
        assert query(server, "SELECT count(*) FROM payments")[0][0] == 0
        stubs_.faults("gateway")
        assert c.post(f"/api/v1/dossiers/{dossier_id}/payment", headers=auth).status_code == 201
        stubs_.faults("idp", malformed=True)
        r = c.post("/api/v1/auth/login", json={"national_id": citizen_id(4), "password": "Citizen@2024"})
        assert r.status_code == 503 and "identity provider" in r.json()["detail"]
        # Identity provider down: login answers 503 and the attempt is not counted as a failure.
        stubs_.faults("idp", outage=True)
        r = c.post("/api/v1/auth/login", json={"national_id": citizen_id(4), "password": "Citizen@2024"})
        assert r.status_code == 503 and r.headers["retry-after"]
    failures = query(server, "SELECT failures FROM login_throttle WHERE identifier = :i", i=citizen_id(4))
    assert failures == [(0,)]


def test_overload_answers_503_with_retry_after(faulty: tuple[Portal, Stubs]) -> None:
    server, stubs_ = faulty
    stubs_.faults("idp", latency_ms=300)  # logins now hold a slot for 0.3 s; the cap is 4 in flight
    gate = threading.Barrier(12)

    def login(i: int) -> tuple[int, str | None]:
        with server.client() as c:
            c.get("/healthz")
            gate.wait()
            r = c.post(
                "/api/v1/auth/login", json={"national_id": citizen_id(20 + i), "password": "Citizen@2024"}
            )
            return r.status_code, r.headers.get("retry-after")

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(login, range(12)))
    statuses = Counter(s for s, _ in results)
    assert set(statuses) == {200, 503} and statuses[200] <= 4, statuses
    assert all(ra == "1" for s, ra in results if s == 503)


def test_cli_refuses_old_schema_and_missing_catalog(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    old = tmp_path / "old.sqlite3"
    with sqlite3.connect(old) as conn:
        conn.execute("CREATE TABLE login_throttle (identifier VARCHAR(64) PRIMARY KEY, failures INT)")
    fake = ["--gateway-url", "http://127.0.0.1:9", "--idp-url", "http://127.0.0.1:9"]
    assert dvclab_main(["portal", "serve", "--db", f"sqlite:///{old}", *fake]) == 2
    assert "older portal" in capsys.readouterr().err
    fresh = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    assert (
        dvclab_main(["portal", "serve", "--db", fresh, "--catalog", str(tmp_path / "none.csv"), *fake]) == 2
    )
    assert "catalog file not found" in capsys.readouterr().err


def test_cli_refuses_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert dvclab_main(["portal", "serve", "--workers", "2"]) == 2
    assert "--redis" in capsys.readouterr().err
    assert dvclab_main(["portal", "serve", "--rate", "login_ip"]) == 2
    assert "NAME=LIMIT" in capsys.readouterr().err
    assert dvclab_main(["portal", "serve", "--rate", "login_ip=often"]) == 2
    assert dvclab_main(["portal", "serve", "--rate", "nosuch=1/minute"]) == 2
    assert dvclab_main(["portal", "serve", "--db", "mysql://x"]) == 2
    assert dvclab_main(["portal", "serve", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("dvclab portal serve:") == 4
    with pytest.raises(SystemExit) as exited:
        dvclab_main(["portal", "serve", "--workers", "two"])
    assert exited.value.code == 2
