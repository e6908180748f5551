"""Per-process cap on requests in flight: beyond it, 503 + Retry-After instead of an unbounded queue
(uvicorn's own --limit-concurrency answers 503 without Retry-After)."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

_BODY = json.dumps(
    {
        "type": "https://dvclab.local/problems/temporary-reduced-capacity",
        "title": "Service unavailable",
        "status": 503,
        "detail": "the portal is at capacity; retry shortly",
    }
).encode()


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
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", b"application/problem+json"),
                        (b"retry-after", b"1"),
                        (b"content-length", str(len(_BODY)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": _BODY})
            return
        self.inflight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.inflight -= 1
