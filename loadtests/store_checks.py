"""Security check of the shared limit store slow or down (C06): a TCP proxy in front of Redis adds latency
or cuts it off while a burst of wrong passwords arrives; the limits fail closed (429/503, never a pass
and never a 500) and /healthz stays fast.

The proxy (:class:`StoreProxy`) is started by whoever starts the portal (``dvclab load run`` does, for
its embedded portal, when the profile selects C06), between the portal's workers and Redis, and listens
for a one-line command (``latency 0.5``, ``down``, ``up``) on a control port. The attacker finds that
port in ``DVCLAB_STORE_PROXY`` (host:port); without it the check is "not run", with the runner's reason
(``DVCLAB_STORE_PROXY_ABSENT``) when it gave one.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dvclab.load import store_faults
from dvclab.load.security_checks import NOT_RUN_KEY, UNMET_KEY, Observed, SecurityCheck

if TYPE_CHECKING:
    from dvclab.load.check_client import ProbeClient
    from dvclab.load.ground_truth import PortalDatabase
    from dvclab.load.profiles import Limits

CONTROL_ENV = "DVCLAB_STORE_PROXY"
STORE_ABSENT_ENV = "DVCLAB_STORE_PROXY_ABSENT"  # why the runner started no proxy (C06's "not run" reason)
PHASES = (("latency", 0.5), ("down", 0.0))  # +500 ms on every packet to Redis; then no Redis at all
HEALTHZ_P99_MS = 100.0
HEALTHZ_SAMPLES = 100  # a p99 of fewer is the slowest sample (the gate's rule for percentiles)
HEALTHZ_EVERY_S = 0.02
PHASE_MAX_S = 20.0  # a fault lasts until /healthz has been timed HEALTHZ_SAMPLES times, at most this long
BACKLOG = 1024  # the proxy's accept queue (the kernel caps it at net.core.somaxconn)
FIRST_IDENTITY = 6_000_000  # a fresh (unknown) number per phase: its lockout is the portal's, per account


class StoreProxy:
    """A TCP proxy to ``upstream`` with injectable latency and outage, and a one-line control port."""

    def __init__(self, upstream: tuple[str, int], fault_log: Path | None = None) -> None:
        self.upstream = upstream
        self.latency_s = 0.0
        self.down = False
        self.fault_log = fault_log  # each change of fault, for the citizens' side (store_faults)
        self.state = store_faults.CLEAR
        # Every portal worker opens its pooled connections at once when a burst arrives: the default
        # accept queue (128) overflows, and a dropped SYN is retried after 1 s, well past the portal's
        # store connect timeout (a 503 no fault caused). Redis itself listens with a 511 backlog.
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=BACKLOG)
        self.control = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.control_port = self.control.getsockname()[1]
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.stopped = False
        for target in (self._accept, self._commands):
            threading.Thread(target=target, daemon=True).start()

    def set(self, latency_s: float = 0.0, down: bool = False) -> None:
        state = "down" if down else (f"latency {latency_s:g}" if latency_s else store_faults.CLEAR)
        log = self.fault_log if state != self.state else None
        # A fault is logged before it starts and its end after it ends: the window covers every answer
        # it caused.
        if log is not None and state != store_faults.CLEAR:
            store_faults.record(log, state)
        self.state, self.latency_s, self.down = state, latency_s, down
        if log is not None and state == store_faults.CLEAR:
            store_faults.record(log, state)
        if down:  # an outage cuts what is connected too
            with self.lock:
                for sock in list(self.open):
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)

    def _accept(self) -> None:
        while not self.stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.down:
                client.close()
                continue
            # The upstream connect happens on the connection's own thread: done here, a burst of new
            # connections would queue behind one another's connects and thread starts.
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.upstream, timeout=2)
        except OSError:
            client.close()
            return
        # The 2 s bound is the connect's only: a pooled store connection idles for longer than that,
        # and a recv timing out would cut it (the portal then fails closed: 503s that no fault caused).
        server.settimeout(None)
        for sock in (client, server):  # as redis-py and Redis do: a small reply is not held back (Nagle)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.lock:
            if self.down:  # cut off while connecting
                client.close()
                server.close()
                return
            self.open |= {client, server}
        threading.Thread(target=self._pump, args=(server, client), daemon=True).start()
        self._pump(client, server)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                if self.latency_s:
                    time.sleep(self.latency_s)
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            with self.lock:
                self.open -= {source, sink}
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.close()

    def _commands(self) -> None:
        while not self.stopped:
            try:
                conn, _ = self.control.accept()
            except OSError:
                return
            with conn:
                words = conn.recv(100).decode(errors="replace").split()
                if words[:1] == ["latency"] and len(words) == 2:
                    self.set(latency_s=float(words[1]))
                elif words[:1] in (["down"], ["up"]):
                    self.set(down=words[0] == "down")
                conn.sendall(b"ok\n")

    def stop(self) -> None:
        self.stopped = True
        self.set(down=True)
        self.listener.close()
        self.control.close()


def command(address: str, line: str) -> None:
    """Send one command to a :class:`StoreProxy`'s control port (``host:port``)."""
    host, _, port = address.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(line.encode() + b"\n")
        conn.recv(10)


def phase_figures(statuses: list[int], threshold: int, healthz_ms: list[float | None]) -> Observed:
    """One fault's bursts: at most T evaluated (401), nothing accepted, everything else 429/503 (fail
    closed), no 500; /healthz timed >= 100 times, answered every time, with p99 < 100 ms."""
    counts = Counter(statuses)
    answered = [ms for ms in healthz_ms if ms is not None]
    p99 = float(np.percentile(answered, 99)) if answered else None
    return {
        "statuses": {str(s): n for s, n in sorted(counts.items())},
        "evaluated_401": counts[401],
        "healthz_samples": len(healthz_ms),
        "healthz_p99_ms": round(p99, 1) if p99 is not None else None,
        "pass": bool(
            counts[401] <= threshold
            and counts[401] + counts[429] + counts[503] == len(statuses)
            and len(healthz_ms) >= HEALTHZ_SAMPLES
            and len(answered) == len(healthz_ms)
            and p99 is not None
            and p99 < HEALTHZ_P99_MS
        ),
    }


class StoreSlowOrDown(SecurityCheck):
    id = "C06"
    name = "limit store slow or down"
    invariant = (
        "gated bursts of 3T wrong passwords while Redis gets +500 ms, then is cut off: evaluations <= T, "
        f"the rest 429/503 (fail closed), 0 answers 500; /healthz p99 < {HEALTHZ_P99_MS:g} ms over "
        f">= {HEALTHZ_SAMPLES} samples, timed from a process of its own"
    )

    def probe(self, client: ProbeClient) -> Observed:
        control = os.environ.get(CONTROL_ENV)
        if not control:
            why = os.environ.get(STORE_ABSENT_ENV)
            reason = f"no fault-injection proxy in front of the limit store ({why or CONTROL_ENV + ' unset'})"
            # The runner's reason (a portal at --host, no Redis here) is the setting's, not a run cut short.
            return {NOT_RUN_KEY: reason, UNMET_KEY: True} if why else {NOT_RUN_KEY: reason}
        threshold = client.limit("lockout_threshold")
        shown: Observed = {"T": threshold}

        def attempt(identity: str) -> Callable[[int], int | None]:
            headers = {**client.address(self.id), "Connection": "close"}
            return lambda i: client.attempt(self.id, identity, f"wrong-{i}", headers, (401, 429, 503)).status

        holds = True
        for n, (fault, latency) in enumerate(PHASES):
            identity = client.identity(FIRST_IDENTITY + n)
            command(control, f"latency {latency}" if fault == "latency" else "down")
            watch = client.watch_healthz(HEALTHZ_EVERY_S)
            statuses: list[int] = []
            try:
                # Bursts on one account until /healthz has been timed often enough to have a p99.
                deadline = time.monotonic() + PHASE_MAX_S
                while not statuses or (watch.count < HEALTHZ_SAMPLES and time.monotonic() < deadline):
                    statuses += [s or 0 for s in client.burst(3 * threshold, attempt(identity))]
            finally:
                command(control, "latency 0")
                command(control, "up")
                healthz = watch.stop()
            figures = phase_figures(statuses, threshold, healthz)
            holds = holds and figures.pop("pass")
            shown[fault] = {**figures, "account": identity}
        return {**shown, "pass": holds}

    def confirm(self, observed: Observed, db: PortalDatabase, limits: Limits) -> tuple[bool, Observed]:
        rows = {fault: db.bad_password_rows(observed[fault]["account"]) for fault, _ in PHASES}
        return all(n <= observed["T"] for n in rows.values()), {"db_bad_password_rows": rows}


C06 = StoreSlowOrDown()
