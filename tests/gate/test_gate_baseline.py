"""--write-baseline / --baseline: each regression beyond the tolerance is named, in its direction."""

from __future__ import annotations

import json

from gate_builders import NAM_DINH_KPIS, SIM_BENCH, endpoint, kpi, write_bench, write_load_run, write_sim_run

from dvclab.gate.metrics import HIGHER_BETTER, HIGHER_WORSE, NEUTRAL, direction

NO_RULES = "security: []\n"


def _baseline(tmp_path, check, thresholds, results) -> object:
    path = tmp_path / "baseline.json"
    assert check(results, "--thresholds", thresholds(NO_RULES), "--write-baseline", path) == 0
    return path


def test_written_baseline_uses_stable_keys(tmp_path, thresholds, check):
    write_load_run(tmp_path / "before" / "smoke-20261126T2200")
    write_sim_run(tmp_path / "before" / "nd-1")
    path = _baseline(tmp_path, check, thresholds, tmp_path / "before")
    stored = json.loads(path.read_text())
    assert stored["schema"] == 1
    assert stored["subjects"]["load/smoke/total"]["achieved_rps"] == 20.0
    assert stored["subjects"]["load/smoke/GET /api/v1/procedures"]["p95_ms"] == 120.0
    assert stored["subjects"]["sim/nam-dinh-2024"]["overdue_rate"] == 0.021
    assert stored["subjects"]["security/smoke"]["violations"] == 0


def test_same_results_have_no_regression(tmp_path, thresholds, check):
    run = write_load_run(tmp_path / "smoke-1")
    path = _baseline(tmp_path, check, thresholds, run)
    assert check(run, "--thresholds", thresholds(NO_RULES), "--baseline", path) == 0
    assert "No regression" in check.summary.read_text()


def test_latency_regression_is_named(tmp_path, thresholds, check):
    path = _baseline(tmp_path, check, thresholds, write_load_run(tmp_path / "before" / "smoke-1"))
    slower = {
        "GET /api/v1/procedures": endpoint(p95_ms=150.0),
        "POST /api/v1/dossiers": endpoint(200, 0, 185.0),
    }
    after = write_load_run(tmp_path / "after" / "smoke-2", endpoints=slower)
    assert check(after, "--thresholds", thresholds(NO_RULES), "--baseline", path) == 1
    # 120 → 150 ms is +25 %; 180 → 185 ms is +2.8 %, inside the default 10 %
    assert "load/smoke/GET /api/v1/procedures: p95_ms 120 → 150 (+25.0%, higher is worse)" in check.stdout
    assert "POST /api/v1/dossiers: p95_ms" not in check.stdout
    text = check.summary.read_text()
    assert "| load/smoke/GET /api/v1/procedures | p95_ms | 120 | 150 | +25.0% |" in text
    failure = [case for case in _junit_cases(check) if case.find("failure") is not None]
    assert len(failure) == 1 and "p95_ms 120 → 150" in failure[0].find("failure").text
    # a looser tolerance lets it through
    assert check(after, "--thresholds", thresholds(NO_RULES), "--baseline", path, "--tolerance", "30%") == 0


def _junit_cases(check):
    import xml.etree.ElementTree as ET

    return list(ET.parse(check.junit).getroot().iter("testcase"))


def test_direction_matters_for_throughput_and_rates(tmp_path, thresholds, check):
    before = tmp_path / "before"
    write_sim_run(before / "nd-1")
    write_bench(before / "bench", "sim", SIM_BENCH)
    path = _baseline(tmp_path, check, thresholds, before)
    after = tmp_path / "after"
    # Better in every way: fewer overdue, more on time, faster benchmark — no regression.
    better = {**NAM_DINH_KPIS, "overdue_rate": kpi(0.01), "on_time_rate": kpi(0.99)}
    write_sim_run(after / "nd-2", kpis=better)
    write_bench(after / "bench", "sim", {**SIM_BENCH, "dossiers_per_s": 40_000.0})
    assert check(after, "--thresholds", thresholds(NO_RULES), "--baseline", path) == 0
    # Worse: throughput halved, on-time rate unchanged within tolerance, overdue up 50 %.
    worse = {**NAM_DINH_KPIS, "overdue_rate": kpi(0.0315)}
    write_sim_run(after / "nd-2", kpis=worse)
    write_bench(after / "bench", "sim", {**SIM_BENCH, "dossiers_per_s": 12_500.0})
    assert check(after, "--thresholds", thresholds(NO_RULES), "--baseline", path) == 1
    assert "bench/sim: dossiers_per_s 25000 → 12500 (-50.0%, higher is better)" in check.stdout
    assert "sim/nam-dinh-2024: overdue_rate 0.021 → 0.0315 (+50.0%, higher is worse)" in check.stdout


def test_regression_from_zero(tmp_path, thresholds, check):
    path = _baseline(tmp_path, check, thresholds, write_load_run(tmp_path / "before" / "smoke-1"))
    failing = [{"id": "C13", "name": "BOLA", "invariant": "0 2xx", "observed": "1", "verdict": "fail"}]
    after = write_load_run(tmp_path / "after" / "smoke-2", checks=failing)
    assert check(after, "--thresholds", thresholds(NO_RULES), "--baseline", path) == 1
    assert "security/smoke: violations 0 → 1 (from 0, higher is worse)" in check.stdout


def test_baseline_file_problems_exit_2(tmp_path, thresholds, check):
    run = write_load_run(tmp_path / "smoke-1")
    assert check(run, "--thresholds", thresholds(NO_RULES), "--baseline", tmp_path / "none.json") == 2
    assert "baseline file not found" in check.stderr
    (tmp_path / "bad.json").write_text(json.dumps({"subject": {}}))
    assert check(run, "--thresholds", thresholds(NO_RULES), "--baseline", tmp_path / "bad.json") == 2
    assert "bad.json: subject" in check.stderr


def test_two_runs_of_one_profile_cannot_make_one_baseline(tmp_path, thresholds, check):
    write_load_run(tmp_path / "runs" / "smoke-1")
    write_load_run(tmp_path / "runs" / "smoke-2")
    code = check(
        tmp_path / "runs", "--thresholds", thresholds(NO_RULES), "--write-baseline", tmp_path / "b.json"
    )
    assert code == 2 and "load/smoke/" in check.stderr


def test_direction_table():
    assert (
        direction("p95_ms")
        == direction("fail_ratio")
        == direction("overdue_rate_by_group.land")
        == HIGHER_WORSE
    )
    assert (
        direction("achieved_rps") == direction("on_time_rate") == direction("dossiers_per_s") == HIGHER_BETTER
    )
    assert direction("ratio_vs_ciw") == direction("index_766.timeliness") == HIGHER_BETTER
    assert (
        direction("requests") == direction("offered_rps") == direction("utilisation.district.land") == NEUTRAL
    )
