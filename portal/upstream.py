"""HTTP clients for the third parties: the payment gateway and the national identity provider.

Every call is bounded in time; any timeout, connection error or 5xx becomes 503 + Retry-After for
the portal's client, raised *before* the portal writes anything that depends on the answer.

The client is a small HTTP/1.1 one over asyncio streams with a pool of keep-alive connections: the
portal sends two kinds of requests to two known services, and httpx spent about 3 ms of CPU on each
(some 6 ms of a citizen's journey, py-spy) where writing the request and reading a Content-Length or
chunked answer costs about 0.2 ms.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import ssl
from typing import Any
from urllib.parse import urlsplit

from dvclab.portal.errors import Unavailable

MAX_IDLE = 50  # keep-alive connections kept per third party
MAX_HEAD = 64 * 1024  # bytes of status line and headers
MAX_BODY = 1024 * 1024  # a third party's answer is a small JSON object


class UpstreamAnswer:
    """What a third party answered: its status and body."""

    __slots__ = ("content", "status_code")

    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code = status_code
        self.content = content

    def json(self) -> Any:
        return jsonlib.loads(self.content)


class _Broken(Exception):
    """The connection failed or answered outside HTTP/1.1."""


class _Stale(_Broken):
    """A pooled connection was closed by the server before it answered anything: safe to send again."""


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class HttpClient:
    """Keep-alive HTTP/1.1 to one base URL; every request bounded by ``timeout_s`` as a whole."""

    def __init__(self, base_url: str, timeout_s: float, connect_timeout_s: float) -> None:
        target = urlsplit(base_url)
        self.secure = target.scheme == "https"
        self.host = target.hostname or "127.0.0.1"
        self.port = target.port or (443 if self.secure else 80)
        self.prefix = target.path.rstrip("/")
        self.host_header = target.netloc
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.idle: list[Connection] = []

    async def _connect(self) -> Connection:
        context = ssl.create_default_context() if self.secure else None
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                return await asyncio.open_connection(self.host, self.port, ssl=context)
        except (OSError, TimeoutError) as exc:
            raise _Broken(f"connect: {exc!r}") from exc

    async def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, json: Any = None
    ) -> UpstreamAnswer:
        body = jsonlib.dumps(json).encode() if json is not None else b""
        lines = [f"{method} {self.prefix}{path} HTTP/1.1", f"Host: {self.host_header}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if json is not None:
            lines.append("Content-Type: application/json")
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        message = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        async with asyncio.timeout(self.timeout_s):
            while self.idle:  # a pooled connection the server closed meanwhile: the next one, or a new one
                try:
                    return await self._exchange(self.idle.pop(), message, pooled=True)
                except _Stale:
                    continue
            return await self._exchange(await self._connect(), message, pooled=False)

    async def _exchange(self, conn: Connection, message: bytes, pooled: bool) -> UpstreamAnswer:
        reader, writer = conn
        reusable = False
        try:
            writer.write(message)
            await writer.drain()
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as exc:
                if pooled and not exc.partial:
                    raise _Stale from exc
                raise _Broken("closed before answering") from exc
            except (ConnectionError, asyncio.LimitOverrunError) as exc:
                if pooled and isinstance(exc, ConnectionError):
                    raise _Stale from exc
                raise _Broken(repr(exc)) from exc
            status, fields = _parse_head(head)
            if "chunked" in fields.get("transfer-encoding", ""):
                content = await _read_chunked(reader)
            elif "content-length" in fields:
                length = int(fields["content-length"])
                if length > MAX_BODY:
                    raise _Broken("answer too large")
                content = await reader.readexactly(length)
            else:
                content = await reader.read(MAX_BODY)  # delimited by the server closing
                fields["connection"] = "close"
            reusable = fields.get("connection", "").lower() != "close"
            return UpstreamAnswer(status, content)
        except (ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
            raise _Broken(repr(exc)) from exc
        finally:
            if reusable and len(self.idle) < MAX_IDLE:
                self.idle.append(conn)
            else:
                writer.close()

    async def aclose(self) -> None:
        while self.idle:
            self.idle.pop()[1].close()


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    if len(head) > MAX_HEAD:
        raise ValueError("headers too large")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    if not version.startswith("HTTP/1."):
        raise ValueError(f"not HTTP/1.x: {status_line[:40]!r}")
    fields: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip().lower()] = value.strip()
    return int(rest[:3]), fields


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts, size = [], 0
    while True:
        length = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        size += length
        if size > MAX_BODY:
            raise ValueError("answer too large")
        if length == 0:
            await reader.readuntil(b"\r\n")  # no trailers are expected; the empty line ends the body
            return b"".join(parts)
        parts.append(await reader.readexactly(length))
        await reader.readexactly(2)


class Upstream:
    def __init__(self, name: str, base_url: str, timeout_s: float) -> None:
        self.name = name
        self.client = HttpClient(base_url, timeout_s, min(0.5, timeout_s))

    async def call(self, method: str, path: str, **kwargs: Any) -> UpstreamAnswer:
        try:
            response = await self.client.request(method, path, **kwargs)
        except (_Broken, TimeoutError, OSError) as exc:
            raise Unavailable(f"the {self.name} is not answering; retry shortly", 5) from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise Unavailable(f"the {self.name} is unavailable; retry shortly", 5)
        return response

    async def close(self) -> None:
        await self.client.aclose()


class IdentityProvider(Upstream):
    """The national identity provider (VNeID-like): confirms a citizen's identity is active."""

    def __init__(self, base_url: str, timeout_s: float) -> None:
        super().__init__("identity provider", base_url, timeout_s)

    async def citizen(self, national_id: str) -> dict[str, Any] | None:
        response = await self.call("GET", f"/v1/citizens/{national_id}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise Unavailable("the identity provider gave an unexpected answer", 5)
        try:
            return dict(response.json())
        except (ValueError, TypeError):  # not a JSON object: a broken dependency is a 503, never a 500
            raise Unavailable("the identity provider gave an unexpected answer", 5) from None

    async def send_sms(self, phone: str, text: str) -> None:
        """Have a one-time code delivered to a phone (the provider's SMS; each one is paid for)."""
        response = await self.call("POST", "/v1/sms", json={"phone": phone, "text": text})
        if response.status_code not in (200, 201, 202):
            raise Unavailable("the identity provider refused to send the SMS", 5)


class PaymentGateway(Upstream):
    def __init__(self, base_url: str, timeout_s: float) -> None:
        super().__init__("payment gateway", base_url, timeout_s)

    async def create_payment(self, order_id: str, amount_vnd: int) -> dict[str, Any]:
        # The key is derived from the order, so a retry after a lost answer finds the same payment.
        response = await self.call(
            "POST",
            "/v1/payments",
            headers={"Idempotency-Key": f"order-{order_id}"},
            json={"order_id": order_id, "amount_vnd": amount_vnd, "currency": "VND"},
        )
        if response.status_code not in (200, 201):
            raise Unavailable("the payment gateway refused the payment request", 5)
        try:
            body = dict(response.json())
        except (ValueError, TypeError):
            raise Unavailable("the payment gateway gave an unexpected answer", 5) from None
        if not isinstance(body.get("payment_ref"), str) or not isinstance(body.get("checkout_url"), str):
            raise Unavailable("the payment gateway gave an unexpected answer", 5)
        return body
