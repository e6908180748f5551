"""``dvclab load run PROFILE``: start the reference portal (unless ``--host``; with ``portal.workers`` > 1
behind a throwaway Redis), run Locust headless on loopback (one process, or a master and N workers), stop
everything whatever happens, and write the results folder atomically (``results/load/<profile>-<stamp>/``,
written as ``….partial`` then renamed). SIGINT/SIGTERM stop the run early: the same teardown, the results
so far, ``"status": "interrupted"`` in manifest.json, exit 128 + the signal (130 for Ctrl-C).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dvclab import services
from dvclab.embedded import EmbeddedPortal
from dvclab.files import atomic_write_json
from dvclab.load import check_registry, store_faults
from dvclab.load.portal_map import load_map
from dvclab.load.profiles import Profile
from dvclab.load.security_checks import NOT_RUN
from dvclab.load.store_checks import CONTROL_ENV, STORE_ABSENT_ENV, StoreProxy
from dvclab.load.store_faults import FAULT_LOG_ENV
from dvclab.paths import results_dir
from dvclab.processes import NotReady, console_script, free_port, open_loopback, start_group, stop_group
from dvclab.services import RedisServer

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class RunError(RuntimeError):
    """The run could not happen (the portal did not start, Locust failed to launch)."""


@dataclass
class StopRequest:
    """SIGINT/SIGTERM to the runner, remembered: the waiting loops act on it. The handler raises nothing,
    so a signal can never cut a teardown or a results write in half."""

    signum: int | None = None
    elapsed_s: float | None = None
    started: float = field(default_factory=time.monotonic)

    def __call__(self, signum: int, _frame: Any) -> None:
        if self.signum is None:
            self.signum, self.elapsed_s = signum, time.monotonic() - self.started

    def __bool__(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""


@contextlib.contextmanager
def catching_signals(stop: StopRequest) -> Iterator[StopRequest]:
    """SIGINT and SIGTERM set ``stop`` for the duration (main thread only: Python's rule for handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def is_loopback(url: str) -> bool:
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def start_postgres() -> services.PostgresCluster:
    """A throwaway PostgreSQL cluster (Debian's packages) with PostgreSQL's durable defaults."""
    try:
        return services.start_postgres(durable=True)
    except services.ServiceMissing as missing:
        raise RunError(f"portal.database: postgresql: {missing}") from None
    except (RuntimeError, subprocess.CalledProcessError) as failed:
        raise RunError(f"PostgreSQL did not start: {failed}") from None


def start_redis(folder: Path) -> RedisServer:
    """The throwaway Redis several portal workers share their limits through (``dvclab.services``:
    Debian's redis-server, loopback, a free port, no RDB/AOF, its own session, files in ``folder``)."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        return services.start_redis(folder)
    except services.ServiceMissing as missing:
        raise RunError(
            f"portal.workers > 1 shares the portal's rate limits through Redis: {missing}"
        ) from None
    except RuntimeError as failed:
        raise RunError(f"redis-server did not start: {failed}") from None


def store_proxy(
    profile: Profile,
    portal: EmbeddedPortal | None,
    redis: RedisServer | None,
    folder: Path,
    fault_log: Path | None = None,
) -> tuple[StoreProxy | None, RedisServer | None, dict[str, str]]:
    """For C06 (the limit store slow or down): a fault-injecting TCP proxy between the embedded portal's
    workers and a throwaway Redis (started here when the profile's workers do not need one already), and
    the variables that tell the attacker its control address -- or why there is none, which C06 then
    reports as its "not run" reason; the proxy logs its faults to ``fault_log`` (store_faults). (proxy,
    the Redis started here, environment for Locust)."""
    if "C06" not in profile.security.checks:
        return None, None, {}
    if portal is None:
        why = "the portal runs at --host: its limit store is not one the runner can put a proxy in front of"
        return None, None, {STORE_ABSENT_ENV: why}
    started = None
    if redis is None:
        folder.mkdir(parents=True, exist_ok=True)
        try:
            redis = started = services.start_redis(folder)
        except (services.ServiceMissing, RuntimeError) as missing:
            return (
                None,
                None,
                {STORE_ABSENT_ENV: f"no Redis to put the fault-injection proxy in front of: {missing}"},
            )
    target = urlsplit(redis.url)
    proxy = StoreProxy((target.hostname or "127.0.0.1", target.port or 6379), fault_log)
    portal.redis_url = f"redis://127.0.0.1:{proxy.port}{target.path or '/0'}"
    env = {CONTROL_ENV: f"127.0.0.1:{proxy.control_port}"}
    if fault_log is not None:
        env[FAULT_LOG_ENV] = str(fault_log)
    return proxy, started, env


def embedded_portal(profile: Profile, folder: Path) -> EmbeddedPortal:
    """The reference portal a profile asks for (``portal:``), its database and log in ``folder``; the
    runner adds the Redis and PostgreSQL it started before starting it."""
    env = dict(profile.portal.env)
    if profile.portal.trust_generator and profile.forwarded_clients:
        env["DVCLAB_PORTAL_TRUSTED_PROXIES"] = "127.0.0.1"  # the generator plays the reverse proxy
    return EmbeddedPortal(folder, workers=profile.portal.workers, rates=dict(profile.portal.rates), env=env)


def locust_commands(
    profile_name: str,
    host: str,
    out: Path,
    processes: int,
    from_sim: str | None,
    db_url: str | None,
    thresholds: str | None,
    map_name: str | None = None,
) -> list[list[str]]:
    """One headless Locust, or a master and ``processes`` workers on loopback."""
    common = [
        console_script("locust"),
        "-f",
        str(LOCUSTFILE),
        "--dvclab-profile",
        profile_name,
        "--loglevel",
        "WARNING",
    ]
    if from_sim:
        common += ["--dvclab-from-sim", from_sim]
    if map_name:
        common += ["--dvclab-map", map_name]
    master = [
        *common,
        "--headless",
        "--host",
        host,
        "--dvclab-out",
        str(out),
        "--html",
        str(out / "locust.html"),
        "--csv",
        str(out / "locust"),
        "--only-summary",
    ]
    if db_url:
        master += ["--dvclab-db", db_url]
    if thresholds:
        master += ["--dvclab-thresholds", thresholds]
    if processes <= 1:
        return [master]
    port = free_port()
    master += [
        "--master",
        "--master-bind-host",
        "127.0.0.1",
        "--master-bind-port",
        str(port),
        "--expect-workers",
        str(processes),
        "--expect-workers-max-wait",
        "30",
    ]
    worker = [*common, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port), "--host", host]
    return [master] + [worker] * processes


def run_locust(
    commands: list[list[str]],
    out: Path,
    budget: float,
    portal: EmbeddedPortal | None,
    stop: StopRequest,
    env: dict[str, str] | None = None,
) -> tuple[int, str]:
    """Start the processes, wait at most ``budget`` seconds (or until ``stop``); the master's exit code and
    a note. The master is stopped with SIGINT, so it still judges the checks and writes what it has.
    ``env``: variables added to the processes' environment (the store proxy's control address)."""
    environment = {**os.environ, **env} if env else None
    with (out / "locust.log").open("wb") as log:
        processes = [start_group(c, log=log, env=environment) for c in commands]
    master, note = processes[0], ""
    deadline = time.monotonic() + budget
    portal_dead_at: float | None = None
    try:
        while master.poll() is None:
            if stop:
                break
            if time.monotonic() > deadline:
                note = f"Locust did not finish within {budget:.0f} s; stopped"
                break
            if portal is not None and not portal.alive() and portal_dead_at is None:
                portal_dead_at = time.monotonic()
                note = f"the portal process died during the run (exit {portal.process.returncode})"  # type: ignore[union-attr]
                print(f"dvclab load: {note}", file=sys.stderr)
            if portal_dead_at and time.monotonic() - portal_dead_at > 30:
                break  # the master's own health watch should have stopped it by now
            time.sleep(0.3)
    finally:
        # The master first: on SIGINT it tells its workers to quit, judges the checks and writes its files.
        stop_group(master, signal.SIGINT, timeout=20)
        for process in processes[1:]:
            stop_group(process, signal.SIGTERM, timeout=10)
    code = master.returncode if master.returncode is not None else EXIT_FAILED
    return code, note


def _answers(url: str) -> bool:
    """Whether the target's health path answers 200 (the portal map names it)."""
    try:
        with open_loopback(url, 2.0) as response:
            return getattr(response, "status", 0) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": sys.version.split()[0]}
    for name in ("dvclab", "locust", "hdrhistogram", "gevent"):
        with contextlib.suppress(PackageNotFoundError):
            found[name] = version(name)
    return found


def _failed_results(out: Path, profile: Profile, message: str) -> None:
    """A run that could not produce results still leaves files the gate reads as failed."""

    if not (out / "summary.json").exists():
        atomic_write_json(
            out / "summary.json",
            {
                "schema": 1,
                "profile": profile.name,
                "endpoints": {},
                "error": message,
                "total": {
                    "requests": 0,
                    "failures": 1,
                    "offered_rps": 0.0,
                    "achieved_rps": 0.0,
                    "scheduled": 0,
                    "dropped": 0,
                    "p95_ms": None,
                },
            },
        )
    if not (out / "security.json").exists():
        # No Locust master judged them: every selected check is "not run" (the gate's not_run and
        # passes rules catch it), named as in the registry.
        atomic_write_json(
            out / "security.json",
            [
                {
                    "id": check.id,
                    "name": check.name,
                    "invariant": check.invariant,
                    "observed": None,
                    "verdict": NOT_RUN,
                    "reason": f"the run produced no verdicts: {message}",
                }
                for check in check_registry.selected(profile.security.checks)
            ],
        )


def run(
    profile: Profile,
    profile_name: str,
    host: str | None = None,
    processes: int = 1,
    from_sim: str | None = None,
    results: Path | None = None,
    db_url: str | None = None,
    thresholds: str | None = None,
    command: list[str] | None = None,
    map_name: str | None = None,
) -> tuple[int, Path]:
    """Run a profile; returns (exit code, results folder). Exit 1 when the run failed, 128 + the signal
    when SIGINT/SIGTERM stopped it (the folder then holds the results so far)."""
    with catching_signals(StopRequest()) as stop:
        return _run(
            profile,
            profile_name,
            host,
            processes,
            from_sim,
            results,
            db_url,
            thresholds,
            command,
            stop,
            map_name,
        )


def _run(
    profile: Profile,
    profile_name: str,
    host: str | None,
    processes: int,
    from_sim: str | None,
    results: Path | None,
    db_url: str | None,
    thresholds: str | None,
    command: list[str] | None,
    stop: StopRequest,
    map_name: str | None = None,
) -> tuple[int, Path]:
    health_path = load_map(map_name or profile.map).health
    root = results or results_dir("load")
    root.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"{profile.name}-{stamp}"
    final = root / name
    suffix = 1
    while final.exists():
        final, suffix = root / f"{name}-{suffix}", suffix + 1
    out = Path(tempfile.mkdtemp(prefix=f"{final.name}.", suffix=".partial", dir=root))
    scratch = Path(tempfile.mkdtemp(prefix="dvclab-portal-"))
    portal = None if host else embedded_portal(profile, scratch)
    redis: RedisServer | None = None
    proxy: StoreProxy | None = None
    proxied: RedisServer | None = None  # a Redis started for C06's proxy alone
    locust_env: dict[str, str] = {}
    postgres: services.PostgresCluster | None = None
    started = datetime.now(UTC)
    code, note = EXIT_FAILED, ""
    try:
        if portal is not None and profile.portal.workers > 1:
            redis = start_redis(scratch / "redis")
            portal.redis_url = redis.url
        if not stop:
            proxy, proxied, locust_env = store_proxy(
                profile, portal, redis, scratch / "redis-c06", out / store_faults.LOG_NAME
            )
        if portal is not None and profile.portal.database == "postgresql" and not stop:
            postgres = start_postgres()
            portal.db_url = postgres.new_database("portal")
        if portal is not None and not stop:
            portal.start(cancelled=stop.__bool__)  # a signal cuts the wait short
            host, db_url = portal.url, portal.db_url
        elif portal is None and not _answers(f"{host}{health_path}"):
            raise RunError(f"the portal at {host} does not answer {health_path}")
        if not stop:
            assert host is not None
            budget = profile.duration + profile.drain + profile.security.overrun + 60 + 15 * max(1, processes)
            commands = locust_commands(
                profile_name, host, out, processes, from_sim, db_url, thresholds, map_name
            )
            code, note = run_locust(commands, out, budget, portal, stop, locust_env)
            if not (out / "summary.json").exists() and not stop:
                note = note or "Locust wrote no results; see locust.log"
    except (RunError, NotReady, OSError) as error:  # NotReady: the portal exited or never answered
        note = str(error)
    finally:
        # Whatever happened (an error, a signal): nothing we started outlives the run.
        if portal is not None:
            portal.stop()
        if proxy is not None:
            proxy.stop()
        for store in (redis, proxied):
            if store is not None:
                store.stop()
        if postgres is not None:
            postgres.stop()
        if portal is not None and portal.log.exists():
            shutil.copy(portal.log, out / "portal.log")
        shutil.rmtree(scratch, ignore_errors=True)
    if stop:
        note = f"interrupted by {stop.name} after {stop.elapsed_s:.0f} s" + (f"; {note}" if note else "")
        code = 128 + int(stop.signum or signal.SIGINT)
        # Checks the attacker never reached are already "not run"; missing files get placeholders.
        _failed_results(out, profile, note)
    elif note:
        print(f"dvclab load: {note}", file=sys.stderr)
        _failed_results(out, profile, note)
        code = EXIT_FAILED

    embedded = portal is not None
    manifest: dict[str, Any] = {
        "kind": "load",
        "status": "interrupted" if stop else ("failed" if note else "completed"),
        "profile": profile.name,
        "profile_resolved": profile.model_dump(mode="json"),
        "portal_map": map_name or profile.map,
        "host": host,
        "embedded_portal": embedded,
        "portal_workers": profile.portal.workers if embedded else None,
        "portal_database": profile.portal.database if embedded else None,
        # Where the portal's workers count their rate limits: one process's memory, or the Redis we started.
        "shared_store": (
            {"kind": "redis", "url": (redis or proxied).url, "version": services.redis_version()}  # type: ignore[union-attr]
            if redis is not None or proxied is not None
            else ({"kind": "in-process"} if embedded else None)
        ),
        # C06's fault-injection proxy between the portal and that Redis, or why there was none
        "store_proxy": (
            {"control": locust_env[CONTROL_ENV]}
            if CONTROL_ENV in locust_env
            else locust_env.get(STORE_ABSENT_ENV)
        ),
        "processes": processes,
        "from_sim": from_sim,
        "seed": profile.seed,
        "command": command or sys.argv,
        "versions": _versions(),
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "exit_code": code,
        "note": note or None,
    }
    if stop:
        manifest["interrupted"] = {"signal": stop.name, "after_s": round(stop.elapsed_s or 0.0, 1)}
    atomic_write_json(out / "manifest.json", manifest)
    _percentiles_csv(out)
    os.replace(out, final)
    if stop:
        print(f"dvclab load: run interrupted ({stop.name}); partial results in {final}", file=sys.stderr)
    return code, final


def _percentiles_csv(out: Path) -> None:
    """The exact (HDR) percentiles as a table beside Locust's own CSVs."""
    path = out / "summary.json"
    if not path.exists():
        return
    summary = json.loads(path.read_text(encoding="utf-8"))
    keys = ("requests", "failures", "rps", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms")
    lines = ["endpoint," + ",".join(keys)]
    rows = [*summary.get("endpoints", {}).items(), ("total", summary.get("total", {}))]
    for name, values in rows:
        cells = ["" if values.get(k) is None else str(values.get(k)) for k in keys]
        lines.append(f'"{name}",' + ",".join(cells))
    (out / "percentiles.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
