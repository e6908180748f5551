"""A 2xx on create, submit or pay means committed: nothing acknowledged is lost when the server is
killed with SIGKILL (SQLite in WAL mode, synchronous=FULL)."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from portal_helpers import Stubs, query, start_portal, stop_portal
from portal_journey import create, upload

from dvclab.portal.demo import citizen_id

pytestmark = [pytest.mark.slow, pytest.mark.serial]  # uvicorn, stub third parties, Redis or PostgreSQL


def test_acknowledged_writes_survive_kill(tmp_path: Path, third_parties: Stubs) -> None:
    server = start_portal(tmp_path, third_parties)
    auths = [server.login(citizen_id(160 + i)) for i in range(4)]
    acknowledged: list[int] = []
    submitted: list[str] = []
    stop_flag = threading.Event()

    def writer(auth: dict[str, str]) -> None:
        with server.client() as c:
            while not stop_flag.is_set():
                try:
                    r = create(c, auth)
                    if r.status_code != 201:
                        continue
                    acknowledged.append(r.json()["id"])
                    upload(c, auth, r.json()["id"])
                    s = c.post(f"/api/v1/dossiers/{r.json()['id']}/submit", headers=auth)
                    if s.status_code == 201:
                        submitted.append(s.json()["receipt_code"])
                except httpx.HTTPError:
                    return  # the server is gone

    threads = [threading.Thread(target=writer, args=(a,)) for a in auths]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and (len(acknowledged) < 30 or not submitted):
        time.sleep(0.05)
    stop_portal(server, signal.SIGKILL)  # no shutdown, no checkpoint
    stop_flag.set()
    for t in threads:
        t.join(timeout=10)
    assert len(acknowledged) > 20 and submitted
    # Restart on the same file: recovery replays the WAL.
    restarted = start_portal(tmp_path, third_parties, db_url=server.db_url)
    try:
        ids = {row[0] for row in query(restarted, "SELECT id FROM dossiers")}
        codes = {
            row[0]
            for row in query(restarted, "SELECT receipt_code FROM dossiers WHERE receipt_code IS NOT NULL")
        }
        assert set(acknowledged) <= ids
        assert set(submitted) <= codes
        with restarted.client() as c:
            assert c.get(f"/api/v1/track/{submitted[-1]}").status_code == 200
    finally:
        stop_portal(restarted)
