"""/healthz watched from a process of its own, as a load balancer's health probe watches a portal.

A probe that times /healthz from the attacker's own process (a greenlet beside 400 others, or a thread
beside a burst's) measures its own scheduling too: on 2 cores the same burst gave a /healthz p99 of
74 ms timed in-process and 12 ms timed from a separate process. The checks that bound /healthz during an
attack (C06, C22) start a :class:`HealthzWatch`, attack, and judge what it saw.

Run as ``python -m dvclab.load.healthz_watch URL PERIOD_S MOST_S``: one GET per PERIOD_S on a fresh
connection, one line per answer on stdout (milliseconds, or ``-`` for anything but a 200 in time),
until stdin closes or MOST_S have passed.
"""

from __future__ import annotations

import http.client
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

TIMEOUT_S = 5.0  # an answer later than this counts as none
MOST_S = 300.0  # the watcher stops by itself after this long, whatever its parent does


def once(url: str) -> float | None:
    """One GET on a fresh connection: milliseconds to a whole 200 answer, None otherwise."""
    target = urlsplit(url)
    conn_class = http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
    started = time.perf_counter()
    conn = conn_class(target.hostname or "127.0.0.1", target.port, timeout=TIMEOUT_S)
    try:
        conn.request("GET", target.path or "/", headers={"Connection": "close"})
        response = conn.getresponse()
        response.read()
        ok = response.status == 200
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()
    return (time.perf_counter() - started) * 1000 if ok else None


def watch(url: str, period_s: float, most_s: float) -> None:
    """The watcher's own loop: a line per sample until stdin closes or ``most_s`` pass."""
    closed = threading.Event()

    def wait_for_eof() -> None:
        sys.stdin.read()
        closed.set()

    threading.Thread(target=wait_for_eof, daemon=True).start()
    deadline = time.monotonic() + most_s
    while not closed.is_set() and time.monotonic() < deadline:
        ms = once(url)
        print("-" if ms is None else f"{ms:.3f}", flush=True)
        closed.wait(period_s)


class HealthzWatch:
    """``url`` (the portal's health URL, loopback) timed every ``period_s`` by a child process from now
    until :meth:`stop`; :attr:`count` is the number of answers so far."""

    def __init__(self, url: str, period_s: float = 0.02, most_s: float = MOST_S) -> None:
        self.samples: list[float | None] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dvclab.load.healthz_watch", url, str(period_s), str(most_s)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            word = line.strip()
            self.samples.append(None if word == "-" else float(word))

    @property
    def count(self) -> int:
        return len(self.samples)

    def stop(self) -> list[float | None]:
        """Stop the watcher; every answer it saw, in order."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=TIMEOUT_S + 5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.reader.join(timeout=5)
        return list(self.samples)


def main(argv: list[str] | None = None) -> int:
    url, period_s, most_s = (argv or sys.argv[1:])[:3]
    watch(url, float(period_s), float(most_s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
