"""C01 against an embedded portal of 4 uvicorn workers sharing their limits through the runner's own Redis
(and writing to the runner's own PostgreSQL); and the verdict that would catch a limiter counted per
process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dvclab.load import verdicts
from dvclab.load.profiles import ProfileError, load_profile
from dvclab.load.rate_checks import C01
from tests.load.conftest import dvclab, write_profile

pytestmark = [pytest.mark.slow, pytest.mark.serial]  # portal workers, Redis and Locust


def _only_run(root: Path) -> Path:
    folders = [p for p in root.iterdir() if p.is_dir()]
    assert len(folders) == 1 and not folders[0].name.endswith(".partial"), folders
    return folders[0]


def test_c01_holds_across_four_portal_workers(tmp_path: Path) -> None:
    profile = write_profile(
        tmp_path,
        name="c01-workers",
        shape={"kind": "step", "steps": [{"rate": 2, "duration": "12s"}]},
        mix={"citizen_online": 0.5, "assisted": 0, "officer": 0.35, "tracker": 0, "sync": 0.15},
        think_time={"min": "50ms", "max": "150ms"},
        journey_slots=8,
        drain="3s",
        security={"checks": ["C01", "L01"], "start_after": "1s", "burst": 50},
        # PostgreSQL too: four processes writing, and the ground truth read back from it. Tokens of 8 s:
        # the officer and sync desks must renew theirs within the run (test_token_renewal.py).
        portal={
            "workers": 4,
            "database": "postgresql",
            "env": {"DVCLAB_PORTAL_TOKEN_TTL_S": "8"},
        },
    )
    # ~30 s on 2 cores (4 workers' start, 12 s of schedule, drain, teardown); no wall-clock assertion: the
    # timeout only stops a hung run.
    result = dvclab("load", "run", str(profile), "--results", str(tmp_path / "load"), timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = _only_run(tmp_path / "load")

    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["portal_workers"] == 4
    assert manifest["shared_store"]["kind"] == "redis" and manifest["portal_database"] == "postgresql"
    assert "postgresql://" in (folder / "portal.log").read_text()  # the portal's banner names its database
    assert manifest["shared_store"]["url"].startswith("redis://127.0.0.1:")
    assert "--workers" not in manifest["command"]  # the runner's own command, not the portal's

    security = {c["id"]: c for c in json.loads((folder / "security.json").read_text())}
    c01 = security["C01"]
    assert c01["verdict"] == "pass", c01
    o = c01["observed"]
    # One limit for the 4 processes: L served of more than 4 L sent over fresh connections.
    assert o["sent"] > 4 * o["L"] and o["served"] <= o["allowed"] == o["L"], o
    assert security["L01"]["verdict"] == "pass", security["L01"]
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["total"]["failures"] == 0
    # Tokens renewed before they ran out: not one 401, not even at the first request of a journey.
    for name, least in (("GET /api/v1/officer/queue", 3), ("GET /api/v1/sync/status-changes", 1)):
        entry = summary["endpoints"][name]
        assert entry["requests"] >= least and entry["expected_refusals"] == 0, (name, entry)
    # Counted per process, the same burst would have got ~4 L through: the verdict says fail.
    per_process = {**o, "served": 4 * o["L"], "429": o["sent"] - 4 * o["L"]}
    assert not C01.holds(per_process)


def _c01(served: int, sent: int = 301, quota: int = 60, **extra: object) -> dict[str, object]:
    return {
        "L": quota,
        "window_s": 60,
        "sent": sent,
        "served": served,
        "429": sent - served,
        "other": {},
    } | extra


def test_c01_verdict_tells_global_from_per_process_counting() -> None:
    assert C01.holds(_c01(60))  # one global limit
    assert not C01.holds(_c01(240))  # 4 processes, 60 each
    assert not C01.holds(_c01(61))  # even a lopsided spread over 2 processes shows
    assert not C01.holds(_c01(50, sent=60))  # never pushed past L: proves nothing
    assert not C01.holds(_c01(60, other={"503": 1}) | {"429": 240})  # a 5xx is no refusal
    # A probe that outlasted the (moving) window may see one more L per window it spanned.
    assert C01.holds(_c01(120, window_s=10, span_s=12.0))
    assert not C01.holds(_c01(121, window_s=10, span_s=12.0))


def test_c01_is_judged_from_the_figures_at_the_end() -> None:
    from dvclab.load import data, harness
    from dvclab.load.shapes import build_segments

    profile = load_profile("security")
    run = harness.Run(profile, build_segments(profile), data.ProcedureMix.from_catalog())
    run.observations = [
        {"id": "C01", "observed": {**_c01(240), "pass": True}}
    ]  # the probe's say is not final
    c01 = next(v for v in verdicts.finalise(run, "", None) if v["id"] == "C01")
    assert c01["verdict"] == "fail" and c01["observed"]["allowed"] == 60


def test_portal_workers_in_profiles(tmp_path: Path) -> None:
    assert load_profile("security").portal.workers == 4
    assert load_profile("smoke").portal.workers == 1
    for bad, message in (({"workers": 0}, "portal.workers"), ({"worker": 4}, "unknown field 'worker'")):
        path = write_profile(
            tmp_path, name="bad", shape={"kind": "soak", "rate": 1, "duration": 5}, portal=bad
        )
        try:
            load_profile(path)
        except ProfileError as error:
            assert message in str(error) and "portal" in str(error), error
        else:
            raise AssertionError(f"{bad} accepted")


def test_missing_redis_server_is_named(tmp_path: Path) -> None:
    import os
    import subprocess

    from tests.load.conftest import BIN, REPO

    profile = write_profile(
        tmp_path, name="no-redis", shape={"kind": "soak", "rate": 1, "duration": 5}, portal={"workers": 2}
    )
    result = subprocess.run(
        [str(BIN / "dvclab"), "load", "run", str(profile), "--results", str(tmp_path / "load")],
        cwd=REPO,
        env={**os.environ, "PATH": str(BIN)},  # no /usr/bin: no redis-server
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert "redis-server is not installed" in result.stderr and "bash .ci/system-deps.sh" in result.stderr
    assert "Traceback" not in result.stderr
    manifest = json.loads((_only_run(tmp_path / "load") / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "redis-server" in manifest["note"]
