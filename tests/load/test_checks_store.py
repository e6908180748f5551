"""C06 (the limit store slow or down): the fault-injecting TCP proxy, the verdict of one fault's burst,
and "not run" where no proxy sits in front of the store. No portal here (tests/portal runs it for real)."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from dvclab import services
from dvclab.load import data, harness
from dvclab.load.profiles import load_profile
from dvclab.load.security_checks import NOT_RUN_KEY
from dvclab.load.shapes import build_segments
from dvclab.load.store_checks import C06, CONTROL_ENV, StoreProxy, command, phase_figures
from dvclab.portal.errors import Unavailable
from dvclab.portal.ratelimit import Limiter
from dvclab.portal.settings import Settings

T = 5


def _echo_server() -> socket.socket:
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(
                target=lambda c=conn: [c.sendall(b) for b in iter(lambda: c.recv(100), b"")]
            ).start()

    threading.Thread(target=serve, daemon=True).start()
    return server


def _round_trip(port: int) -> tuple[bytes, float]:
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as conn:
            conn.sendall(b"PING")
            return conn.recv(10), time.monotonic() - started
    except OSError:
        return b"", time.monotonic() - started


def test_the_proxy_passes_delays_and_cuts_off_on_command() -> None:
    echo = _echo_server()
    proxy = StoreProxy(echo.getsockname()[:2])
    control = f"127.0.0.1:{proxy.control_port}"
    try:
        assert _round_trip(proxy.port)[0] == b"PING"
        command(control, "latency 0.3")
        answer, took = _round_trip(proxy.port)
        assert answer == b"PING" and took >= 0.6  # both directions delayed
        command(control, "down")
        assert _round_trip(proxy.port)[0] == b""  # refused: the store is gone
        command(control, "latency 0")
        command(control, "up")
        assert _round_trip(proxy.port)[0] == b"PING"
    finally:
        proxy.stop()
        echo.close()


def test_the_proxy_keeps_an_idle_connection_open() -> None:
    """A pooled store connection idles between requests: the proxy must not cut it (each cut is a request
    the portal fails closed, 503, with no fault injected)."""
    echo = _echo_server()
    proxy = StoreProxy(echo.getsockname()[:2])
    try:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as conn:
            conn.sendall(b"PING")
            assert conn.recv(10) == b"PING"
            time.sleep(2.5)  # longer than the proxy's connect timeout
            conn.sendall(b"PONG")
            assert conn.recv(10) == b"PONG"
    finally:
        proxy.stop()
        echo.close()


def _accept_queue_bound(listener: socket.socket) -> int:
    """The kernel's bound on a listening socket's accept queue (Linux: tcp_info's ``tcpi_sacked`` holds
    ``sk_max_ack_backlog`` for a socket in LISTEN)."""
    info = listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    return int(struct.unpack_from("I", info, 28)[0])


@pytest.mark.skipif(not hasattr(socket, "TCP_INFO"), reason="tcp_info is Linux's")
def test_the_proxy_queues_a_burst_of_new_store_connections() -> None:
    """Every portal worker opens its pooled store connections at once when a burst arrives; past the
    proxy's accept queue a SYN is dropped and retried 1 s later, past the portal's store connect timeout
    (a 503 no fault caused). The queue holds at least what Redis's own does (tcp-backlog 511), as far as
    the kernel allows."""
    echo = _echo_server()
    proxy = StoreProxy(echo.getsockname()[:2])
    try:
        somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text())
        assert _accept_queue_bound(proxy.listener) >= min(511, somaxconn)
    finally:
        proxy.stop()
        echo.close()


@pytest.mark.serial  # 300 connections at once
def test_the_proxy_passes_a_burst_of_connections_opened_at_once() -> None:
    echo = _echo_server()
    proxy = StoreProxy(echo.getsockname()[:2])
    answers: list[bytes] = []
    try:
        threads = [
            threading.Thread(target=lambda: answers.append(_round_trip(proxy.port)[0])) for _ in range(300)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        proxy.stop()
        echo.close()
    assert answers.count(b"PING") == 300


async def _burst(limiter: Limiter, tag: str, n: int) -> int:
    """``n`` concurrent rate-limit hits (each its own client, far from any limit): how many failed
    closed, 503 'the rate-limit store is unavailable'."""
    name = next(iter(limiter.items))
    answers = await asyncio.gather(
        *(limiter.hit(name, f"{tag}-{i}") for i in range(n)), return_exceptions=True
    )
    unexpected = [a for a in answers if isinstance(a, BaseException) and not isinstance(a, Unavailable)]
    assert not unexpected, unexpected[:3]
    return sum(isinstance(a, Unavailable) for a in answers)


@pytest.mark.serial  # Redis and a burst of concurrent store connections
def test_the_proxy_is_transparent_once_an_outage_is_over(tmp_path: Path) -> None:
    """The portal's limiter behind the proxy: a burst wide enough to fill its connection pool, Redis cut
    off (every hit fails closed), Redis back, the same burst again: 0 'store unavailable'. The outage
    closes every pooled connection; one handed out afterwards without a reconnect is a 503 no fault
    caused (about 35 per security run, in the checks after C06)."""
    try:
        redis = services.start_redis(tmp_path)
    except services.ServiceMissing as missing:
        pytest.fail(str(missing))
    proxy = StoreProxy(("127.0.0.1", urlsplit(redis.url).port or 6379))

    async def scenario() -> tuple[int, int, int]:
        limiter = Limiter(Settings(redis_url=f"redis://127.0.0.1:{proxy.port}/0"))
        before = await _burst(limiter, "before", 60)
        proxy.set(down=True)
        during = await _burst(limiter, "during", 10)
        proxy.set(down=False)
        await asyncio.sleep(0.2)  # the outage is over
        after = await _burst(limiter, "after", 60)
        return before, during, after

    try:
        before, during, after = asyncio.run(scenario())
    finally:
        proxy.stop()
        redis.stop()
    assert before == 0, "no fault yet: the proxy must be transparent"
    assert during == 10, "the store is down: every hit fails closed"
    assert after == 0, f"{after} of 60 hits got 503 after the outage had ended"


@pytest.mark.serial  # Redis and a burst of concurrent store operations
def test_a_burst_wider_than_the_store_pool_waits_for_a_connection(tmp_path: Path) -> None:
    """A fresh worker meets a burst of 300 requests at once (C01's, C22's): each hit needs a store
    connection. The pool is bounded and waits for a free one (each is held for one round trip), so
    the burst neither opens 300 connections through the proxy at once (connects slower than the 0.2 s
    store timeout: 503s no fault caused) nor runs past redis-py's own cap ("Too many connections")."""
    try:
        redis = services.start_redis(tmp_path)
    except services.ServiceMissing as missing:
        pytest.fail(str(missing))
    proxy = StoreProxy(("127.0.0.1", urlsplit(redis.url).port or 6379))

    async def scenario() -> tuple[int, int]:
        limiter = Limiter(Settings(redis_url=f"redis://127.0.0.1:{proxy.port}/0"))
        first = await _burst(limiter, "first", 300)
        return first, len(proxy.open) // 2

    try:
        unavailable, connections = asyncio.run(scenario())
    finally:
        proxy.stop()
        redis.stop()
    assert unavailable == 0, f"{unavailable} of 300 hits failed closed with the store up"
    assert connections <= Settings().redis_pool_size


@pytest.mark.parametrize(
    ("statuses", "healthz", "holds", "why"),
    [
        ([503] * 15, [3.0] * 100, True, "no store: every attempt refused"),
        ([401] * 5 + [429] * 10, [3.0] * 100, True, "the lockout held"),
        ([401] * 15, [3.0] * 100, False, "the limit failed open: every guess evaluated"),
        ([503] * 14 + [500], [3.0] * 100, False, "a storage error became a 500"),
        ([503] * 15, [3.0] * 95 + [250.0] * 5, False, "/healthz stalled behind the store"),
        ([503] * 15, [3.0] * 99 + [None], False, "/healthz went unanswered"),
        ([503] * 15, [3.0] * 99, False, "99 samples: their p99 is only their slowest one"),
    ],
)
def test_c06_phase_figures(statuses: list[int], healthz: list, holds: bool, why: str) -> None:
    assert phase_figures(statuses, T, healthz)["pass"] is holds, why


def test_c06_without_a_proxy_is_not_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONTROL_ENV, raising=False)
    profile = load_profile("security")
    run = harness.Run(profile, build_segments(profile), data.ProcedureMix.from_catalog())
    observed = C06.probe(type("Client", (), {"run": run})())  # type: ignore[arg-type]
    assert NOT_RUN_KEY in observed and CONTROL_ENV in observed[NOT_RUN_KEY]
    assert C06.verdict(observed, run, None)[0] is None
    assert "C06" in profile.security.checks
