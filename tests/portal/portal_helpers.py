"""Helpers that run the portal for real: uvicorn subprocesses on loopback, stub third parties over
HTTP, a real Redis and a real PostgreSQL started in temporary directories and stopped afterwards."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from dvclab import services
from dvclab.portal import stubs
from dvclab.portal.demo import CITIZEN_PASSWORD

REPO = Path(__file__).resolve().parents[2]
SECRET = "test-gateway-secret"
# Functional tests all come from 127.0.0.1: their server gets generous limits; the limit tests
# start servers with tight ones.
GENEROUS = {
    name: "100000/minute"
    for name in ("public", "track", "login_ip", "api", "dossier_create", "upload", "callback")
}


# One implementation of these for the tests, the benchmark and the load runner.
free_port, wait_port = services.free_port, services.wait_port


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    services.stop_process(process, sig)


# --- third parties ---------------------------------------------------------------------------------


@dataclass
class Stubs:
    gateway_url: str
    idp_url: str
    processes: list[subprocess.Popen] = field(default_factory=list)

    def faults(self, which: str, **faults: object) -> None:
        url = self.gateway_url if which == "gateway" else self.idp_url
        httpx.put(f"{url}/_faults", json=faults, trust_env=False).raise_for_status()

    def clear(self) -> None:
        self.faults("gateway")
        self.faults("idp")


def start_stubs() -> Stubs:
    gw, idp = free_port(), free_port()
    processes = [stubs.spawn("gateway", gw, secret=SECRET), stubs.spawn("idp", idp)]
    result = Stubs(f"http://127.0.0.1:{gw}", f"http://127.0.0.1:{idp}", processes)
    for p, url in zip(processes, (result.gateway_url, result.idp_url), strict=True):
        assert stubs.wait_ready(url, process=p), f"stub at {url} did not start"
    return result


# --- Redis and PostgreSQL ---------------------------------------------------------------------------

RedisServer, Postgres = services.RedisServer, services.PostgresCluster


def start_redis(tmp: Path) -> RedisServer:
    try:
        return services.start_redis(tmp)
    except services.ServiceMissing as exc:
        pytest.fail(str(exc))


# --- the portal ---------------------------------------------------------------------------------------


@dataclass
class Portal:
    url: str
    process: subprocess.Popen
    db_url: str
    stubs: Stubs
    log: Path

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, trust_env=False, timeout=30, **kwargs)  # type: ignore[arg-type]

    def login(self, national_id: str, password: str = CITIZEN_PASSWORD) -> dict[str, str]:
        with self.client() as c:
            r = c.post("/api/v1/auth/login", json={"national_id": national_id, "password": password})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}


def start_portal(
    tmp: Path,
    stubs_: Stubs,
    *,
    db_url: str | None = None,
    workers: int = 1,
    redis_url: str | None = None,
    rates: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    port: int | None = None,
) -> Portal:
    port = port or free_port()
    db_url = db_url or f"sqlite:///{tmp / 'portal.sqlite3'}"
    command = [
        sys.executable,
        "-m",
        "dvclab.cli",
        "portal",
        "serve",
        "--port",
        str(port),
        "--db",
        db_url,
        "--workers",
        str(workers),
        "--demo-data",
        "--gateway-url",
        stubs_.gateway_url,
        "--idp-url",
        stubs_.idp_url,
    ]
    if redis_url:
        command += ["--redis", redis_url]
    for name, limit in {**GENEROUS, **(rates or {})}.items():
        command += ["--rate", f"{name}={limit}"]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DVCLAB_PORTAL_")}
    environment.update(
        {"DVCLAB_PORTAL_GATEWAY_SECRET": SECRET, "DVCLAB_PORTAL_STATS_TTL_S": "0", **(env or {})}
    )
    log = tmp / f"portal-{port}.log"
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env=environment,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    portal = Portal(f"http://127.0.0.1:{port}", process, db_url, stubs_, log)
    if not stubs.wait_ready(portal.url, timeout_s=30, process=process):
        stop_portal(portal)
        raise RuntimeError(f"portal did not start:\n{log.read_text()[-3000:]}")
    return portal


def stop_portal(portal: Portal, sig: int = signal.SIGTERM) -> None:
    if portal.process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(portal.process.pid, sig)  # its own session: the uvicorn workers too
    try:
        portal.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(portal.process.pid, signal.SIGKILL)
        portal.process.wait(timeout=5)


def query(portal: Portal, sql: str, **params: object) -> list[tuple]:
    """Ground truth straight from the portal's database (read-only use)."""
    from sqlalchemy import create_engine, text

    url = portal.db_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]
    finally:
        engine.dispose()
