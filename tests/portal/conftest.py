"""Fixtures that run the portal for real: uvicorn subprocesses on loopback, stub third parties over
HTTP, a real Redis and a real PostgreSQL started in temporary directories and stopped afterwards."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from portal_helpers import (
    Portal,
    Postgres,
    RedisServer,
    Stubs,
    _as_postgres,
    free_port,
    start_portal,
    start_redis,
    start_stubs,
    stop,
    stop_portal,
)

from portal.demo import OFFICER_PASSWORD, SYNC_PASSWORD, citizen_id


@pytest.fixture(scope="session")
def third_parties() -> Iterator[Stubs]:
    s = start_stubs()
    yield s
    for p in s.processes:
        stop(p)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    stop(server.process)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not bins:
        pytest.fail("PostgreSQL is missing: run `bash .ci/system-deps.sh`")
    bindir = bins[-1].parent
    tmp = Path(tempfile.mkdtemp(prefix="dvclab-pg-"))
    datadir = tmp / "data"
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres", "postgres")
    port = free_port()
    subprocess.run(
        _as_postgres(
            [
                str(bindir / "initdb"),
                "-D",
                str(datadir),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    options = (
        f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    subprocess.run(
        _as_postgres(
            [str(bindir / "pg_ctl"), "-D", str(datadir), "-o", options, "-w", "-l", str(tmp / "log"), "start"]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield Postgres(port, datadir, bindir)
    finally:
        subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "stop"]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def portal(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, third_parties: Stubs
) -> Iterator[Portal]:
    """The functional-test portal, once on SQLite and once on PostgreSQL."""
    db_url = None
    if request.param == "postgresql":
        db_url = request.getfixturevalue("postgres").new_database()
    server = start_portal(tmp_path_factory.mktemp(f"portal-{request.param}"), third_parties, db_url=db_url)
    yield server
    stop_portal(server)


_citizens = iter(range(1, 10_000))


@pytest.fixture
def citizen_no() -> int:
    """A demo citizen number (1..200) no other test in this session uses."""
    n = next(_citizens)
    assert n <= 200, "out of demo citizens"
    return n


@pytest.fixture
def citizen(portal: Portal, citizen_no: int) -> dict[str, str]:
    return portal.login(citizen_id(citizen_no))


@pytest.fixture
def officer(portal: Portal) -> dict[str, str]:
    return portal.login("036080000001", OFFICER_PASSWORD)


@pytest.fixture
def sync_account(portal: Portal) -> dict[str, str]:
    return portal.login("036070000001", SYNC_PASSWORD)
