"""The processes a run, a test or a benchmark starts and must stop: free loopback ports, waiting for a
server (its TCP port, or its ``/healthz``), process groups (each child leads its own session, so one
signal reaches everything it started; SIGTERM, then SIGKILL, to the whole group, waiting for every
member, not only the leader), and the ``/proc`` table that says who is still alive.

Standard library only, and nothing of the portal: the load runner, the tests and the benchmarks share it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

# Loopback servers only: never through a proxy the environment names (urllib honours http_proxy).
_LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class NotReady(RuntimeError):
    """A server exited, or did not answer, before it was ready."""


def free_port() -> int:
    """A port nothing listens on at 127.0.0.1 (free when asked; the caller binds it soon after)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def console_script(name: str) -> str:
    """A console script installed beside this interpreter (the venv's ``locust``), else found on PATH."""
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else name


def open_loopback(request: urllib.request.Request | str, timeout: float) -> IO[bytes]:
    """``urlopen`` for a loopback server: no proxy from the environment."""
    return _LOOPBACK.open(request, timeout=timeout)  # type: ignore[no-any-return]


def healthy(url: str, timeout: float = 2.0) -> bool:
    """Whether ``url``/healthz answers 200."""
    try:
        with open_loopback(f"{url}/healthz", timeout) as response:
            return getattr(response, "status", 0) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_http(
    url: str,
    *,
    timeout_s: float = 60.0,
    process: subprocess.Popen[bytes] | None = None,
    cancelled: Callable[[], bool] | None = None,
    name: str | None = None,
) -> bool:
    """Wait until ``url``/healthz answers 200: True. False when ``cancelled()`` turns true first (a
    signal to the caller). NotReady when ``process`` exits or the time runs out."""
    name = name or url
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cancelled is not None and cancelled():
            return False
        if process is not None and process.poll() is not None:
            raise NotReady(f"{name} exited with code {process.returncode}")
        if healthy(url, 1.0):
            return True
        time.sleep(0.1)
    raise NotReady(f"{name} did not answer /healthz within {timeout_s:.0f} s")


def wait_port(port: int, timeout_s: float = 15.0, process: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until something accepts TCP connections on 127.0.0.1:``port`` (a server without /healthz)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise NotReady(f"the server meant for port {port} exited with code {process.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise NotReady(f"nothing listens on port {port} after {timeout_s:.0f} s")


def start_group(
    command: Sequence[str],
    *,
    log: Path | IO[bytes] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``command`` as the leader of its own session, stdout and stderr into ``log`` (a file, or an
    open handle several processes share; None: discarded). Its own session: a Ctrl-C meant for the
    caller's terminal does not reach it, and ``stop_group`` reaches all it starts."""
    owned = log.open("wb") if isinstance(log, Path) else None
    output = owned or log or subprocess.DEVNULL
    try:
        return subprocess.Popen(  # noqa: S603 - our own tools and the system's servers
            list(command),
            stdout=output,
            stderr=subprocess.STDOUT if log is not None else subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    finally:
        if owned is not None:
            owned.close()  # the child holds its own descriptor


def proc_table() -> Iterator[tuple[int, list[str]]]:
    """(pid, the fields of /proc/PID/stat after the command name: state, ppid, pgrp, …) of every process."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            yield int(stat.parent.name), stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, ValueError, IndexError):
            continue  # it exited while we looked


def children(pid: int) -> set[int]:
    """The direct children of ``pid`` (uvicorn's workers, the portal's stubs)."""
    return {child for child, fields in proc_table() if int(fields[1]) == pid}


def group_alive(pgid: int) -> bool:
    """Whether any live (non-zombie) process is left in a process group."""
    if not Path("/proc").is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    return any(fields[0] != "Z" and int(fields[2]) == pgid for _, fields in proc_table())


def stop_group(process: subprocess.Popen[bytes], first: int = signal.SIGTERM, timeout: float = 10.0) -> None:
    """Signal the process group ``process`` leads (``start_group``) and wait for every member, not only
    the leader; SIGKILL to the group after ``timeout``. Uvicorn workers, stubs or Locust workers must
    not outlive the caller. Harmless on a group that is already gone."""
    pgid = process.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, first)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process.poll()  # reap the leader, so it does not count as alive
        if not group_alive(pgid):
            break
        time.sleep(0.1)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def stop_process(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout_s: float = 10) -> None:
    """Signal one process (not its group), SIGKILL it after ``timeout_s``, and reap it."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
