"""The one-worker limiter's in-memory storage: the same decisions as the `limits` library's, with its
expiry run inline (no timer thread per burst of hits, no empty windows kept for every key ever seen)."""

from __future__ import annotations

import threading
import time

from limits import parse
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from dvclab.portal.ratelimit import InlineMemoryStorage


def _timers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if isinstance(t, threading.Timer) and t.is_alive()]


def test_no_timer_thread_and_the_moving_window_still_decides() -> None:
    storage = InlineMemoryStorage(sweep_s=0.0)
    storage.timer.join(timeout=5)  # the library's constructor starts one; cancelled, it ends at once
    before = len(_timers())
    limiter = MovingWindowRateLimiter(storage)
    item = parse("3/second")
    assert [limiter.hit(item, "login", "a") for _ in range(4)] == [True, True, True, False]
    assert limiter.hit(item, "login", "b")  # another key has its own window
    # The library's storage starts a Timer thread on every hit once the last one ended; this one never
    # does (the check fails if a new version renames the private method it overrides).
    assert len(_timers()) == before
    time.sleep(1.05)
    assert limiter.hit(item, "login", "a")  # the window moved on: allowed again, and the sweep ran
    assert set(storage.events) == {"LIMITER/login/a/3/1/second"}  # "b"'s emptied window was dropped
    assert len(storage.events["LIMITER/login/a/3/1/second"]) == 1


def test_fixed_window_counters_expire_too() -> None:
    storage = InlineMemoryStorage(sweep_s=0.0)
    limiter = FixedWindowRateLimiter(storage)
    item = parse("2/second")
    assert [limiter.hit(item, "api", "x") for _ in range(3)] == [True, True, False]
    time.sleep(1.05)
    assert limiter.hit(item, "api", "y")  # the sweep drops x's expired counter
    assert "LIMITER/api/x/2/1/second" not in storage.storage


def test_sweeps_are_spaced_by_sweep_s() -> None:
    storage = InlineMemoryStorage(sweep_s=3600.0)
    limiter = MovingWindowRateLimiter(storage)
    item = parse("5/second")
    limiter.hit(item, "api", "first")  # the first hit sweeps (nothing to do) and sets the next sweep
    swept_at = storage.next_sweep
    for key in range(50):
        limiter.hit(item, "api", str(key))
    assert storage.next_sweep == swept_at  # no walk over every key on every hit
