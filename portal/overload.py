"""Per-process cap on requests in flight: beyond it, 503 + Retry-After instead of an unbounded queue
(uvicorn's own --limit-concurrency answers 503 without Retry-After). Logins get a second, earlier gate:
when the password hashing pool and its queue are full, a login is refused here, before its body is read
or any route machinery runs, so a hash flood's excess costs the event loop almost nothing (C22)."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send


def _problem(detail: str) -> bytes:
    return json.dumps(
        {
            "type": "https://dvclab.local/problems/temporary-reduced-capacity",
            "title": "Service unavailable",
            "status": 503,
            "detail": detail,
        }
    ).encode()


_BODY = _problem("the portal is at capacity; retry shortly")
_LOGINS_BODY = _problem("too many logins in progress; retry shortly")
LOGIN_PATH = "/api/v1/auth/login"


async def _refuse(send: Send, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"retry-after", b"1"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Overload:
    def __init__(self, app: ASGIApp, *, max_inflight: int) -> None:
        self.app = app
        self.max_inflight = max_inflight
        self.inflight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/healthz":
            await self.app(scope, receive, send)
            return
        if self.inflight >= self.max_inflight:
            await _refuse(send, _BODY)
            return
        if scope["path"] == LOGIN_PATH and scope.get("method") == "POST" and _hashing_full(scope):
            await _drain(receive)
            await _refuse(send, _LOGINS_BODY)
            return
        self.inflight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.inflight -= 1


async def _drain(receive: Receive, most: int = 64 * 1024) -> None:
    """Read the (small) login body before answering: a connection closed with unread bytes is reset,
    and the client may lose the 503 to that reset (seen as no answer under a 400-login flood)."""
    read = 0
    while read <= most:
        message = await receive()
        if message["type"] != "http.request":
            return
        read += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def _hashing_full(scope: Scope) -> bool:
    """The login's own gate (PasswordService.slot) would refuse it: no room in the pool or its queue."""
    app = scope.get("app")
    passwords = getattr(getattr(app, "state", None), "passwords", None)
    return passwords is not None and passwords.inflight >= passwords.capacity
