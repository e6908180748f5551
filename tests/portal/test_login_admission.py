"""A hash flood's excess is refused before any route runs (C22): with the password pool and its queue
full, a login gets 503 + Retry-After from the outer middleware; other requests and /healthz pass."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from dvclab.portal.overload import LOGIN_PATH, Overload


def _call(path: str, method: str, inflight: int, capacity: int = 66) -> tuple[list[dict[str, Any]], int]:
    reached = 0
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal reached
        reached += 1

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    body = [{"type": "http.request", "body": b'{"national_id":', "more_body": True}]
    body += [{"type": "http.request", "body": b'"036090000001","password":"x"}', "more_body": False}]

    async def receive() -> dict[str, Any]:
        return body.pop(0)

    passwords = SimpleNamespace(inflight=inflight, capacity=capacity)
    scope = {
        "type": "http",
        "path": path,
        "method": method,
        "app": SimpleNamespace(state=SimpleNamespace(passwords=passwords)),
    }
    asyncio.run(Overload(app, max_inflight=512)(scope, receive, send))
    drained.append(not body)
    return sent, reached


drained: list[bool] = []


def test_a_login_beyond_the_hashing_queue_is_refused_before_the_route() -> None:
    sent, reached = _call(LOGIN_PATH, "POST", inflight=66)
    assert reached == 0 and sent[0]["status"] == 503
    assert (b"retry-after", b"1") in sent[0]["headers"]
    assert b"too many logins" in sent[1]["body"]
    assert drained[-1]  # the body was read first: closing on unread bytes resets the connection


def test_room_in_the_queue_other_routes_and_healthz_pass() -> None:
    assert _call(LOGIN_PATH, "POST", inflight=65) == ([], 1)
    assert _call("/api/v1/dossiers", "POST", inflight=66) == ([], 1)
    assert _call("/healthz", "GET", inflight=66) == ([], 1)
    assert _call(LOGIN_PATH, "GET", inflight=66) == ([], 1)  # a 405 is the route's to give
