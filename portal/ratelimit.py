"""Per-client rate limits on the `limits` library, shared across workers through Redis.

Fails closed: when the store errs or is slow, the request gets 503 + Retry-After, never a pass and
never a 500. Headers follow draft-ietf-httpapi-ratelimit-headers (RateLimit-Policy / RateLimit).
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request, Response
from limits import RateLimitItem, parse
from limits import storage as sync_storage
from limits import strategies as sync_strategies
from limits.aio import storage as aio_storage
from limits.aio import strategies

from dvclab.portal.errors import ApiError, Unavailable
from dvclab.portal.settings import Settings

_STRATEGIES = {
    "moving-window": strategies.MovingWindowRateLimiter,
    "fixed-window": strategies.FixedWindowRateLimiter,
    "sliding-window-counter": strategies.SlidingWindowCounterRateLimiter,
}
_SYNC_STRATEGIES = {
    "moving-window": sync_strategies.MovingWindowRateLimiter,
    "fixed-window": sync_strategies.FixedWindowRateLimiter,
    "sliding-window-counter": sync_strategies.SlidingWindowCounterRateLimiter,
}


class InlineMemoryStorage(sync_storage.MemoryStorage):
    """The `limits` memory storage with its expiry run inline instead of on a timer thread.

    The library's storage starts a ``threading.Timer`` 10 ms after a hit whenever the previous one has
    ended (a new OS thread each time) and that thread walks every key ever seen, making a lock per key as
    it goes; emptied moving windows are never dropped, so the walk grows with the number of accounts. In
    a one-worker portal that thread took about a sixth of the CPU of a journey done one request at a
    time (yappi, CPU clock). Here the same expiry runs on the caller's thread (the event loop, the only
    one calling this storage), at most once per ``sweep_s``, and drops keys left empty. Limits are
    decided exactly as before: a moving window compares its entries' own times, expired or not yet
    swept."""

    def __init__(self, sweep_s: float = 1.0) -> None:
        super().__init__()
        self.timer.cancel()  # the one started by the library's constructor never fires
        self.sweep_s = sweep_s
        self.next_sweep = 0.0

    # Overrides the library's private MemoryStorage.__schedule_expiry, called on every hit (a test
    # fails if a new version of the library renames it and a timer thread starts again).
    def _MemoryStorage__schedule_expiry(self) -> None:
        now = time.monotonic()
        if now < self.next_sweep:
            return
        self.next_sweep = now + self.sweep_s
        self._MemoryStorage__expire_events()  # type: ignore[attr-defined]
        for key in [key for key, events in self.events.items() if not events]:
            del self.events[key]
            self.locks.pop(key, None)


class RateLimited(ApiError):
    def __init__(self, name: str, retry_after: int, headers: dict[str, str]) -> None:
        super().__init__(
            429,
            "Too many requests",
            f"rate limit '{name}' exceeded; retry after {retry_after} s",
            {**headers, "Retry-After": str(retry_after)},
            kind="quota-exceeded",
        )


def client_ip(request: Request, trusted: tuple[str, ...]) -> str:
    """The socket peer, unless that peer is a trusted proxy: then the right-most untrusted hop of
    X-Forwarded-For. A client-supplied X-Forwarded-For is ignored otherwise (ASVS 15.3.4)."""
    peer = request.client.host if request.client else "unknown"
    if not trusted or peer not in trusted:
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer
        if hop not in trusted:
            return hop
    return peer


def rate_key(address: str, ipv6_prefix: int) -> str:
    """The bucket of a client address: an IPv4 address (also one mapped into IPv6) as it is, an IPv6
    address by its /``ipv6_prefix`` network, since a client owning a /64 can pick a new address per
    request. Anything unparsable (a test client's name) stays as it is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, ipv6_prefix), strict=False))
    return address


def client_key(request: Request, settings: Settings) -> str:
    """The rate-limit bucket of the request's client (see client_ip and rate_key)."""
    return rate_key(client_ip(request, settings.trusted_proxies), settings.ipv6_prefix)


def store_connection_options() -> dict[str, Any]:
    """redis-py options that let a pooled connection the store (or a proxy, a restart, an idle cut) has
    closed be replaced instead of failing the request it is handed to.

    A Redis outage closes every connection in each worker's pool; once the store is back, the pool
    still hands those out, deepest (least recently used) last, so the first burst wide enough to reach
    them got 503s that no fault caused any more (about 35 per security run, C06's outage leaking into
    the checks after it). redis-py checks a connection for EOF before handing it out, but recent ones
    (8.1 here) skip that check while maintenance notifications are "auto", their default. Those are Redis
    Enterprise/Cloud events this portal has no use for: they are turned off where the client has them.
    Nothing is retried: a hit whose answer was lost may have counted already, and the EOF check is what
    the dead connections needed."""
    try:
        from redis.maint_notifications import MaintNotificationsConfig
    except ImportError:  # an older redis-py: no maintenance notifications, the EOF check always runs
        return {}
    return {"maint_notifications_config": MaintNotificationsConfig(enabled=False)}


def store_pool(settings: Settings) -> Any:
    """The worker's pool of limit-store connections: at most ``redis_pool_size``, and a hit waits for a
    free one (each is held for one round trip) rather than opening another.

    redis-py's default pool opens a connection per concurrent command, up to 100, then refuses ("Too
    many connections"). A burst of a few hundred requests on a fresh worker (C01's, C22's) opened them
    all at once, and a connect slower than the store timeout failed its request closed: 503s no fault
    caused. Waiting for a connection counts against the same bound as the store's answer
    (``redis_timeout_s``): a store too slow to free one still fails closed, promptly.

    The size: a connection is freed only when its coroutine runs again, so on a busy event loop too few
    make hits queue. 64 a worker is the size chosen; what it costs or saves in latency is not settled.
    One security run each (4 workers) gave the citizens' p95 as 211 ms at 16, 172-183 ms unbounded, and
    96 ms at 64. A later run at 64 gave 202 ms: these runs vary more than the pool does."""
    from redis.asyncio import BlockingConnectionPool

    timeout = settings.redis_timeout_s
    return BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_pool_size,
        timeout=timeout,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        **store_connection_options(),
    )


class Limiter:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.storage: aio_storage.Storage | sync_storage.Storage
        self.strategy: Any
        if settings.redis_url:
            self.storage = aio_storage.RedisStorage(
                settings.redis_url,
                implementation="redispy",
                wrap_exceptions=True,
                key_prefix="dvclab-portal",
                connection_pool=store_pool(settings),
            )
            self.strategy = _STRATEGIES[settings.rate_limit_strategy](self.storage)
            self.is_async = True
        else:
            # One process: the synchronous in-memory storage, called inline (microseconds, no I/O).
            # The asyncio variant starts a task on every hit that expires events with one thread hop
            # per key, which cost about a sixth of the portal's CPU in profiles; the synchronous one's
            # own timer thread is replaced too (InlineMemoryStorage).
            self.storage = InlineMemoryStorage()
            self.strategy = _SYNC_STRATEGIES[settings.rate_limit_strategy](self.storage)
            self.is_async = False
        self.items: dict[str, RateLimitItem] = {n: parse(t) for n, t in settings.rate_limits.items()}

    def policy_header(self, name: str) -> str:
        item = self.items[name]
        return f'"{name}";q={item.amount};w={item.get_expiry()}'

    async def hit(self, name: str, key: str) -> dict[str, str]:
        """Consume one unit of quota (hit() is atomic, no test-then-hit); raise 429 when exhausted.

        In memory the window's state is free to read, so every answer carries `RateLimit`. With Redis
        that read is a second round trip (about as much CPU as the hit itself), so allowed answers
        carry the policy only and a 429 carries the full state.
        """
        item = self.items[name]
        try:
            if self.is_async:
                allowed = await self.strategy.hit(item, name, key)
                if allowed:
                    return {"RateLimit-Policy": self.policy_header(name)}
                stats = await self.strategy.get_window_stats(item, name, key)
            else:
                allowed = self.strategy.hit(item, name, key)
                stats = self.strategy.get_window_stats(item, name, key)
        except Exception as exc:  # storage down or slow: fail closed
            raise Unavailable("the rate-limit store is unavailable; retry shortly", 2) from exc
        reset = max(1, math.ceil(stats.reset_time - time.time()))
        headers = {
            "RateLimit-Policy": self.policy_header(name),
            "RateLimit": f'"{name}";r={max(0, stats.remaining)};t={reset}',
        }
        if not allowed:
            raise RateLimited(name, reset, headers)
        return headers


def limit_by_ip(name: str) -> Callable[[Request, Response], Awaitable[None]]:
    """A FastAPI dependency charging the client IP's quota `name`."""

    async def dependency(request: Request, response: Response) -> None:
        limiter: Limiter = request.app.state.limiter
        key = client_key(request, limiter.settings)
        headers = await limiter.hit(name, key)
        response.headers.update(headers)
        request.state.ratelimit_headers = headers  # for endpoints that build their own Response

    dependency.__name__ = f"limit_{name}_by_ip"
    return dependency
