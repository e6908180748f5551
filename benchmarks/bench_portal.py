"""Benchmark of the reference portal on loopback: 1 and 2 uvicorn workers, side by side.

Measures requests/s and p50/p95/p99 for catalog search (closed loop, then open loop at 80% of the
measured maximum), public tracking by receipt code, the full citizen journey (login → create →
upload 1 file → submit → pay) and assisted filing (an officer logged in once for the shift files for
citizens: create → upload → submit → pay); and the CPU of each journey's steps, beyond the password hash
for the login, with the ceiling it implies on the cores present and the share of it achieved. Figures
are printed and written atomically to
``results/bench/portal.json``. Bounded in time (about two minutes).

The load generator is a separate process (gevent + geventhttpclient, C-parsed HTTP/1.1 with
keep-alive) so that it does not share an interpreter with the servers. All traffic stays on
127.0.0.1. Every request comes from one IP, so the per-client rate limits are raised for the run
(the limiter still runs on every request; with 2 workers through Redis).

    .venv/bin/python benchmarks/bench_portal.py [--quick]

One file over the usual size on purpose: it is also its own load generator (``--load``, re-run in a
separate process), so the generator and the measurements it feeds are read side by side.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvclab.files import atomic_write_json
from dvclab.paths import results_dir

if TYPE_CHECKING:
    from dvclab.embedded import Stubs

OUT = results_dir("bench", "portal.json")
# High enough never to bind at these rates, small enough that a moving window stays short (limits'
# Redis moving window keeps up to `amount` timestamps per key).
RAISED = {
    n: "20000/second"
    for n in (
        "public",
        "track",
        "login_ip",
        "api",
        "dossier_create",
        "dossier_create_ip",
        "upload",
        "callback",
    )
}
SEARCHES = [
    "q=khai+sinh",
    "q=dat+dai&level=district",
    "q=chung+thuc",
    "level=commune&page=3",
    "group=land",
    "online_level=full&page=2",
    "q=dang+ky",
    "q=giay+phep+xay+dung",
    "q=ho+kinh+doanh&page_size=50",
    "level=province&online_level=partial",
    "q=tro+cap",
    "q=cu+tru",
    "q=ket+hon",
    "page=40",
    "q=X-CT",
] + [f"page={p}&page_size=20" for p in range(1, 60)]
OFFICER = "036080000001"  # the demo counter officer (every pool): assisted filing's shift account
PDF = b"%PDF-1.4\n" + b"0" * 20_000 + b"\nstartxref\n0\n%%EOF\n"  # a 20 kB scanned document stand-in


# --- load generator (runs in its own process, under gevent) ------------------------------------------


def _percentiles(samples: list[float]) -> dict[str, float]:
    import numpy as np

    if not samples:
        return {"p50_ms": float("nan"), "p95_ms": float("nan"), "p99_ms": float("nan")}
    p50, p95, p99 = np.percentile(np.asarray(samples) * 1000, [50, 95, 99])
    return {"p50_ms": round(float(p50), 2), "p95_ms": round(float(p95), 2), "p99_ms": round(float(p99), 2)}


def load_main(spec: dict[str, Any]) -> dict[str, Any]:
    from gevent import monkey

    monkey.patch_all()
    import gevent
    from gevent.lock import Semaphore
    from gevent.pool import Pool
    from geventhttpclient import HTTPClient

    host, port = "127.0.0.1", spec["port"]
    duration, concurrency, kind = spec["duration"], spec["concurrency"], spec["kind"]
    latencies: list[float] = []
    # The officers' shift logins one at a time, as shifts start: they share the demo officer's account,
    # and a burst of concurrent logins of one account is refused past the lockout threshold by design.
    shift_logins = Semaphore(1)
    steps: dict[str, list[float]] = {}
    statuses: dict[str, int] = {}
    receipts: list[str] = []
    done = 0

    def count(status: int) -> None:
        statuses[str(status)] = statuses.get(str(status), 0) + 1

    def client() -> HTTPClient:
        return HTTPClient(host, port, concurrency=1, connection_timeout=10, network_timeout=30)

    def get(c: HTTPClient, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        r = c.get(path, headers=headers or {})
        body = r.read()
        return r.status_code, body

    def post(c: HTTPClient, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        r = c.request("POST", path, body=body, headers=headers)
        data = r.read()
        return r.status_code, data

    def search_loop(i: int, deadline: float) -> None:
        nonlocal done
        c = client()
        n = i
        while time.perf_counter() < deadline:
            path = "/api/v1/procedures?" + SEARCHES[n % len(SEARCHES)]
            n += concurrency
            t0 = time.perf_counter()
            status, _ = get(c, path)
            latencies.append(time.perf_counter() - t0)
            count(status)
            done += 1

    def track_loop(i: int, deadline: float) -> None:
        nonlocal done
        c = client()
        codes = spec["receipts"]
        n = i
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            status, _ = get(c, f"/api/v1/track/{codes[n % len(codes)]}")
            n += concurrency
            latencies.append(time.perf_counter() - t0)
            count(status)
            done += 1

    boundary = "dvclabbench"
    multipart = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="giay-to.pdf"\r\n'
            f"Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + PDF
        + f"\r\n--{boundary}--\r\n".encode()
    )

    def timed(name: str, fn: Any, *args: Any) -> tuple[int, bytes]:
        t0 = time.perf_counter()
        status, body = fn(*args)
        steps.setdefault(name, []).append(time.perf_counter() - t0)
        count(status)
        return status, body

    def journey_loop(i: int, deadline: float) -> None:
        """A citizen's journey from login to payment; ``assisted``: filed at the counter by an officer on
        the citizen's behalf, the officer logged in once for the shift (this client's lifetime), so a
        journey starts at creating the dossier."""
        nonlocal done
        c = client()
        n = i
        json_h = {"Content-Type": "application/json"}
        auth: dict[str, str] = {}
        assisted = kind == "assisted"
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            citizen = f"03609{(n % 200) + 1:07d}"
            n += concurrency
            if not auth or not assisted:
                account = (OFFICER, "Officer@2024") if assisted else (citizen, "Citizen@2024")
                with shift_logins if assisted else contextlib.nullcontext():
                    status, body = timed(
                        "login",
                        post,
                        c,
                        "/api/v1/auth/login",
                        json.dumps({"national_id": account[0], "password": account[1]}).encode(),
                        json_h,
                    )
                if status != 200:
                    continue
                auth = {"Authorization": "Bearer " + json.loads(body)["access_token"]}
                if assisted:
                    t0 = time.perf_counter()  # the shift's login is not part of a filing
            filing = {"procedure_code": "X-CT-0001", **({"citizen": citizen} if assisted else {})}
            status, body = timed(
                "create",
                post,
                c,
                "/api/v1/dossiers",
                json.dumps(filing).encode(),
                {**json_h, **auth, "Idempotency-Key": os.urandom(12).hex()},
            )
            if status != 201:
                continue
            dossier = json.loads(body)["id"]
            status, _ = timed(
                "upload",
                post,
                c,
                f"/api/v1/dossiers/{dossier}/files",
                multipart,
                {**auth, "Content-Type": f"multipart/form-data; boundary={boundary}"},
            )
            if status != 201:
                continue
            status, body = timed("submit", post, c, f"/api/v1/dossiers/{dossier}/submit", b"", auth)
            if status != 201:
                continue
            receipts.append(json.loads(body)["receipt_code"])
            status, _ = timed("pay", post, c, f"/api/v1/dossiers/{dossier}/payment", b"", auth)
            if status != 201:
                continue
            latencies.append(time.perf_counter() - t0)
            done += 1

    def open_loop(rate: float, deadline: float) -> None:
        """Constant arrival rate; latency counted from the scheduled send time (no coordinated
        omission)."""
        nonlocal done
        clients = [client() for _ in range(concurrency)]
        free = list(clients)
        pool = Pool(concurrency)
        interval = 1.0 / rate
        start = time.perf_counter()
        k = 0

        def one(scheduled: float, path: str) -> None:
            nonlocal done
            c = free.pop()
            try:
                status, _ = get(c, path)
            finally:
                free.append(c)
            latencies.append(time.perf_counter() - scheduled)
            count(status)
            done += 1

        while True:
            scheduled = start + k * interval
            if scheduled >= deadline:
                break
            delay = scheduled - time.perf_counter()
            if delay > 0:
                gevent.sleep(delay)
            pool.spawn(one, scheduled, "/api/v1/procedures?" + SEARCHES[k % len(SEARCHES)])
            k += 1
        pool.join(timeout=30)

    start = time.perf_counter()
    deadline = start + duration
    if kind == "open":
        open_loop(spec["rate"], deadline)
    else:
        loops = {
            "search": search_loop,
            "track": track_loop,
            "journey": journey_loop,
            "assisted": journey_loop,
        }
        loop = loops[kind]
        gevent.joinall([gevent.spawn(loop, i, deadline) for i in range(concurrency)], timeout=duration + 30)
    elapsed = time.perf_counter() - start
    result: dict[str, Any] = {
        "kind": kind,
        "concurrency": concurrency,
        "seconds": round(elapsed, 2),
        "completed": done,
        "per_second": round(done / elapsed, 1),
        "statuses": statuses,
        **_percentiles(latencies),
    }
    if kind == "open":
        result["offered_rate"] = spec["rate"]
    if steps:
        result["steps"] = {name: {"n": len(v), **_percentiles(v)} for name, v in steps.items()}
    if kind in ("journey", "assisted"):
        result["receipts"] = receipts[:2000]
    return result


def run_load(spec: dict[str, Any]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--load", json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=spec["duration"] + 90,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"load generator failed: {out.stderr[-2000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


# --- measuring a portal (started through dvclab.embedded) ---------------------------------------------


TARGET_BEYOND_HASH_MS = 25  # issue 13: a journey's CPU apart from the password hash
WARM_UP_JOURNEYS = 5  # first calls of each route (FastAPI's endpoint context, SQL compilation) not counted


STEPS = ("login", "create", "upload", "submit", "pay")


def journey_cpu_budget(
    port: int, pids: list[int], stub_pids: list[int], journeys: int = 40
) -> dict[str, Any]:
    """Where a journey's CPU goes: journeys one at a time (after a few to warm every route up), the CPU
    of the portal's processes and of the third-party stubs read around every step. Against the argon2
    floor (one verify with the portal's default parameters, in this process) it gives the CPU beyond the
    password hash, per step, and the ceiling of journeys/s on this machine's cores before any load
    generator takes its share. The assisted journey (an officer's session of the shift reused, the
    dossier filed on a citizen's behalf) is measured the same way, apart."""
    import httpx
    from argon2 import PasswordHasher

    from dvclab.portal.settings import Settings

    settings = Settings()
    hasher = PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )
    hashed = hasher.hash("Citizen@2024")
    t0 = time.process_time()
    for _ in range(10):
        hasher.verify(hashed, "Citizen@2024")
    argon2_ms = (time.process_time() - t0) * 100

    def cpu() -> tuple[float, float]:
        return sum(group_cpu_s(pid) for pid in pids), sum(group_cpu_s(pid) for pid in stub_pids)

    used: dict[str, dict[str, float]] = {"journey": {}, "assisted": {}}
    stubs: dict[str, dict[str, float]] = {"journey": {}, "assisted": {}}

    with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=30) as client:

        def step(kind: str, name: str, path: str, counted: bool, **request: Any) -> httpx.Response:
            portal_before, stubs_before = cpu()
            response = client.post(path, **request)
            portal_after, stubs_after = cpu()
            if counted:
                total = portal_after - portal_before + stubs_after - stubs_before
                used[kind][name] = used[kind].get(name, 0.0) + total
                stubs[kind][name] = stubs[kind].get(name, 0.0) + stubs_after - stubs_before
            if response.status_code not in (200, 201):
                raise RuntimeError(f"{name}: HTTP {response.status_code} {response.text[:200]}")
            return response

        def filing(kind: str, auth: dict[str, str], body: dict[str, str], counted: bool) -> None:
            key = {**auth, "Idempotency-Key": os.urandom(12).hex()}
            dossier = step(kind, "create", "/api/v1/dossiers", counted, json=body, headers=key)
            path = f"/api/v1/dossiers/{dossier.json()['id']}"
            pdf = {"file": ("giay-to.pdf", PDF, "application/pdf")}
            step(kind, "upload", f"{path}/files", counted, files=pdf, headers=auth)
            step(kind, "submit", f"{path}/submit", counted, headers=auth)
            step(kind, "pay", f"{path}/payment", counted, headers=auth)

        for n in range(WARM_UP_JOURNEYS + journeys):
            counted = n >= WARM_UP_JOURNEYS
            login = {"national_id": f"03609{n % 200 + 1:07d}", "password": "Citizen@2024"}
            token = step("journey", "login", "/api/v1/auth/login", counted, json=login).json()["access_token"]
            filing("journey", {"Authorization": f"Bearer {token}"}, {"procedure_code": "X-CT-0001"}, counted)
        shift = {"national_id": OFFICER, "password": "Officer@2024"}
        token = step("assisted", "login", "/api/v1/auth/login", False, json=shift).json()["access_token"]
        for n in range(WARM_UP_JOURNEYS + journeys):
            body = {"procedure_code": "X-CT-0001", "citizen": f"03609{n % 200 + 1:07d}"}
            filing("assisted", {"Authorization": f"Bearer {token}"}, body, n >= WARM_UP_JOURNEYS)

    def per_journey(totals: dict[str, float]) -> dict[str, float]:
        return {name: round(totals[name] * 1000 / journeys, 2) for name in STEPS if name in totals}

    per_step = per_journey(used["journey"])
    journey_ms = sum(per_step.values())
    beyond = {**per_step, "login": round(per_step["login"] - argon2_ms, 2)}  # the login's hash taken out
    beyond_ms = sum(beyond.values())
    assisted = per_journey(used["assisted"])
    cores = os.cpu_count() or 1
    return {
        "journeys": journeys,
        "warm_up_journeys": WARM_UP_JOURNEYS,
        "cpu_ms_per_step": per_step,
        "stub_cpu_ms_per_step": per_journey(stubs["journey"]),
        "cpu_ms_per_journey": round(journey_ms, 1),
        "argon2_verify_ms": round(argon2_ms, 1),
        "cpu_ms_beyond_hash_per_step": beyond,
        "cpu_ms_beyond_hash": round(beyond_ms, 1),
        "target_cpu_ms_beyond_hash": TARGET_BEYOND_HASH_MS,
        # Assisted filing reuses the officer's session of the shift: no login in its journey.
        "assisted_cpu_ms_per_step": assisted,
        "assisted_stub_cpu_ms_per_step": per_journey(stubs["assisted"]),
        "cpu_ms_per_assisted_journey": round(sum(assisted.values()), 1),
        "cores": cores,
        # Every core busy with the portal and the stubs alone, no load generator: an upper bound.
        "ceiling_journeys_per_s": round(cores * 1000 / journey_ms, 1),
        "ceiling_journeys_per_s_hash_only": round(cores * 1000 / argon2_ms, 1),
        "cpu_ms_per_journey_for_50_per_s": round(cores * 1000 / 50, 1),
        "note": "CPU (user + system) of the portal's processes and the two third-party stubs, clock-tick "
        "resolution averaged over the journeys",
    }


def ceiling(budget: dict[str, Any], workers: int, assisted: bool = False) -> float:
    """Journeys/s the budget allows on this machine's cores with ``workers`` portal processes: all cores
    busy (the hash runs in each process's pool, outside the interpreter lock), and each process's
    interpreter busy with the journey's work beyond the hash on one core at most."""
    journey = budget["cpu_ms_per_assisted_journey"] if assisted else budget["cpu_ms_per_journey"]
    beyond = journey if assisted else budget["cpu_ms_beyond_hash"]
    return min(budget["cores"] * 1000 / journey, workers * 1000 / beyond)


def group_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its direct children (uvicorn workers)."""
    from dvclab.processes import proc_table

    ticks = sum(int(f[11]) + int(f[12]) for p, f in proc_table() if p == pid or int(f[1]) == pid)
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU seconds every core of the machine has spent busy so far (``/proc/stat``: all but idle and
    I/O wait)."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def children_cpu_s() -> float:
    """CPU seconds of this process's finished children (the load generator, once it has exited)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measured(process: subprocess.Popen[bytes], spec: dict[str, Any], stub_pids: list[int]) -> dict[str, Any]:
    """One load phase, with the CPU time of the portal and the stubs per completed operation: unlike
    rps, that figure hardly moves when other work on the machine competes for the cores. And who kept
    the cores busy meanwhile (in cores, averaged over the phase): the portal and its stubs, the load
    generator, and other work on the machine, which a share of the CPU ceiling must be read against."""
    before = group_cpu_s(process.pid)
    stubs_before = sum(group_cpu_s(pid) for pid in stub_pids)
    busy_before, generator_before, t0 = machine_busy_s(), children_cpu_s(), time.perf_counter()
    result = run_load(spec)
    wall = time.perf_counter() - t0
    busy, generator = machine_busy_s() - busy_before, children_cpu_s() - generator_before
    used = group_cpu_s(process.pid) - before
    stubs_used = sum(group_cpu_s(pid) for pid in stub_pids) - stubs_before
    if result["completed"]:
        result["server_cpu_ms_per_op"] = round(used * 1000 / result["completed"], 3)
        result["stub_cpu_ms_per_op"] = round(stubs_used * 1000 / result["completed"], 3)
        result["ops_per_server_core_s"] = round(result["completed"] / used, 1) if used else None
    result["cores_busy"] = {
        "portal_and_stubs": round((used + stubs_used) / wall, 2),
        "load_generator": round(generator / wall, 2),
        "other_work": round(max(0.0, busy - used - stubs_used - generator) / wall, 2),
        "machine": round(busy / wall, 2),
    }
    return result


def bench_config(
    tmp: Path,
    stubs: Stubs,
    workers: int,
    redis_url: str | None,
    seconds: float,
    env: dict[str, str] | None = None,
    journey_only: bool = False,
    db_url: str | None = None,
    cpu_budget: bool = False,
) -> dict[str, Any]:
    """One portal configuration on a fresh database, measured phase after phase, then stopped."""
    from dvclab.embedded import EmbeddedPortal

    portal = EmbeddedPortal(
        tmp,
        db_url=db_url or "",
        workers=workers,
        redis_url=redis_url,
        rates=RAISED,
        env=env or {},
        stubs=stubs,
        clean_env=True,
    )
    with portal:
        assert portal.process is not None
        process, port = portal.process, portal.port
        result: dict[str, Any] = {"workers": workers}
        run_load({"kind": "search", "port": port, "duration": 1.0, "concurrency": 8})  # warm-up
        stub_pids = [p.pid for p in stubs.processes]
        if cpu_budget:
            result["journey_cpu_budget"] = journey_cpu_budget(port, [process.pid], stub_pids)
        journey = measured(
            process, {"kind": "journey", "port": port, "duration": seconds, "concurrency": 16}, stub_pids
        )
        receipts = journey.pop("receipts")
        result["journey"] = journey
        if journey_only:
            return result
        assisted = measured(
            process, {"kind": "assisted", "port": port, "duration": seconds, "concurrency": 16}, stub_pids
        )
        assisted.pop("receipts")
        result["assisted"] = assisted
        result["search_max"] = measured(
            process, {"kind": "search", "port": port, "duration": seconds, "concurrency": 32}, stub_pids
        )
        rate = round(0.8 * result["search_max"]["per_second"])
        result["search_at_80pct"] = measured(
            process,
            {"kind": "open", "port": port, "duration": seconds, "concurrency": 64, "rate": max(rate, 1)},
            stub_pids,
        )
        if receipts:
            result["track"] = measured(
                process,
                {"kind": "track", "port": port, "duration": seconds, "concurrency": 32, "receipts": receipts},
                stub_pids,
            )
        return result


def summary_lines(report: dict[str, Any]) -> list[str]:
    lines = []
    for config in report["runs"]:
        label = f"{config['workers']} worker{'s' if config['workers'] > 1 else ''}"
        if config.get("label"):
            label += f" ({config['label']})"
        for name in ("search_max", "search_at_80pct", "track", "journey", "assisted"):
            r = config.get(name)
            if not r:
                continue
            unit = "journeys/s" if name in ("journey", "assisted") else "rps"
            errors = sum(v for k, v in r["statuses"].items() if not k.startswith("2"))
            cpu = f"  server CPU {r['server_cpu_ms_per_op']:.2f} ms/op" if "server_cpu_ms_per_op" in r else ""
            lines.append(
                f"{label:<34} {name:<16} {r['per_second']:>9.1f} {unit:<10} p50 {r['p50_ms']:>7.2f} ms  "
                f"p95 {r['p95_ms']:>7.2f} ms  p99 {r['p99_ms']:>7.2f} ms  non-2xx {errors}{cpu}"
            )
    return lines


def budget_lines(budget: dict[str, Any]) -> list[str]:
    """The per-step CPU table: the citizen's journey (and beyond the password hash), the assisted one."""
    beyond, stubs = budget["cpu_ms_beyond_hash_per_step"], budget["stub_cpu_ms_per_step"]
    assisted, assisted_stubs = budget["assisted_cpu_ms_per_step"], budget["assisted_stub_cpu_ms_per_step"]
    lines = [
        f"CPU per step, ms (portal + third-party stubs, journeys one at a time after "
        f"{budget['warm_up_journeys']} to warm up; argon2 verify alone {budget['argon2_verify_ms']:.1f} ms):",
        f"  {'step':<8} {'citizen':>8} {'beyond hash':>12} {'of it stubs':>12} {'assisted':>9} "
        f"{'of it stubs':>12}",
    ]
    for name in STEPS:
        row = [budget["cpu_ms_per_step"][name], beyond[name], stubs.get(name, 0.0)]
        if name in assisted:
            row += [assisted[name], assisted_stubs.get(name, 0.0)]
        cells = "".join(f"{v:>{w}.2f}" for v, w in zip(row, (9, 13, 13, 10, 13), strict=False))
        lines.append(f"  {name:<8}{cells}" + ("" if name in assisted else f"{'-':>10}{'-':>13}"))
    lines.append(
        f"  {'total':<8}{budget['cpu_ms_per_journey']:>9.1f}{budget['cpu_ms_beyond_hash']:>13.1f}"
        f"{sum(stubs.values()):>13.2f}{budget['cpu_ms_per_assisted_journey']:>10.1f}"
        f"{sum(assisted_stubs.values()):>13.2f}"
    )
    lines.append(
        f"journey CPU beyond the password hash: {budget['cpu_ms_beyond_hash']:.1f} ms (target <= "
        f"{budget['target_cpu_ms_beyond_hash']}); the assisted journey reuses the officer's session of the "
        f"shift (no login): {budget['cpu_ms_per_assisted_journey']:.1f} ms"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="duration of each measured phase")
    parser.add_argument("--quick", action="store_true", help="2-second phases (a smoke run)")
    parser.add_argument("--load", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load:
        print(json.dumps(load_main(json.loads(args.load))))
        return 0
    seconds = 2.0 if args.quick else args.seconds
    if not 0.5 <= seconds <= 60:
        print("bench_portal: --seconds must be within 0.5..60", file=sys.stderr)
        return 2
    from dvclab import services
    from dvclab.embedded import start_stubs

    started = time.time()
    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="dvclab-bench-portal-"))
    with contextlib.ExitStack() as stack:  # whatever happens, every server started here is stopped
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        # The gateway stub posts callbacks to whichever portal created the payment; the portals are
        # not known yet, so in this benchmark callbacks are left out (pay = intent + gateway call).
        stubs = stack.enter_context(start_stubs())
        redis = stack.enter_context(services.start_redis(tmp))
        runs = [
            bench_config(tmp, stubs, 1, None, seconds, cpu_budget=True),
            bench_config(tmp, stubs, 2, redis.url, seconds),
        ]
        # The journey's cost is dominated by argon2id at OWASP's minimum profile (m=19 MiB, t=2: ~30 ms
        # of CPU per login here). For comparison only: the same journey with a deliberately cheap hash.
        cheap = {"DVCLAB_PORTAL_ARGON2_TIME_COST": "1", "DVCLAB_PORTAL_ARGON2_MEMORY_KIB": "8192"}
        for workers, redis_url in ((1, None), (2, redis.url)):
            extra = bench_config(tmp, stubs, workers, redis_url, seconds, cheap, journey_only=True)
            extra["label"] = "argon2 t=1 m=8MiB, comparison only"
            runs.append(extra)
        # Several workers writing: PostgreSQL instead of SQLite's one-writer-at-a-time file lock.
        # Durable settings (fsync and synchronous_commit on, the defaults): comparable with SQLite FULL.
        try:
            postgres = stack.enter_context(services.start_postgres(durable=True))
        except services.ServiceMissing as exc:
            print(f"bench_portal: the PostgreSQL run is skipped: {exc}", file=sys.stderr)
        else:
            pg_url = postgres.new_database("bench")
            extra = bench_config(tmp, stubs, 2, redis.url, seconds, journey_only=True, db_url=pg_url)
            extra["label"] = "PostgreSQL"
            runs.append(extra)
    report = {
        "benchmark": "portal",
        "command": "python benchmarks/bench_portal.py"
        + (" --quick" if args.quick else f" --seconds {seconds:g}"),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "seconds_per_phase": seconds,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "setup": {
            "database": "SQLite (WAL, synchronous=FULL), a fresh file per run",
            "rate_limits": "raised to 20000/second (all load is from 127.0.0.1); the limiter still runs",
            "two_workers_store": "Redis (limits shared)",
            "journey": "login -> create -> upload one 20 kB PDF -> submit -> pay (gateway stub on loopback)",
            "assisted": "an officer logged in once per shift (client) files for citizens: create (on the "
            "citizen's behalf) -> upload -> submit -> pay",
            "search": "closed loop, 32 connections, 74 query mixes; then open loop at 80% of that rate",
        },
        "targets": {
            "search_rps_1_worker": 1000,
            "search_p95_ms_at_80pct": 50,
            "journey_cpu_ms_beyond_hash": TARGET_BEYOND_HASH_MS,
            "journey_share_of_ceiling": 0.8,
        },
        "runs": runs,
        "duration_s": round(time.time() - started, 1),
        # Other work on the machine competes for the same 2 cores; the figures are only as clean as this.
        "load_average_1m_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
    }
    one = runs[0]
    budget = one["journey_cpu_budget"]
    # The achieved rate against the ceiling the budget implies, for the same number of workers.
    shares = {
        f"{kind}_share_of_ceiling_{config['workers']}w": round(
            config[kind]["per_second"] / ceiling(budget, config["workers"], assisted=kind == "assisted"), 2
        )
        for config in runs[:2]
        for kind in ("journey", "assisted")
    }
    report["verdict"] = {
        "search_rps_1_worker": one["search_max"]["per_second"],
        "search_p95_ms_at_80pct_1_worker": one["search_at_80pct"]["p95_ms"],
        "journeys_per_s_best_default_hash": max(r["journey"]["per_second"] for r in runs[:2]),
        "assisted_journeys_per_s_best": max(r["assisted"]["per_second"] for r in runs[:2]),
        # Load-independent: what one core given wholly to the portal sustains (1 worker).
        "search_per_server_core_s": one["search_max"].get("ops_per_server_core_s"),
        "journeys_per_server_core_s": one["journey"].get("ops_per_server_core_s"),
        "journey_cpu_ms": budget["cpu_ms_per_journey"],
        "journey_cpu_ms_beyond_hash": budget["cpu_ms_beyond_hash"],
        "assisted_journey_cpu_ms": budget["cpu_ms_per_assisted_journey"],
        "journey_argon2_verify_ms": budget["argon2_verify_ms"],
        "journeys_per_s_cpu_ceiling": budget["ceiling_journeys_per_s"],
        **shares,
    }
    report.update(report["verdict"])  # top-level numbers too: what `dvclab check` reads from a bench file
    atomic_write_json(OUT, report)
    print("\n".join(summary_lines(report)))
    print("\n".join(budget_lines(budget)))
    for config in runs[:2]:
        w = config["workers"]
        for kind in ("journey", "assisted"):
            r = config[kind]
            limit = ceiling(budget, w, assisted=kind == "assisted")
            under_load = r.get("server_cpu_ms_per_op", 0) + r.get("stub_cpu_ms_per_op", 0)
            busy = r["cores_busy"]
            print(
                f"{kind:<8} {w} worker{'s' if w > 1 else ' '}: {r['per_second']:.1f}/s of a ceiling of "
                f"{limit:.1f}/s on {budget['cores']} cores = {shares[f'{kind}_share_of_ceiling_{w}w']:.2f} "
                f"(target >= 0.8); CPU under load {under_load:.1f} ms per journey; cores busy: portal "
                f"and stubs {busy['portal_and_stubs']:.2f}, load generator {busy['load_generator']:.2f}, "
                f"other work {busy['other_work']:.2f}"
            )
    print(f"verdict: {json.dumps(report['verdict'])}")
    print(f"machine load average (1 min) before/after: {report['load_average_1m_before_after']}")
    print(f"written: {OUT} ({report['duration_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
