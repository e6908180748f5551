"""Throwaway Redis and PostgreSQL servers on loopback, started from Debian's packages the way a user
would start them, in a folder of the caller's, and stopped afterwards.

The portal's tests, the portal benchmark and the load runner (a multi-worker embedded portal shares
its limits through Redis) all start them through here. Standard library only, apart from psycopg
for creating a database.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = "run `bash .ci/system-deps.sh` (apt-get installs redis-server and postgresql)"


class ServiceMissing(RuntimeError):
    """The Debian package that provides a service is not installed."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout_s: float = 15.0, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server meant for port {port} exited with code {process.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout_s:.0f} s")


def stop_process(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout_s: float = 10) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@dataclass
class RedisServer:
    url: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        stop_process(self.process)


def start_redis(folder: Path) -> RedisServer:
    """A memory-only Redis (no RDB, no AOF) on a free loopback port; its working dir is `folder`."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServiceMissing(f"redis-server is not installed: {INSTALL_HINT}")
    port = free_port()
    # its own session: a Ctrl-C meant for the caller's terminal must not kill Redis under a run that is
    # still cleaning up.
    process = subprocess.Popen(
        [
            binary,
            *("--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder)),
            *("--save", "", "--appendonly", "no", "--protected-mode", "yes"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_port(port, process=process)
    except RuntimeError:
        stop_process(process)
        raise
    return RedisServer(f"redis://127.0.0.1:{port}/0", process)


def _as_postgres(command: list[str]) -> list[str]:
    # initdb refuses to run as root; Debian's package creates the postgres user.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@dataclass
class PostgresCluster:
    port: int
    home: Path
    bindir: Path

    def new_database(self, name: str | None = None) -> str:
        """Create an empty database and return its URL."""
        import psycopg

        name = name or "dvclab_" + uuid.uuid4().hex[:10]
        dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        """Stop the server and remove the cluster's folder."""
        subprocess.run(
            _as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.home / "data"), "-m", "fast", "stop"]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        shutil.rmtree(self.home, ignore_errors=True)


def start_postgres(*, durable: bool = True) -> PostgresCluster:
    """A fresh cluster in a new temporary folder on a free loopback port, trust auth.

    durable=True keeps PostgreSQL's defaults (fsync, synchronous_commit): comparable with SQLite's
    synchronous=FULL in a benchmark. durable=False turns them off for functional tests.
    """
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise ServiceMissing(f"PostgreSQL is not installed: {INSTALL_HINT}")
    bindir = found[-1].parent
    # Its own top-level folder: when we run as root, the postgres user must own it, and it could not
    # traverse a caller's private (0700) temporary folder.
    home = Path(tempfile.mkdtemp(prefix="dvclab-pg-"))
    if os.geteuid() == 0:
        shutil.chown(home, "postgres", "postgres")
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "check": True}
    initdb = [
        str(bindir / "initdb"),
        "-D",
        str(home / "data"),
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
    ]
    subprocess.run(_as_postgres(initdb if durable else [*initdb, "--no-sync"]), **quiet)  # type: ignore[call-overload]
    port = free_port()
    options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c max_connections=200"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    pg_ctl = [str(bindir / "pg_ctl"), "-D", str(home / "data"), "-o", options, "-w", "-l", str(home / "log")]
    subprocess.run(_as_postgres([*pg_ctl, "start"]), **quiet)  # type: ignore[call-overload]
    return PostgresCluster(port, home, bindir)
