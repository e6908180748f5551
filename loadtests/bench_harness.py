"""The harness's own cost: achieved rps of one Locust process with dvclab's request path (a portal map's
step run by ``map_steps.StepRunner``: templates, classified answers, expected refusals, C07 hygiene on
every response, HDR recording from the intended start)
against a plain ``FastHttpUser``, on the same cheap endpoint (``/healthz``), side by side in one run.

    python -m dvclab.load.bench_harness [--seconds 8] [--rounds 2] [--users 20]

Starts the reference portal on a free loopback port, alternates plain and harness rounds (so machine
drift hits both), prints the figures and writes ``results/bench/harness.json``
(``plain_rps``, ``harness_rps``, ``ratio``). This file is also the locustfile of each round
(``DVCLAB_BENCH_MODE=plain|harness``).
"""

from __future__ import annotations

import os

MODE = os.environ.get("DVCLAB_BENCH_MODE")

if MODE:  # inside a Locust round
    import time

    from locust import FastHttpUser, constant, events, task

    if MODE == "plain":

        class Plain(FastHttpUser):
            wait_time = constant(0)

            @task
            def health(self) -> None:
                self.client.get("/healthz", name="GET /healthz")

    else:
        from dvclab.load import data
        from dvclab.load.histograms import Recorder
        from dvclab.load.open_model import Counters

        recorder, counters = Recorder(), Counters()
        hygiene: dict[str, int] = {}

        @events.request.add_listener
        def _record(name: str, response_time: float, response=None, context=None, start_time=None, **_kw):  # type: ignore[no-untyped-def]  # noqa: E501
            # The same work as harness.Run.on_request: hygiene (C07) and HDR from the intended start.
            status = getattr(response, "status_code", 0) or 0
            if status in data.SERVER_ERRORS or (
                status in (429, 503) and not data.header(response, "Retry-After")
            ):
                hygiene["bad"] = hygiene.get("bad", 0) + 1
            intended = (context or {}).get("intended")
            millis = response_time
            if intended is not None and start_time is not None:
                millis = max(millis, (start_time - intended) * 1000 + millis)
            recorder.record(name, millis)

        from dvclab.load.map_steps import StepRunner
        from dvclab.load.portal_map import parse_map

        # The journeys' request path: a portal map's step, run by the StepRunner.
        BENCH_MAP = parse_map(
            {
                "name": "bench",
                "auth": {"kind": "none"},
                "steps": {
                    "statistics": {"method": "GET", "path": "/healthz", "name": "GET /healthz"}
                    | {"auth": False, "refusals": [429, 503]}
                },
            }
        )

        class Harnessed(FastHttpUser):
            wait_time = constant(0)

            def on_start(self) -> None:
                self.steps = StepRunner(self.client, BENCH_MAP)

            @task
            def health(self) -> None:
                counters.bump("started", "bench")
                self.steps.run("statistics", context={"journey": "bench", "intended": time.time()})


def _round(mode: str, host: str, seconds: int, users: int, folder: str) -> tuple[float, float]:
    """(achieved rps, generator CPU µs per request) of one Locust round."""
    import csv
    import resource
    import subprocess
    import sys
    from pathlib import Path

    from dvclab.processes import console_script

    prefix = Path(folder) / f"{mode}"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(  # noqa: S603 - our own tools
        [
            console_script("locust"),
            "-f",
            __file__,
            "--headless",
            "--host",
            host,
            "-u",
            str(users),
            "-r",
            str(users),
            "-t",
            f"{seconds}s",
            "--csv",
            str(prefix),
            "--only-summary",
            "--loglevel",
            "ERROR",
        ],
        env={**os.environ, "DVCLAB_BENCH_MODE": mode},
        check=True,
        timeout=seconds + 60,
        capture_output=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with open(f"{prefix}_stats.csv", newline="", encoding="utf-8") as handle:
        row = next(r for r in csv.DictReader(handle) if r["Name"] == "Aggregated")
    per_request = cpu / max(1, int(row["Request Count"])) * 1e6
    print(
        f"  {mode:8s} {float(row['Requests/s']):8.0f} rps  ({row['Request Count']} requests, "
        f"generator {per_request:.0f} µs CPU per request)",
        file=sys.stderr,
    )
    return float(row["Requests/s"]), per_request


def main(argv: list[str] | None = None) -> int:
    import argparse
    import tempfile
    from pathlib import Path

    from dvclab.files import atomic_write_json
    from dvclab.load.profiles import Profile
    from dvclab.load.runner import embedded_portal
    from dvclab.paths import results_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--out", type=Path, default=results_dir("bench", "harness.json"))
    args = parser.parse_args(argv)

    profile = Profile.model_validate(
        {"name": "bench", "shape": {"kind": "step", "steps": [{"rate": 1, "duration": 1}]}}
    )
    # The portal `dvclab load run` would start for this profile (one worker, SQLite).
    with tempfile.TemporaryDirectory() as scratch, embedded_portal(profile, Path(scratch)) as portal:
        plain, harnessed, plain_cpu, harness_cpu = [], [], [], []
        for _ in range(args.rounds):  # alternate, so drift in a shared machine hits both
            rps, cpu = _round("plain", portal.url, args.seconds, args.users, scratch)
            plain.append(rps)
            plain_cpu.append(cpu)
            rps, cpu = _round("harness", portal.url, args.seconds, args.users, scratch)
            harnessed.append(rps)
            harness_cpu.append(cpu)
    result = {
        "plain_rps": round(sum(plain) / len(plain), 1),
        "harness_rps": round(sum(harnessed) / len(harnessed), 1),
        # The generator's own cost, independent of whether the portal or the generator was the bottleneck.
        "plain_cpu_us_per_request": round(sum(plain_cpu) / len(plain_cpu), 1),
        "harness_cpu_us_per_request": round(sum(harness_cpu) / len(harness_cpu), 1),
        "rounds": args.rounds,
        "seconds_per_round": args.seconds,
        "users": args.users,
        "endpoint": "GET /healthz",
    }
    result["ratio"] = round(result["harness_rps"] / result["plain_rps"], 3) if result["plain_rps"] else None
    atomic_write_json(args.out, result)
    print(
        f"harness: plain {result['plain_rps']} rps, harness {result['harness_rps']} rps, "
        f"ratio {result['ratio']} (target >= 0.85) -> {args.out}"
    )
    return 0


if __name__ == "__main__" and not MODE:
    raise SystemExit(main())
