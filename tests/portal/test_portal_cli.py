"""`dvclab portal serve` on its own: it starts the stub gateway and identity provider, the gateway's
signed callback marks the payment paid, idle keep-alive connections outlast a think time, and the stubs
stop with the portal."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from portal_helpers import GENEROUS, REPO, Portal, free_port, query, stop_portal
from portal_journey import submitted

from dvclab.portal import stubs
from dvclab.portal.demo import citizen_id

pytestmark = pytest.mark.slow  # the portal on uvicorn, its stub third parties, Redis or PostgreSQL


def children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def keep_alive_outlasts(port: int, idle_s: float) -> bool:
    """One connection: a request, `idle_s` of silence, another request on the same socket."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/healthz")
        first = connection.getresponse()
        first.read()  # the whole response, however many segments it came in
        sock = connection.sock
        time.sleep(idle_s)
        try:
            connection.request("GET", "/healthz")
            second = connection.getresponse()
            second.read()
        except (OSError, http.client.HTTPException):  # closed by the server meanwhile
            return False
        return first.status == second.status == 200 and connection.sock is sock
    finally:
        connection.close()


def test_serve_starts_stubs_and_the_gateway_calls_back(tmp_path: Path) -> None:
    port = free_port()
    db_url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
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
        "--demo-data",
    ]
    for name, limit in GENEROUS.items():
        command += ["--rate", f"{name}={limit}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DVCLAB_PORTAL_")}
    log = tmp_path / "serve.log"
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )
    helpers: set[int] = set()
    portal = Portal(f"http://127.0.0.1:{port}", process, db_url, None, log)  # type: ignore[arg-type]
    try:
        assert stubs.wait_ready(portal.url, timeout_s=30, process=process), log.read_text()
        helpers = children(process.pid)
        assert len(helpers) == 2  # gateway and identity provider
        auth = portal.login(citizen_id(5))  # went through the identity provider stub
        dossier_id, _ = submitted(portal, auth)
        with portal.client() as c:
            assert c.post(f"/api/v1/dossiers/{dossier_id}/payment", headers=auth).status_code == 201
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if c.get(f"/api/v1/dossiers/{dossier_id}", headers=auth).json()["paid"]:
                    break
                time.sleep(0.1)
        assert query(portal, "SELECT status FROM payments")[0][0] == "paid"
        assert query(portal, "SELECT count(*) FROM payment_events")[0][0] == 1
        assert keep_alive_outlasts(port, idle_s=6.0)  # uvicorn's own default (5 s) would have closed it
    finally:
        # SIGTERM to the serve process only: its stubs must not outlive it.
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
        stop_portal(portal)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in helpers):
        time.sleep(0.1)
    alive = [
        pid
        for pid in helpers
        if Path(f"/proc/{pid}").exists()
        and Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    ]
    assert not alive
