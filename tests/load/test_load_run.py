"""End to end on loopback: `dvclab load run smoke` against the embedded portal, gated by `dvclab check`
on correctness only (tests/load/correctness-thresholds.yaml: no latency, which a busy CI machine cannot
promise); and a distributed run (a master and 2 workers) whose HDR histograms and counters merge."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from dvclab.gate.rules import load_thresholds
from dvclab.load.profiles import load_profile
from tests.load.conftest import dvclab, write_profile

pytestmark = pytest.mark.serial  # timing and concurrency under load: run alone (Makefile)

CORRECTNESS = Path(__file__).with_name("correctness-thresholds.yaml")

ENDPOINT_KEYS = {"requests", "failures", "rps", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms"}
JOURNEY_ENDPOINTS = {
    "GET /api/v1/procedures",
    "GET /api/v1/procedures/{code}",
    "POST /api/v1/auth/login",
    "POST /api/v1/dossiers",
    "POST /api/v1/dossiers/{id}/files",
    "POST /api/v1/dossiers/{id}/submit",
    "POST /api/v1/dossiers/{id}/payment",
    "GET /api/v1/track/{code}",
    "GET /api/v1/dossiers/{id}",
    "GET /api/v1/officer/queue",
    "POST /api/v1/officer/dossiers/{id}/receive",
    "GET /api/v1/statistics",
}


def _only_run(root: Path) -> Path:
    folders = [p for p in root.iterdir() if p.is_dir()]
    assert len(folders) == 1 and not folders[0].name.endswith(".partial"), folders
    return folders[0]


def test_correctness_gate_judges_no_latency_or_throughput() -> None:
    """The gate of `make test` must hold on a loaded machine: failures, drops and checks, never speed."""
    rules = load_thresholds(CORRECTNESS)
    judged = [r.metric for section in rules.load.values() for r in section]
    judged += [r.metric for r in rules.security]
    assert "failures" in judged and "violations" in judged and "dropped_ratio" in judged
    speed = [m for m in judged if m.endswith(("_ms", "rps", "_pct")) or m in ("achieved_ratio", "duration_s")]
    assert not speed, speed


@pytest.mark.slow
def test_smoke_profile_against_embedded_portal_passes_the_gate(tmp_path: Path) -> None:
    started = time.monotonic()
    load = ("load", "run", "smoke", "--thresholds", str(CORRECTNESS), "--results", str(tmp_path / "load"))
    result = dvclab(*load, timeout=150)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-3000:]
    assert elapsed < 120  # 30 s of schedule and a 4 s drain: a run that outlives them by far is stuck
    folder = _only_run(tmp_path / "load")
    assert result.stdout.strip().endswith(folder.name)
    for name in ("manifest.json", "summary.json", "security.json", "percentiles.csv", "locust.html"):
        assert (folder / name).is_file(), name

    summary = json.loads((folder / "summary.json").read_text())
    assert summary["profile"] == "smoke"
    assert set(summary["endpoints"]) >= JOURNEY_ENDPOINTS
    assert not any(name.startswith("[") for name in summary["endpoints"])  # checks' traffic apart
    for name, endpoint in summary["endpoints"].items():
        assert set(endpoint) >= ENDPOINT_KEYS, name
        assert endpoint["failures"] == 0, name
    total = summary["total"]
    # Correctness, not speed: every request answered as expected, at most a few journeys that a busy
    # machine could not start on time; the percentiles are consistent, whatever their values.
    assert total["scheduled"] >= 50 and total["dropped"] <= 0.05 * total["scheduled"]
    assert total["requests"] >= 300 and total["failures"] == 0
    assert total["offered_rps"] >= total["achieved_rps"] > 0
    assert total["p50_ms"] <= total["p95_ms"] <= total["p99_ms"] <= total["max_ms"]
    refused = summary["security_requests"]
    assert sum(e["expected_refusals"] for e in refused.values()) >= 50  # 429/413/415/404 of the checks
    assert sum(e["failures"] for e in refused.values()) == 0

    security = json.loads((folder / "security.json").read_text())
    smoke_checks = load_profile("smoke").security.checks  # C04, C06, C09, C22 are the security profile's
    assert {c["id"] for c in security} == set(smoke_checks) and len(smoke_checks) >= 19
    failed = [c for c in security if c["verdict"] != "pass"]
    assert not failed, json.dumps(failed, indent=1)[:3000]
    by_id = {c["id"]: c["observed"] for c in security}
    assert by_id["C02"]["db_bad_password_rows"] <= by_id["C02"]["T"]  # ground truth from the database
    assert by_id["C16"]["db_status"] == "paid" and by_id["C16"]["applied"] <= 1
    assert by_id["L01"]["acknowledged"] >= 20 and by_id["L01"]["missing_from_db"] == []

    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["kind"] == "load" and manifest["embedded_portal"] and manifest["exit_code"] == 0

    check = dvclab(
        "check",
        str(folder),
        "--thresholds",
        str(CORRECTNESS),
        "--junit",
        str(tmp_path / "junit.xml"),
        "--summary",
        str(tmp_path / "summary.md"),
    )
    assert check.returncode == 0, check.stdout[-3000:]
    headline = (tmp_path / "summary.md").read_text().splitlines()[0]
    assert "PASS" in headline and " 0 failed" in headline and "skipped" not in headline, headline


@pytest.mark.slow
def test_distributed_run_merges_workers(tmp_path: Path, sim_run: Path) -> None:
    profile = write_profile(
        tmp_path,
        name="distributed",
        # A simulated day replayed in 12 s (its ~500 portal filings x 0.06): the forecast shape end to end.
        shape={"kind": "forecast", "wall_time": "12s", "multiplier": 0.06},
        think_time={"min": "10ms", "max": "50ms"},
        journey_slots=24,
        drain="6s",
        security={"checks": ["C07", "C14", "L01"], "start_after": "1s"},
    )
    result = dvclab(
        "load",
        "run",
        str(profile),
        "--processes",
        "2",
        "--from-sim",
        str(sim_run),
        "--results",
        str(tmp_path / "load"),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    folder = _only_run(tmp_path / "load")
    summary = json.loads((folder / "summary.json").read_text())
    total = summary["total"]
    # Both workers' schedules and histograms arrived: ~45 journeys scheduled, every request in the HDR.
    assert 20 <= total["scheduled"] <= 80 and total["dropped"] == 0
    assert summary["journeys"]["scheduled"]["citizen_online"] > summary["journeys"]["scheduled"]["tracker"]
    assert total["requests"] == sum(e["requests"] for e in summary["endpoints"].values())
    assert total["p99_ms"] is not None
    security = {c["id"]: c for c in json.loads((folder / "security.json").read_text())}
    assert all(c["verdict"] == "pass" for c in security.values()), security
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["processes"] == 2 and manifest["from_sim"] == str(sim_run)
