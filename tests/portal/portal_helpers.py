"""Helpers that run the portal for real: uvicorn subprocesses on loopback, stub third parties over
HTTP, a real Redis and a real PostgreSQL started in temporary directories and stopped afterwards."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from portal import stubs
from portal.demo import CITIZEN_PASSWORD

REPO = Path(__file__).resolve().parents[2]
SECRET = "test-gateway-secret"
# Functional tests all come from 127.0.0.1: their server gets generous limits; the limit tests
# start servers with tight ones.
GENEROUS = {
    name: "100000/minute"
    for name in ("public", "track", "login_ip", "api", "dossier_create", "upload", "callback")
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


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


@dataclass
class RedisServer:
    url: str
    process: subprocess.Popen


def start_redis(tmp: Path) -> RedisServer:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is missing: run `bash .ci/system-deps.sh`")
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(tmp),
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(port)
    return RedisServer(f"redis://127.0.0.1:{port}/0", process)


@dataclass
class Postgres:
    port: int
    datadir: Path
    bindir: Path

    def new_database(self) -> str:
        import psycopg

        name = "portal_" + uuid.uuid4().hex[:10]
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


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
