"""Session revocation (C20) and flow quotas (C21) on the reference portal: a logout and a lockout revoke
the token on every worker at once; drafts are limited per citizen and per client address."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from portal_helpers import Portal, RedisServer, Stubs, query, start_portal, stop_portal
from portal_journey import create

from dvclab.portal.demo import citizen_id

pytestmark = [pytest.mark.slow, pytest.mark.serial]  # uvicorn (2 workers), stub third parties, Redis


@pytest.fixture(scope="module")
def two_workers(
    tmp_path_factory: pytest.TempPathFactory, third_parties: Stubs, redis_server: RedisServer
) -> Iterator[Portal]:
    server = start_portal(
        tmp_path_factory.mktemp("revocation"),
        third_parties,
        workers=2,
        redis_url=redis_server.url,
        rates={"dossier_create": "3/hour", "dossier_create_ip": "4/hour"},
        env={"DVCLAB_PORTAL_REDIS_TIMEOUT_S": "2", "DVCLAB_PORTAL_LOCKOUT_THRESHOLD": "3"},
    )
    yield server
    stop_portal(server)


def _fresh_connections(portal: Portal, auth: dict[str, str], n: int = 12) -> list[int]:
    """The same request on ``n`` new connections: the kernel spreads them over the workers."""
    statuses = []
    for _ in range(n):
        with portal.client(headers={"Connection": "close"}) as c:
            statuses.append(c.get("/api/v1/dossiers", headers=auth).status_code)
    return statuses


def test_logout_revokes_the_token_on_every_worker(two_workers: Portal) -> None:
    auth = two_workers.login(citizen_id(11))
    assert _fresh_connections(two_workers, auth) == [200] * 12
    with two_workers.client() as c:
        assert c.post("/api/v1/auth/logout", headers=auth).status_code == 204
    assert _fresh_connections(two_workers, auth) == [401] * 12
    again = two_workers.login(citizen_id(11))
    assert again != auth and _fresh_connections(two_workers, again, 2) == [200, 200]  # a new token


def test_the_locking_attempt_revokes_the_accounts_tokens(two_workers: Portal) -> None:
    account = citizen_id(12)
    first, second = two_workers.login(account), two_workers.login(account)
    bystander = two_workers.login(citizen_id(13))
    with two_workers.client() as c:
        statuses = [
            c.post("/api/v1/auth/login", json={"national_id": account, "password": f"wrong-{i}"}).status_code
            for i in range(3)
        ]
    assert statuses == [401, 401, 401]  # the third failure locks the account
    assert _fresh_connections(two_workers, first, 6) == [401] * 6
    assert _fresh_connections(two_workers, second, 6) == [401] * 6
    assert _fresh_connections(two_workers, bystander, 2) == [200, 200]  # other accounts keep theirs
    sessions = query(
        two_workers,
        "SELECT count(*) FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE a.national_id = :a",
        a=account,
    )
    assert sessions == [(0,)]
    assert query(two_workers, "SELECT count(*) FROM audit_events WHERE event = 'account_locked'") == [(1,)]


def test_drafts_are_limited_per_citizen_and_per_address(two_workers: Portal) -> None:
    mine, neighbour = two_workers.login(citizen_id(14)), two_workers.login(citizen_id(15))
    with two_workers.client() as c:
        own = [create(c, mine) for _ in range(4)]
        assert [r.status_code for r in own] == [201, 201, 201, 429]
        assert own[0].headers["ratelimit-policy"] == (
            '"dossier_create";q=3;w=3600, "dossier_create_ip";q=4;w=3600'
        )
        assert own[3].headers["ratelimit"].startswith('"dossier_create";r=0')
        # Same address, another citizen within their own quota: the address's quota (4) is what refuses.
        theirs = [create(c, neighbour) for _ in range(2)]
    assert [r.status_code for r in theirs] == [201, 429]
    refused = theirs[1]
    assert refused.headers["ratelimit"].startswith('"dossier_create_ip";r=0')
    assert int(refused.headers["retry-after"]) >= 1 and refused.json()["type"].endswith("quota-exceeded")
    owned = query(
        two_workers,
        "SELECT count(*) FROM dossiers d JOIN accounts a ON a.id = d.owner_id "
        "WHERE a.national_id IN (:a, :b)",
        a=citizen_id(14),
        b=citizen_id(15),
    )
    assert owned == [(4,)]
