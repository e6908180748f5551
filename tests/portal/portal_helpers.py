"""Helpers that run the portal for real, through the process toolkit (``dvclab.embedded``,
``dvclab.services``): uvicorn subprocesses on loopback, stub third parties over HTTP, a real Redis and a
real PostgreSQL started in temporary directories and stopped afterwards. Thin wrappers keep the tests'
own names; the start-up logic is the toolkit's."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from dvclab import embedded, services
from dvclab.embedded import EmbeddedPortal, Stubs
from dvclab.portal.demo import CITIZEN_PASSWORD
from dvclab.processes import NotReady, free_port, stop_process, wait_port

__all__ = ["Stubs", "free_port", "wait_port"]  # the tests import these from here

REPO = Path(__file__).resolve().parents[2]
SECRET = "test-gateway-secret"
# Functional tests all come from 127.0.0.1: their server gets generous limits; the limit tests
# start servers with tight ones.
GENEROUS = {
    name: "100000/minute"
    for name in (
        "public",
        "track",
        "login_ip",
        "api",
        "dossier_create",
        "dossier_create_ip",
        "upload",
        "callback",
        "bad_token",
    )
}


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    stop_process(process, sig)


def start_stubs() -> Stubs:
    """The stub gateway (signing its callbacks with SECRET) and identity provider."""
    return embedded.start_stubs(secret=SECRET)


RedisServer, Postgres = services.RedisServer, services.PostgresCluster


def start_redis(tmp: Path) -> RedisServer:
    try:
        return services.start_redis(tmp)
    except services.ServiceMissing as exc:
        pytest.fail(str(exc))


class Portal(EmbeddedPortal):
    """The embedded portal, with an HTTP client and a login at hand."""

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
) -> Portal:
    """A portal on ``stubs_`` with generous limits (overridden by ``rates``), statistics never cached,
    none of the caller's own DVCLAB_PORTAL_* variables."""
    portal = Portal(
        tmp,
        db_url=db_url or "",
        workers=workers,
        redis_url=redis_url,
        rates={**GENEROUS, **(rates or {})},
        env={"DVCLAB_PORTAL_STATS_TTL_S": "0", **(env or {})},
        stubs=stubs_,
        clean_env=True,
        cwd=REPO,
    )
    try:
        return portal.start(timeout_s=30)
    except NotReady as failed:
        raise RuntimeError(f"{failed}:\n{portal.log.read_text()[-3000:]}") from None


def stop_portal(portal: Portal, sig: int = signal.SIGTERM) -> None:
    portal.stop(sig, timeout=15)


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
