"""Readers for the results the gate checks: load runs, simulation runs and benchmark files.

The files are contracts between writers built elsewhere (the Locust runner, ``dvclab sim run``, the
benchmarks) and this gate; ``loadtests/README.md`` documents each layout. Anything that breaks a
contract raises :class:`ResultsError` naming the file and field, which the CLI turns into exit 2.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from dvclab.gate.metrics import (
    FAIL,
    NOT_RUN,
    SIM_STATS,
    VERDICTS,
    Metrics,
    endpoint_metrics,
    is_number,
    security_metrics,
    total_metrics,
)

SUMMARY_FILE = "summary.json"
SECURITY_FILE = "security.json"
KPIS_FILE = "kpis.json"
MANIFEST_FILE = "manifest.json"
BENCH_DIR = "bench"
# Folders under a results root that hold no run: our own outputs and committed baselines.
SKIPPED_DIRS = frozenset({"check", "baselines"})


class ResultsError(ValueError):
    """A results folder or file is missing or breaks its contract."""


# --- summary.json / security.json ---------------------------------------------------------------------
class _Strict(BaseModel):
    # Writers may add fields; the gate ignores what it does not know rather than refusing the run.
    model_config = ConfigDict(extra="allow")


class EndpointStats(_Strict):
    requests: int
    failures: int
    rps: float
    p50_ms: float | None
    p90_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    p999_ms: float | None
    max_ms: float | None


class TotalStats(_Strict):
    requests: int
    failures: int
    offered_rps: float
    achieved_rps: float
    scheduled: int
    dropped: int
    rps: float | None = None
    p50_ms: float | None = None
    p90_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    p999_ms: float | None = None
    max_ms: float | None = None
    duration_s: float | None = None
    generator_cpu_max_pct: float | None = None


class LoadSummary(_Strict):
    profile: str | None = None
    endpoints: dict[str, EndpointStats]
    total: TotalStats


class SecurityCheck(_Strict):
    id: str
    name: str
    invariant: str
    observed: Any
    verdict: str
    reason: str | None = None  # why a "not run" check did not run


@dataclass(frozen=True)
class LoadRun:
    """One ``results/load/<run>/`` folder."""

    folder: Path
    profile: str
    endpoints: dict[str, Metrics]
    total: Metrics
    checks: list[SecurityCheck]
    # manifest.json's "interrupted" record ({signal, after_s}) when SIGINT/SIGTERM stopped the run early:
    # its files hold partial results, which the gate never counts as a pass.
    interrupted: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return self.folder.name

    def security_metrics(self) -> Metrics:
        return security_metrics(check.verdict for check in self.checks)

    def failed_checks(self) -> list[SecurityCheck]:
        return [check for check in self.checks if check.verdict == FAIL]

    def not_run_checks(self) -> list[SecurityCheck]:
        return [check for check in self.checks if check.verdict == NOT_RUN]


# --- kpis.json / manifest.json ------------------------------------------------------------------------
class Kpi(_Strict):
    mean: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    unit: str | None = None

    @field_validator("mean", "ci_low", "ci_high")
    @classmethod
    def _nan_is_no_data(cls, value: float | None) -> float | None:
        # The simulation writes NaN for a rate with no denominator (no land dossier finished, say).
        return None if value is not None and math.isnan(value) else value


class SimManifest(_Strict):
    kind: str = "sim"
    scenario_name: str
    horizon_days: float | None = None


@dataclass(frozen=True)
class SimRun:
    """One ``results/sim/<run>/`` folder."""

    folder: Path
    scenario_name: str
    kpis: dict[str, Kpi]
    horizon_days: float | None = None  # the simulated period after the warm-up

    @property
    def name(self) -> str:
        return self.folder.name

    def resolve(self, metric: str) -> tuple[str, str] | None:
        """``overdue_rate`` → (overdue_rate, mean); ``overdue_rate.ci_high`` → (overdue_rate, ci_high)."""
        if metric in self.kpis:
            return metric, "mean"
        kpi, _, stat = metric.rpartition(".")
        if stat in SIM_STATS and kpi in self.kpis:
            return kpi, stat
        return None

    def value(self, metric: str) -> float | None:
        kpi, stat = self.resolve(metric) or (None, None)
        if kpi is None or stat is None:
            raise KeyError(metric)
        return getattr(self.kpis[kpi], stat)


# --- bench/*.json -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BenchFile:
    """One flat benchmark file, e.g. ``results/bench/sim.json``."""

    path: Path
    metrics: Metrics

    @property
    def stem(self) -> str:
        return self.path.stem


@dataclass
class Results:
    load: list[LoadRun] = field(default_factory=list)
    sim: list[SimRun] = field(default_factory=list)
    bench: list[BenchFile] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.load or self.sim or self.bench)


# --- reading ------------------------------------------------------------------------------------------
def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{path}: missing results file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ResultsError(f"{path}: not readable JSON ({error})") from None


def _validate(model: type[BaseModel], data: Any, path: Path, prefix: str = "") -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = prefix + ".".join(str(part) for part in first["loc"])
        raise ResultsError(f"{path}: {where or 'top level'}: {first['msg']}") from None


def read_load_run(folder: Path) -> LoadRun:
    summary_path, security_path = folder / SUMMARY_FILE, folder / SECURITY_FILE
    summary: LoadSummary = _validate(LoadSummary, _read_json(summary_path), summary_path)
    raw_checks = _read_json(security_path)
    if isinstance(raw_checks, dict) and "checks" in raw_checks:
        raw_checks = raw_checks["checks"]
    if not isinstance(raw_checks, list):
        raise ResultsError(f"{security_path}: expected a list of checks")
    checks = [
        _validate(SecurityCheck, raw, security_path, prefix=f"[{index}].")
        for index, raw in enumerate(raw_checks)
    ]
    for index, check in enumerate(checks):
        if check.verdict not in VERDICTS:
            raise ResultsError(
                f"{security_path}: [{index}].verdict: {check.verdict!r} is not one of "
                + ", ".join(repr(v) for v in VERDICTS)
            )
    return LoadRun(
        folder=folder,
        profile=summary.profile or folder.name,
        endpoints={name: endpoint_metrics(stats.model_dump()) for name, stats in summary.endpoints.items()},
        total=total_metrics(summary.total.model_dump()),
        checks=checks,
        interrupted=_interruption(folder / MANIFEST_FILE),
    )


def _interruption(path: Path) -> dict[str, Any] | None:
    """The runner's manifest says ``"status": "interrupted"``: how (signal, seconds in), else None. The
    manifest is optional for a load run (other writers need not produce one)."""
    if not path.is_file():
        return None
    manifest = _read_json(path)
    if not isinstance(manifest, dict) or manifest.get("status") != "interrupted":
        return None
    how = manifest.get("interrupted")
    return how if isinstance(how, dict) else {}


def read_sim_run(folder: Path) -> SimRun:
    manifest_path, kpis_path = folder / MANIFEST_FILE, folder / KPIS_FILE
    manifest: SimManifest = _validate(SimManifest, _read_json(manifest_path), manifest_path)
    if manifest.kind != "sim":
        raise ResultsError(f"{manifest_path}: kind: {manifest.kind!r} beside kpis.json, expected 'sim'")
    raw = _read_json(kpis_path)
    if not isinstance(raw, dict):
        raise ResultsError(
            f"{kpis_path}: expected an object mapping KPI names to {{mean, ci_low, ci_high, unit}}"
        )
    kpis = {name: _validate(Kpi, value, kpis_path, prefix=f"{name}.") for name, value in raw.items()}
    return SimRun(
        folder=folder, scenario_name=manifest.scenario_name, kpis=kpis, horizon_days=manifest.horizon_days
    )


def read_bench_file(path: Path) -> BenchFile:
    raw = _read_json(path)
    if not isinstance(raw, dict):
        raise ResultsError(f"{path}: expected a flat object of numbers")
    metrics: Metrics = {
        name: float(value) for name, value in raw.items() if is_number(value) and math.isfinite(value)
    }
    return BenchFile(path=path, metrics=metrics)


def _is_sim_manifest(path: Path) -> bool:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("kind") == "sim"
    except (OSError, ValueError, AttributeError):
        return False


def _skipped_dir(name: str) -> bool:
    """Hidden folders, runs still being written (staged as ``*.partial``), our outputs, baselines."""
    return name.startswith(".") or name.endswith((".partial", ".tmp")) or name in SKIPPED_DIRS


def _walk(root: Path) -> Iterable[tuple[Path, set[str]]]:
    for current, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not _skipped_dir(d))
        yield Path(current), set(files)


def discover(paths: Iterable[Path]) -> Results:
    """Every run under the given folders: each may be one run's folder or a parent of several."""
    results = Results()
    seen: set[Path] = set()
    for root in paths:
        if not root.is_dir():
            raise ResultsError(f"{root}: {'not a folder' if root.exists() else 'no such results folder'}")
        found = False
        for folder, files in _walk(root):
            is_load = SUMMARY_FILE in files or SECURITY_FILE in files
            is_sim = KPIS_FILE in files or (
                MANIFEST_FILE in files and _is_sim_manifest(folder / MANIFEST_FILE)
            )
            bench = (
                sorted(name for name in files if name.endswith(".json")) if folder.name == BENCH_DIR else []
            )
            found = found or is_load or is_sim or bool(bench)
            if folder.resolve() in seen:  # the same run reached through two overlapping arguments
                continue
            seen.add(folder.resolve())
            if is_load:
                results.load.append(read_load_run(folder))
            if is_sim:
                results.sim.append(read_sim_run(folder))
            results.bench.extend(read_bench_file(folder / name) for name in bench)
        if not found:
            raise ResultsError(
                f"{root}: no results found (looked for {SUMMARY_FILE}, {KPIS_FILE} and {BENCH_DIR}/*.json)"
            )
    return results
