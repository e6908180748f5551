"""Throwaway Redis and PostgreSQL servers on loopback, started from Debian's packages the way a user
would start them, in a folder of the caller's, and stopped afterwards.

The portal's tests, the portal benchmark and the load runner (a multi-worker embedded portal shares
its limits through Redis) all start them through here; the process handling is ``dvclab.processes``.
Standard library only, apart from psycopg for creating a database.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from dvclab.processes import free_port, start_group, stop_group, wait_port

INSTALL_HINT = "run `bash .ci/system-deps.sh` (apt-get installs redis-server and postgresql)"


class ServiceMissing(RuntimeError):
    """The Debian package that provides a service is not installed."""


@dataclass
class RedisServer:
    url: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        stop_group(self.process)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def start_redis(folder: Path) -> RedisServer:
    """A memory-only Redis (no RDB, no AOF) on a free loopback port; its working dir is `folder`."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServiceMissing(f"redis-server is not installed: {INSTALL_HINT}")
    port = free_port()
    # its own session: a Ctrl-C meant for the caller's terminal must not kill Redis under a run that is
    # still cleaning up.
    process = start_group(
        [
            binary,
            *("--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder)),
            *("--save", "", "--appendonly", "no", "--protected-mode", "yes"),
        ]
    )
    try:
        wait_port(port, process=process)
    except RuntimeError:
        stop_group(process)
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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


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


def redis_version() -> str | None:
    """The installed redis-server's version (for a run's manifest), None when it cannot be asked."""
    try:
        out = subprocess.run(  # noqa: S603 - the system's redis-server
            [shutil.which("redis-server") or "redis-server", "--version"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return next((w[2:] for w in out.split() if w.startswith("v=")), None)
