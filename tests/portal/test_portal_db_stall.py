"""A stalled database answers 503 + Retry-After, never 500: a PostgreSQL statement timeout and a
SQLite write lock held elsewhere (C07, C12)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
from portal_helpers import Postgres, Stubs, start_portal, stop_portal
from portal_journey import create

from dvclab.portal.demo import citizen_id

pytestmark = [pytest.mark.slow, pytest.mark.serial]  # uvicorn, stub third parties, Redis or PostgreSQL


def test_postgres_statement_timeout_is_503(tmp_path: Path, third_parties: Stubs, postgres: Postgres) -> None:
    db_url = postgres.new_database()
    server = start_portal(
        tmp_path, third_parties, db_url=db_url, env={"DVCLAB_PORTAL_DB_STATEMENT_TIMEOUT_MS": "300"}
    )
    try:
        auth = server.login(citizen_id(1))
        with (
            psycopg.connect(db_url) as blocker,
            server.client() as c,
        ):
            blocker.execute("LOCK TABLE dossiers IN ACCESS EXCLUSIVE MODE")  # held until the block ends
            r = c.get("/api/v1/dossiers", headers=auth)
            assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1, r.text
            assert r.headers["content-type"] == "application/problem+json"
            assert "canceling statement" not in r.text and "dossiers" not in r.text
            blocker.rollback()
            assert c.get("/api/v1/dossiers", headers=auth).status_code == 200
    finally:
        stop_portal(server)


@pytest.mark.timeout(60)
def test_sqlite_write_lock_held_elsewhere_is_503(tmp_path: Path, third_parties: Stubs) -> None:
    server = start_portal(tmp_path, third_parties, env={"DVCLAB_PORTAL_DB_POOL_TIMEOUT_S": "0.5"})
    try:
        auth = server.login(citizen_id(2))
        path = server.db_url.removeprefix("sqlite:///")
        blocker = sqlite3.connect(path, isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")  # another process holding the write lock
            with server.client() as c:
                r = create(c, auth)
                assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1, r.text
                assert "locked" not in r.text
                assert c.get("/api/v1/dossiers", headers=auth).status_code == 200  # readers carry on (WAL)
                blocker.execute("ROLLBACK")
                assert create(c, auth).status_code == 201
        finally:
            blocker.close()
    finally:
        stop_portal(server)
