"""The portal's own HTTP/1.1 client for its third parties: keep-alive reuse, a pooled connection the server
closed, chunked answers, and every failure (silence, garbage, 5xx) a 503 within the timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from dvclab.portal.errors import Unavailable
from dvclab.portal.upstream import IdentityProvider

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[bool]]
ACTIVE = b'{"national_id":"036090000001","status":"active"}'


def _length(body: bytes, status: bytes = b"200 OK") -> bytes:
    return b"HTTP/1.1 " + status + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body


async def _serve(handler: Handler, calls: Callable[[IdentityProvider], Awaitable[None]]) -> list[int]:
    """A loopback server running ``handler`` per request (its False closes the connection); the
    connections it accepted, one entry per connection with the requests it served."""
    served: list[int] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        served.append(0)
        mine = len(served) - 1
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                served[mine] += 1
                if not await handler(reader, writer, served[mine]):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    idp = IdentityProvider(f"http://127.0.0.1:{port}", 0.5)
    try:
        await calls(idp)
    finally:
        await idp.close()
        server.close()
    return served


def test_keep_alive_is_reused_and_a_connection_closed_by_the_server_is_replaced() -> None:
    async def once_per_connection(_r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> bool:
        w.write(_length(ACTIVE))
        await w.drain()
        return n < 2  # the server drops a kept-alive connection after its second answer, unannounced

    async def calls(idp: IdentityProvider) -> None:
        for _ in range(5):
            assert (await idp.citizen("036090000001")) == {"national_id": "036090000001", "status": "active"}

    served = asyncio.run(_serve(once_per_connection, calls))
    assert sum(served) == 5 and len(served) == 3  # 2 + 2 + 1: reused, and resent on a fresh connection


def test_a_chunked_answer_is_read_whole() -> None:
    async def chunked(_r: asyncio.StreamReader, w: asyncio.StreamWriter, _n: int) -> bool:
        w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for part in (ACTIVE[:10], ACTIVE[10:]):
            w.write(b"%x\r\n" % len(part) + part + b"\r\n")
        w.write(b"0\r\n\r\n")
        await w.drain()
        return True

    async def calls(idp: IdentityProvider) -> None:
        assert (await idp.citizen("036090000001"))["status"] == "active"
        assert (await idp.citizen("036090000001"))["status"] == "active"  # the same connection, in step

    assert asyncio.run(_serve(chunked, calls)) == [2]


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (None, "silence: the timeout"),
        (b"garbage\r\n\r\n", "not HTTP"),
        (_length(b'{"error":"x"}', b"500 Internal Server Error"), "a 5xx"),
        (_length(b"<html>502</html>"), "a 200 that is not JSON"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{}", "a body cut short"),
    ],
)
def test_every_failure_is_a_503_within_the_timeout(answer: bytes | None, why: str) -> None:
    async def broken(_r: asyncio.StreamReader, w: asyncio.StreamWriter, _n: int) -> bool:
        if answer is None:
            await asyncio.sleep(5)
        else:
            w.write(answer)
            await w.drain()
        return False

    async def calls(idp: IdentityProvider) -> None:
        started = time.monotonic()
        with pytest.raises(Unavailable):
            await idp.citizen("036090000001")
        assert time.monotonic() - started < 1.5, why

    asyncio.run(_serve(broken, calls))


def test_nobody_listening_is_a_503() -> None:
    async def calls() -> None:
        idp = IdentityProvider("http://127.0.0.1:9", 0.5)  # the discard port: nothing answers here
        with pytest.raises(Unavailable):
            await idp.citizen("036090000001")

    asyncio.run(calls())
