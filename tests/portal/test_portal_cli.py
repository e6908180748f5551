"""`dvclab portal serve` on its own: it starts the stub gateway and identity provider, the gateway's
signed callback marks the payment paid, idle keep-alive connections outlast a think time, and the stubs
stop with the portal."""

from __future__ import annotations

import http.client
import signal
import time
from pathlib import Path

import pytest
from portal_helpers import GENEROUS, REPO, Portal, query
from portal_journey import pay_and_wait, submitted

from dvclab.portal.demo import citizen_id
from dvclab.processes import children, proc_table

pytestmark = pytest.mark.slow  # the portal on uvicorn, its stub third parties, Redis or PostgreSQL


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
    # No stubs given: `portal serve` starts its own.
    portal = Portal(tmp_path, rates=GENEROUS, clean_env=True, cwd=REPO)
    helpers: set[int] = set()
    try:
        portal.start(timeout_s=30)
        assert portal.process is not None
        helpers = children(portal.process.pid)
        assert len(helpers) == 2  # gateway and identity provider
        auth = portal.login(citizen_id(5))  # went through the identity provider stub
        dossier_id, _ = submitted(portal, auth)
        pay_and_wait(portal, auth, dossier_id)
        assert query(portal, "SELECT status FROM payments")[0][0] == "paid"
        assert query(portal, "SELECT count(*) FROM payment_events")[0][0] == 1
        # uvicorn's own default (5 s) would have closed it
        assert keep_alive_outlasts(portal.port, idle_s=6.0)
    finally:
        # SIGTERM to the serve process only: its stubs must not outlive it.
        if portal.process is not None:
            portal.process.send_signal(signal.SIGTERM)
            portal.process.wait(timeout=20)
        portal.stop()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in helpers):
        time.sleep(0.1)
    alive = [pid for pid, fields in proc_table() if pid in helpers and fields[0] != "Z"]
    assert not alive
