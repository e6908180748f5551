"""Builders of small results folders, written to the contracts the gate reads (loadtests/README.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def endpoint(
    requests: int = 1000, failures: int = 0, p95_ms: float = 120.0, **extra: float
) -> dict[str, Any]:
    stats = {
        "requests": requests,
        "failures": failures,
        "rps": requests / 60,
        "p50_ms": p95_ms / 3,
        "p90_ms": p95_ms * 0.8,
        "p95_ms": p95_ms,
        "p99_ms": p95_ms * 1.5,
        "p999_ms": p95_ms * 2,
        "max_ms": p95_ms * 3,
    }
    return stats | extra


def write_load_run(
    folder: Path,
    endpoints: dict[str, dict[str, Any]] | None = None,
    total: dict[str, Any] | None = None,
    checks: list[dict[str, Any]] | None = None,
    profile: str = "smoke",
) -> Path:
    endpoints = (
        endpoints
        if endpoints is not None
        else {
            "GET /api/v1/procedures": endpoint(),
            "POST /api/v1/dossiers": endpoint(requests=200, p95_ms=180.0),
        }
    )
    requests = sum(stats["requests"] for stats in endpoints.values())
    base_total = {
        "requests": requests,
        "failures": sum(stats["failures"] for stats in endpoints.values()),
        "rps": requests / 60,
        "p95_ms": 150.0,
        "offered_rps": 20.0,
        "achieved_rps": 20.0,
        "scheduled": 1200,
        "dropped": 0,
        "duration_s": 60.0,
    }
    checks = (
        checks
        if checks is not None
        else [
            {
                "id": "C01",
                "name": "limiter is global",
                "invariant": "2xx <= L per key per window",
                "observed": "2xx = 60 of L = 60",
                "verdict": "pass",
            },
            {
                "id": "C13",
                "name": "BOLA",
                "invariant": "0 2xx on foreign objects",
                "observed": "0 of 120",
                "verdict": "pass",
            },
        ]
    )
    folder.mkdir(parents=True, exist_ok=True)
    summary = {"schema": 1, "profile": profile, "endpoints": endpoints, "total": base_total | (total or {})}
    (folder / "summary.json").write_text(json.dumps(summary))
    (folder / "security.json").write_text(json.dumps(checks))
    return folder


def kpi(mean: float, half_width: float = 0.0, unit: str = "") -> dict[str, Any]:
    return {"mean": mean, "ci_low": mean - half_width, "ci_high": mean + half_width, "unit": unit}


NAM_DINH_KPIS: dict[str, dict[str, Any]] = {
    "dossiers": kpi(1_000_000, 2000, "dossiers"),
    "overdue_rate": kpi(0.021, 0.004),
    "on_time_rate": kpi(0.979, 0.004),
    "early_rate": kpi(0.41, 0.01),
    "reported_online_rate": kpi(0.962, 0.002),
    "self_service_online_rate": kpi(0.53, 0.01),
    "online_payment_rate": kpi(0.9, 0.01),
    "digitised_rate": kpi(0.8, 0.01),
    "counter_wait_mean_min": kpi(12.0, 1.0, "min"),
    "overdue_rate_by_group.land": kpi(0.1, 0.02),
    "utilisation.district.land": kpi(0.85, 0.02),
}


def write_sim_run(
    folder: Path,
    kpis: dict[str, Any] | None = None,
    scenario: str = "nam-dinh-2024",
    horizon_days: int = 366,  # a whole (leap) year, as the calibration targets assume
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {"kind": "sim", "scenario_name": scenario, "seed": 1, "horizon_days": horizon_days}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "kpis.json").write_text(json.dumps(kpis if kpis is not None else NAM_DINH_KPIS))
    return folder


def write_bench(folder: Path, name: str, metrics: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(metrics))
    return path


SIM_BENCH = {
    "province_year_seconds": 40.0,
    "dossiers_per_s": 25_000.0,
    "peak_rss_mib": 300.0,
    "mmc_customers_per_s": 400_000.0,
    "ciw_customers_per_s": 50_000.0,
    "ratio_vs_ciw": 8.0,
}
