"""The reference portal embedded in a load run, a test or a benchmark: ``dvclab portal serve`` as a
subprocess leading its own process group, on a free loopback port, with a fresh database and a log file;
and, for callers that want to see or fault them, the portal's third-party stubs (payment gateway,
identity provider) started beside it.

A subprocess, so this module imports nothing of ``dvclab.portal`` (only ``start_stubs`` borrows the
stubs' own ``spawn``, when called): the load runner talks to the portal over HTTP only.

    with EmbeddedPortal(folder, workers=2, redis_url=redis.url) as portal:
        ... portal.url ...
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from dvclab.processes import (
    NotReady,
    free_port,
    open_loopback,
    start_group,
    stop_group,
    stop_process,
    wait_http,
)

PORTAL_ENV_PREFIX = "DVCLAB_PORTAL_"


@dataclass
class Stubs:
    """The stub payment gateway and identity provider, each its own process on a loopback port. With a
    ``secret``, the gateway signs its callbacks with it (and a portal given these stubs is told it)."""

    gateway_url: str
    idp_url: str
    secret: str | None = None
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def faults(self, which: str, **faults: object) -> None:
        """Set the faults of one stub (``gateway`` or ``idp``): latency_ms, error_rate, outage, malformed;
        none given clears them."""
        url = self.gateway_url if which == "gateway" else self.idp_url
        request = urllib.request.Request(
            f"{url}/_faults",
            data=json.dumps(faults).encode(),
            headers={"Content-Type": "application/json"},
            method="PUT",
        )
        with open_loopback(request, timeout=10):  # urllib raises HTTPError on a refusal
            pass

    def clear(self) -> None:
        self.faults("gateway")
        self.faults("idp")

    def stop(self) -> None:
        for process in self.processes:
            stop_process(process)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def start_stubs(secret: str | None = None, timeout_s: float = 30.0) -> Stubs:
    """Start both stubs on free loopback ports and wait until they answer /healthz."""
    # The stubs' own spawn: a stub gets SIGTERM when its parent dies, even by a signal that skips cleanup.
    from dvclab.portal.stubs import spawn

    gateway, idp = free_port(), free_port()
    stubs = Stubs(f"http://127.0.0.1:{gateway}", f"http://127.0.0.1:{idp}", secret)
    try:
        stubs.processes.append(spawn("gateway", gateway, secret=secret))
        stubs.processes.append(spawn("idp", idp))
        for process, url, name in zip(
            stubs.processes, (stubs.gateway_url, stubs.idp_url), ("gateway", "identity provider"), strict=True
        ):
            wait_http(url, timeout_s=timeout_s, process=process, name=f"the {name} stub")
    except BaseException:
        stubs.stop()
        raise
    return stubs


@dataclass
class EmbeddedPortal:
    """``dvclab portal serve --demo-data`` on a free loopback port; its log (stdout and stderr) and, by
    default, its SQLite file in ``folder``. Without ``stubs`` the portal starts its own."""

    folder: Path
    db_url: str = ""  # "": a fresh SQLite file in ``folder``
    workers: int = 1
    redis_url: str | None = None  # the store several workers share their rate limits through
    rates: dict[str, str] = field(default_factory=dict)  # --rate NAME=LIMIT overrides
    env: dict[str, str] = field(default_factory=dict)  # DVCLAB_PORTAL_* settings, over the caller's
    stubs: Stubs | None = None
    clean_env: bool = False  # drop the caller's own DVCLAB_PORTAL_* variables (tests, benchmarks)
    cwd: Path | None = None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.db_url = self.db_url or f"sqlite:///{self.folder / f'portal-{self.port}.sqlite3'}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.folder / f"portal-{self.port}.log"

    def command(self) -> list[str]:
        command = [
            sys.executable,
            *("-m", "dvclab.cli", "portal", "serve"),
            *("--port", str(self.port), "--db", self.db_url, "--workers", str(self.workers), "--demo-data"),
        ]
        if self.redis_url:
            command += ["--redis", self.redis_url]
        if self.stubs is not None:
            command += ["--gateway-url", self.stubs.gateway_url, "--idp-url", self.stubs.idp_url]
        for name, limit in self.rates.items():
            command += ["--rate", f"{name}={limit}"]
        return command

    def environment(self) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items() if not (self.clean_env and k.startswith(PORTAL_ENV_PREFIX))
        }
        if self.stubs is not None and self.stubs.secret:
            env[PORTAL_ENV_PREFIX + "GATEWAY_SECRET"] = self.stubs.secret  # no flag for it: a secret
        return env | self.env

    def start(self, timeout_s: float = 60.0, cancelled: Callable[[], bool] | None = None) -> Self:
        """Start it and wait for /healthz; NotReady (naming the log) when it exits or does not answer in
        time, after stopping what it started. Returns early, still running, when ``cancelled()``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = start_group(self.command(), log=self.log, env=self.environment(), cwd=self.cwd)
        try:
            wait_http(
                self.url, timeout_s=timeout_s, process=self.process, cancelled=cancelled, name="the portal"
            )
        except NotReady as failed:
            self.stop()
            raise NotReady(f"{failed}; see {self.log}") from None
        except BaseException:  # Ctrl-C while waiting: nothing of it may outlive the caller
            self.stop()
            raise
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, first: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        """Stop the whole group: the uvicorn workers and any stubs the portal started go with it."""
        if self.process is not None:
            stop_group(self.process, first, timeout)

    def __enter__(self) -> Self:
        return self if self.process is not None else self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
