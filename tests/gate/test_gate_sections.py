"""Passing and failing rules in each section, judged through `dvclab check` and its exit code."""

from __future__ import annotations

from gate_builders import NAM_DINH_KPIS, SIM_BENCH, endpoint, write_bench, write_load_run, write_sim_run

LOAD_RULES = """
load:
  "*":
    - "p95_ms < 300"
    - "fail_ratio < 0.01"
  total:
    - "achieved_rps > 10"
    - "dropped_ratio < 0.01"
"""


def test_load_run_within_thresholds_passes(tmp_path, thresholds, check):
    run = write_load_run(tmp_path / "results" / "load" / "smoke-1")
    assert check(run, "--thresholds", thresholds(LOAD_RULES)) == 0
    assert "PASS" in check.stdout and "6 passed" in check.stdout  # 2 endpoints × 2 + total × 2


def test_slow_endpoint_fails_and_is_named(tmp_path, thresholds, check):
    run = write_load_run(
        tmp_path / "smoke-1",
        endpoints={"GET /api/v1/procedures": endpoint(), "POST /api/v1/dossiers": endpoint(p95_ms=450.0)},
    )
    assert check(run, "--thresholds", thresholds(LOAD_RULES)) == 1
    assert "POST /api/v1/dossiers" in check.summary.read_text()
    assert "450" in check.summary.read_text()


def test_fail_ratio_is_derived_from_failures_over_requests(tmp_path, thresholds, check):
    # 11 failures in 1000 requests is 1.1 %: over a 1 % limit, though each count alone looks small.
    run = write_load_run(tmp_path / "smoke-1", endpoints={"GET /x": endpoint(requests=1000, failures=11)})
    assert check(run, "--thresholds", thresholds('load: {"*": ["fail_ratio < 0.01"]}')) == 1
    run = write_load_run(tmp_path / "smoke-2", endpoints={"GET /x": endpoint(requests=1000, failures=9)})
    assert check(run, "--thresholds", thresholds('load: {"*": ["fail_ratio < 0.01"]}')) == 0


def test_dropped_ratio_and_achieved_rps_in_total(tmp_path, thresholds, check):
    run = write_load_run(
        tmp_path / "r", total={"scheduled": 1000, "dropped": 50, "achieved_rps": 12.0, "rps": None}
    )
    rules = thresholds("load:\n  total: ['dropped_ratio < 0.01']\n")
    assert check(run, "--thresholds", rules) == 1
    assert "0.05" in check.stdout
    rules = thresholds("load:\n  total: ['achieved_rps > 50']\n")
    assert check(run, "--thresholds", rules) == 1
    rules = thresholds("load:\n  total: ['achieved_rps > 10', 'achieved_ratio < 0.7', 'rps == 12']\n")
    assert check(run, "--thresholds", rules) == 0


def test_named_endpoint_rule_applies_only_to_that_endpoint(tmp_path, thresholds, check):
    run = write_load_run(
        tmp_path / "r", endpoints={"GET /fast": endpoint(p95_ms=50.0), "GET /slow": endpoint(p95_ms=900.0)}
    )
    assert check(run, "--thresholds", thresholds('load:\n  "GET /fast": ["p95_ms < 100"]\n')) == 0
    assert check(run, "--thresholds", thresholds('load:\n  "GET /slow": ["p95_ms < 100"]\n')) == 1


def test_security_violation_fails_and_names_the_check(tmp_path, thresholds, check):
    checks = [
        {
            "id": "C01",
            "name": "limiter is global",
            "invariant": "2xx <= L",
            "observed": "60",
            "verdict": "pass",
        },
        {
            "id": "C16",
            "name": "callback idempotency",
            "invariant": "1 PAID transition",
            "observed": "2 PAID transitions",
            "verdict": "fail",
        },
    ]
    run = write_load_run(tmp_path / "security-1", checks=checks, profile="security")
    assert check(run, "--thresholds", thresholds("security: ['violations == 0']")) == 1
    summary = check.summary.read_text()
    assert "C16 callback idempotency: 2 PAID transitions" in summary
    assert check(run, "--thresholds", thresholds("security: ['violations <= 1', 'checks >= 2']")) == 0
    checks[1]["observed"] = {"paid_transitions": 2}
    run = write_load_run(tmp_path / "security-2", checks=checks, profile="security")
    assert check(run, "--thresholds", thresholds("security: ['violations == 0']")) == 1
    assert 'C16 callback idempotency: {"paid_transitions": 2}' in check.summary.read_text()


def test_security_all_pass(tmp_path, thresholds, check):
    run = write_load_run(tmp_path / "smoke-1")
    assert check(run, "--thresholds", thresholds("security: ['violations == 0', 'passes == 2']")) == 0


def test_sim_rule_judges_the_mean_by_default(tmp_path, thresholds, check):
    run = write_sim_run(tmp_path / "sim" / "nd-1")  # overdue_rate mean 0.021, CI 0.017..0.025
    assert check(run, "--thresholds", thresholds("sim:\n  nam-dinh-2024: ['overdue_rate < 0.022']\n")) == 0
    assert check(run, "--thresholds", thresholds("sim:\n  nam-dinh-2024: ['overdue_rate < 0.02']\n")) == 1


def test_sim_rule_on_a_confidence_bound(tmp_path, thresholds, check):
    run = write_sim_run(tmp_path / "sim" / "nd-1")
    rules = "sim:\n  nam-dinh-2024: ['overdue_rate.ci_high < 0.022']\n"  # mean passes, the bound does not
    assert check(run, "--thresholds", thresholds(rules)) == 1
    assert "0.025" in check.stdout
    rules = "sim:\n  nam-dinh-2024: ['overdue_rate.ci_low > 0.015', 'on_time_rate.mean > 0.96']\n"
    assert check(run, "--thresholds", thresholds(rules)) == 0


def test_sim_dotted_kpis_and_wildcard_scenario(tmp_path, thresholds, check):
    run = write_sim_run(tmp_path / "sim" / "nd-1")
    rules = "sim:\n  '*': ['overdue_rate_by_group.land < 0.15', 'utilisation.district.land.ci_high < 0.8']\n"
    assert check(run, "--thresholds", thresholds(rules)) == 1  # utilisation 0.85 + 0.02 breaks 0.8


def test_sim_rules_only_apply_to_their_scenario(tmp_path, thresholds, check):
    write_sim_run(tmp_path / "sim" / "other", scenario="ninh-binh-2025")
    rules = thresholds("sim:\n  nam-dinh-2024: ['overdue_rate < 0.0001']\n")
    assert check(tmp_path / "sim", "--thresholds", rules) == 0  # nothing of nam-dinh-2024 ran: skipped
    assert "skipped" in check.stdout and "no rules for scenario 'ninh-binh-2025'" in check.stdout


def test_bench_list_and_per_file_rules(tmp_path, thresholds, check):
    bench = tmp_path / "results" / "bench"
    write_bench(bench, "sim", SIM_BENCH)
    write_bench(bench, "portal", {"login_p95_ms": 80.0, "python": "3.11"})
    rules = "bench:\n  - 'dossiers_per_s > 15000'\n  - 'login_p95_ms < 100'\n"
    assert check(tmp_path / "results", "--thresholds", thresholds(rules)) == 0
    assert check(bench, "--thresholds", thresholds("bench:\n  sim: ['ratio_vs_ciw >= 10']\n")) == 1


def test_every_section_together_over_a_results_root(tmp_path, thresholds, check):
    root = tmp_path / "results"
    write_load_run(root / "load" / "smoke-1")
    write_sim_run(root / "sim" / "nd-1")
    write_bench(root / "bench", "sim", SIM_BENCH)
    rules = thresholds(
        LOAD_RULES + "security: ['violations == 0']\nsim:\n  nam-dinh-2024: ['on_time_rate > 0.96']\n"
        "bench: ['dossiers_per_s > 15000']\n"
    )
    assert check(root, "--thresholds", rules) == 0
    assert "9 passed, 0 failed" in check.stdout


def test_absent_section_is_skipped_not_passed(tmp_path, thresholds, check):
    run = write_load_run(tmp_path / "smoke-1")
    rules = thresholds(LOAD_RULES + "sim:\n  nam-dinh-2024: ['overdue_rate < 0.03']\n")
    assert check(run, "--thresholds", rules) == 0
    assert "1 skipped" in check.stdout
    assert "skipped" in check.summary.read_text() and "no results" in check.summary.read_text()
    assert check(run, "--thresholds", rules, "--require-all") == 2
    assert "--require-all" in check.stderr


def test_endpoint_without_requests_has_no_data(tmp_path, thresholds, check):
    idle = endpoint(requests=0) | {
        f: None for f in ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms")
    }
    run = write_load_run(tmp_path / "r", endpoints={"GET /idle": idle})
    assert check(run, "--thresholds", thresholds(LOAD_RULES)) == 0
    assert "no data" in check.summary.read_text()


def test_a_percentile_of_too_few_requests_is_not_judged(tmp_path, thresholds, check):
    # The 95th percentile of 8 requests is the slowest of them: not evidence for or against the endpoint.
    run = write_load_run(tmp_path / "r", endpoints={"GET /stats": endpoint(requests=8, p95_ms=900.0)})
    assert check(run, "--thresholds", thresholds('load: {"*": ["p95_ms < 300", "p50_ms < 400"]}')) == 0
    summary = check.summary.read_text()
    assert "too few requests (8; p95_ms needs at least 20)" in summary
    assert "1 passed" in check.stdout  # the median of 8 is judged
    run = write_load_run(tmp_path / "r20", endpoints={"GET /stats": endpoint(requests=20, p95_ms=900.0)})
    assert check(run, "--thresholds", thresholds('load: {"*": ["p95_ms < 300"]}')) == 1


def test_min_samples_overrides_the_percentile_default(tmp_path, thresholds, check):
    run = write_load_run(tmp_path / "r", endpoints={"GET /x": endpoint(requests=40, failures=4)})
    rules = 'load: {"*": [{rule: "fail_ratio < 0.05", min_samples: 50}]}'
    assert check(run, "--thresholds", thresholds(rules)) == 0
    assert "too few requests (40; min_samples: 50)" in check.summary.read_text()
    rules = 'load: {"*": [{rule: "fail_ratio < 0.05", min_samples: 40}]}'
    assert check(run, "--thresholds", thresholds(rules)) == 1


def test_an_annual_target_is_not_judged_on_a_shorter_run(tmp_path, thresholds, check):
    late = {**NAM_DINH_KPIS, "overdue_rate": {"mean": 0.05, "ci_low": 0.04, "ci_high": 0.06, "unit": ""}}
    rules = thresholds("sim:\n  nam-dinh-2024: [{rule: 'overdue_rate < 0.03', min_horizon_days: 365}]\n")
    assert check(write_sim_run(tmp_path / "q1", kpis=late, horizon_days=90), "--thresholds", rules) == 0
    assert "at least 365 days (this run covers 90)" in check.summary.read_text()
    assert check(write_sim_run(tmp_path / "year", kpis=late), "--thresholds", rules) == 1


def test_a_rule_option_outside_its_section_is_refused(tmp_path, thresholds, check):
    rules = thresholds("sim:\n  nam-dinh-2024: [{rule: 'overdue_rate < 0.03', min_samples: 20}]\n")
    assert check(write_sim_run(tmp_path / "r"), "--thresholds", rules) == 2
    assert "min_samples applies only to load rules" in check.stderr


def test_default_thresholds_file_is_used(tmp_path, check):
    run = write_sim_run(tmp_path / "nd-1")
    assert check(run) == 0  # scenarios/thresholds.yaml: nam-dinh-2024 calibration targets hold
    assert "overdue_rate < 0.03" in check.summary.read_text()
    late = {**NAM_DINH_KPIS, "overdue_rate": {"mean": 0.05, "ci_low": 0.04, "ci_high": 0.06, "unit": ""}}
    write_sim_run(tmp_path / "nd-bad", kpis=late)
    assert check(tmp_path / "nd-bad") == 1


def test_shipped_thresholds_parse_with_their_abort_rule():
    from dvclab.gate.rules import load_thresholds
    from dvclab.paths import shipped as shipped_data

    shipped = load_thresholds(shipped_data("thresholds.yaml"))
    assert shipped.sim["nam-dinh-2024"] and shipped.bench["sim"]
    assert any(rule.abort_on_fail and rule.for_s == 10 for rule in shipped.load["total"])


def test_load_rules_without_any_load_run_are_skipped(tmp_path, thresholds, check):
    run = write_sim_run(tmp_path / "nd-1")
    rules = thresholds(
        LOAD_RULES + "security: ['violations == 0']\nsim:\n  nam-dinh-2024: ['overdue_rate < 0.03']\n"
    )
    assert check(run, "--thresholds", rules) == 0
    assert "1 passed, 0 failed, 5 skipped" in check.stdout  # 4 load rules + 1 security rule
    assert check(run, "--thresholds", rules, "--require-all") == 2


def test_sim_nan_is_no_data(tmp_path, thresholds, check):
    # json.dumps writes NaN for a rate the simulation could not compute; that is no data, not a failure.
    run = write_sim_run(tmp_path / "nd-1")
    text = (run / "kpis.json").read_text().replace('"mean": 0.1,', '"mean": NaN,')
    (run / "kpis.json").write_text(text)
    rules = thresholds("sim:\n  nam-dinh-2024: ['overdue_rate_by_group.land < 0.15']\n")
    assert check(run, "--thresholds", rules) == 0
    assert "no data" in check.summary.read_text()


def test_sim_family_member_missing_from_a_run_is_skipped(tmp_path, thresholds, check):
    # ninh-binh-2025 has no district level: a rule on it is not evaluated there, and says so.
    run = write_sim_run(tmp_path / "nd-1")
    rules = thresholds("sim:\n  '*': ['overdue_rate_by_level.district < 0.05', 'overdue_rate < 0.03']\n")
    assert check(run, "--thresholds", rules) == 0
    assert "not reported by this run" in check.summary.read_text()
    assert check(run, "--thresholds", rules, "--require-all") == 2


def test_walk_skips_outputs_baselines_and_runs_being_written(tmp_path, thresholds, check):
    root = tmp_path / "results"
    write_load_run(root / "load" / "smoke-1")
    for skipped in ("check", "baselines", ".staging", "sim/run-2.partial"):
        (root / skipped).mkdir(parents=True)
        (root / skipped / "kpis.json").write_text("{ half written")  # would be bad input if read
    assert check(root, "--thresholds", thresholds("security: ['violations == 0']\n")) == 0
    # named directly, a baseline folder is read
    write_sim_run(root / "baselines" / "nd-1")
    assert check(root / "baselines" / "nd-1", "--thresholds", thresholds("sim: {}\n")) == 0
