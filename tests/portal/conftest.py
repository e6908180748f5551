"""Fixtures that run the portal for real: uvicorn subprocesses on loopback, stub third parties over
HTTP, a real Redis and a real PostgreSQL started in temporary directories and stopped afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from portal_helpers import (
    Portal,
    Postgres,
    RedisServer,
    Stubs,
    start_portal,
    start_redis,
    start_stubs,
    stop_portal,
)

from dvclab import services
from dvclab.portal.demo import OFFICER_PASSWORD, SYNC_PASSWORD, citizen_id


@pytest.fixture(scope="session")
def third_parties() -> Iterator[Stubs]:
    with start_stubs() as stubs:
        yield stubs


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with start_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    try:
        cluster = services.start_postgres(durable=False)  # functional tests: no fsync
    except services.ServiceMissing as exc:
        pytest.fail(str(exc))
    with cluster:
        yield cluster


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
