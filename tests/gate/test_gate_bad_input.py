"""Bad input exits 2 with one line on stderr naming what is wrong, and never a traceback."""

from __future__ import annotations

import json

import pytest
from gate_builders import SIM_BENCH, write_bench, write_load_run, write_sim_run


def _bad(check, *args) -> str:
    assert check(*args) == 2
    assert "Traceback" not in check.stderr
    assert len(check.stderr.strip().splitlines()) == 1
    assert not check.junit.exists()  # nothing is judged on bad input
    return check.stderr


def test_malformed_rule_names_its_entry(tmp_path, thresholds, check):
    run = write_load_run(tmp_path / "r")
    err = _bad(check, run, "--thresholds", thresholds('load:\n  "*": ["p95_ms < 300", "p95_ms <> 3"]\n'))
    assert "load.*[1]: 'p95_ms <> 3' is not '<metric> <op> <number>'" in err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("laod: {}\n", "laod: unknown key 'laod'"),
        (
            "load:\n  total: [{rule: 'p95_ms < 3', abort_on_fial: true}]\n",
            "load.total[0].abort_on_fial: unknown key",
        ),
        (
            "load:\n  total: [{rule: 'p95_ms < 3', abort_on_fail: true, for: 10 parsecs}]\n",
            "load.total[0]: for:",
        ),
        ("load:\n  total: [{rule: 'p95_ms < 3', for: 10s}]\n", "load.total[0]: 'for' only makes sense with"),
        (
            "sim:\n  x: [{rule: 'overdue_rate < 3', abort_on_fail: true}]\n",
            "sim.x[0]: abort_on_fail applies only",
        ),
        ("security: 'violations == 0'\n", "security: Input should be a valid list"),
        ("bench: ['dossiers_per_s >> 1']\n", "bench[0]: 'dossiers_per_s >> 1' is not"),
        ("load: [\n", "thresholds.yaml, line 2, column 1: not valid YAML"),
        ("- p95_ms < 300\n", "top level: expected a mapping"),
    ],
)
def test_malformed_thresholds_file(tmp_path, thresholds, check, text, expected):
    run = write_load_run(tmp_path / "r")
    assert expected in _bad(check, run, "--thresholds", thresholds(text))


def test_unknown_load_metric_is_caught_before_any_run(tmp_path, thresholds, check):
    run = write_load_run(tmp_path / "r")
    err = _bad(check, run, "--thresholds", thresholds('load:\n  "*": ["p95 < 300"]\n'))
    assert "load.*[0]: unknown metric 'p95'" in err and "p95_ms" in err
    err = _bad(check, run, "--thresholds", thresholds("load:\n  total: ['achieved_rsp > 3']\n"))
    assert "load.total[0]: unknown metric 'achieved_rsp'" in err
    err = _bad(check, run, "--thresholds", thresholds("security: ['violation == 0']\n"))
    assert "security[0]: unknown metric 'violation'" in err


def test_unknown_sim_metric_names_the_kpis_file_and_a_close_name(tmp_path, thresholds, check):
    run = write_sim_run(tmp_path / "nd-1")
    err = _bad(check, run, "--thresholds", thresholds("sim:\n  nam-dinh-2024: ['overdue_rat < 0.03']\n"))
    assert "sim.nam-dinh-2024[0]: unknown metric 'overdue_rat'" in err
    assert "kpis.json" in err and "overdue_rate" in err
    err = _bad(
        check, run, "--thresholds", thresholds("sim:\n  nam-dinh-2024: ['overdue_rate.ci_mid < 0.03']\n")
    )
    assert "unknown metric 'overdue_rate.ci_mid'" in err


def test_catalogued_sim_kpi_missing_from_a_run_is_bad_input(tmp_path, thresholds, check):
    kpis = {"overdue_rate": {"mean": 0.02, "ci_low": 0.01, "ci_high": 0.03, "unit": "fraction"}}
    run = write_sim_run(tmp_path / "nd-1", kpis=kpis)
    err = _bad(check, run, "--thresholds", thresholds("sim:\n  nam-dinh-2024: ['on_time_rate > 0.96']\n"))
    assert "sim.nam-dinh-2024[0]: unknown metric 'on_time_rate'" in err and "kpis.json" in err


def test_unknown_sim_metric_without_a_run_to_look_in(tmp_path, thresholds, check):
    run = write_load_run(tmp_path / "r")
    err = _bad(check, run, "--thresholds", thresholds("sim:\n  nam-dinh-2024: ['overdue < 0.03']\n"))
    assert "sim.nam-dinh-2024[0]: unknown metric 'overdue'" in err
    # a catalogued KPI (or dotted family) of an absent scenario is only skipped
    rules = "sim:\n  nam-dinh-2024: ['overdue_rate_by_level.commune.ci_high < 0.03']\n"
    assert check(run, "--thresholds", thresholds(rules)) == 0
    rules = "sim:\n  nam-dinh-2024: ['utilisation_max.district.land < 1']\n"  # the busiest unit of a pool
    assert check(run, "--thresholds", thresholds(rules)) == 0


def test_unknown_bench_metric(tmp_path, thresholds, check):
    bench = tmp_path / "bench"
    write_bench(bench, "sim", SIM_BENCH)
    err = _bad(check, bench, "--thresholds", thresholds("bench: ['dossier_per_s > 1']\n"))
    assert "bench[0]: unknown metric 'dossier_per_s'" in err
    err = _bad(check, bench, "--thresholds", thresholds("bench:\n  sim: ['dossier_per_s > 1']\n"))
    assert "bench.sim[0]: unknown metric 'dossier_per_s'" in err and "dossiers_per_s" in err


def test_missing_results_folder(tmp_path, thresholds, check):
    err = _bad(check, tmp_path / "nowhere", "--thresholds", thresholds("security: ['violations == 0']\n"))
    assert "nowhere: no such results folder" in err


def test_folder_without_results(tmp_path, thresholds, check):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    err = _bad(check, tmp_path / "empty", "--thresholds", thresholds("security: ['violations == 0']\n"))
    assert "no results found" in err


@pytest.mark.parametrize("missing", ["security.json", "summary.json"])
def test_load_run_missing_one_contract_file(tmp_path, thresholds, check, missing):
    run = write_load_run(tmp_path / "r")
    (run / missing).unlink()
    err = _bad(check, run, "--thresholds", thresholds("security: ['violations == 0']\n"))
    assert f"{missing}: missing results file" in err


def test_sim_run_missing_its_manifest(tmp_path, thresholds, check):
    run = write_sim_run(tmp_path / "nd-1")
    (run / "manifest.json").unlink()
    assert "manifest.json: missing results file" in _bad(check, run, "--thresholds", thresholds("sim: {}\n"))


def test_missing_thresholds_file(tmp_path, check):
    run = write_load_run(tmp_path / "r")
    assert "thresholds file not found" in _bad(check, run, "--thresholds", tmp_path / "nope.yaml")


def test_summary_breaking_its_contract_names_the_field(tmp_path, thresholds, check):
    run = write_load_run(tmp_path / "r")
    summary = json.loads((run / "summary.json").read_text())
    del summary["endpoints"]["GET /api/v1/procedures"]["p95_ms"]
    (run / "summary.json").write_text(json.dumps(summary))
    err = _bad(check, run, "--thresholds", thresholds("security: ['violations == 0']\n"))
    assert "summary.json: endpoints.GET /api/v1/procedures.p95_ms: Field required" in err


def test_security_verdict_must_be_pass_or_fail(tmp_path, thresholds, check):
    bad = [{"id": "C01", "name": "n", "invariant": "i", "observed": 1, "verdict": "maybe"}]
    run = write_load_run(tmp_path / "r", checks=bad)
    err = _bad(check, run, "--thresholds", thresholds("security: ['violations == 0']\n"))
    assert "security.json: [0].verdict: 'maybe' is not one of 'pass', 'fail', 'not run'" in err


def test_bad_tolerance(tmp_path, thresholds, check):
    run = write_load_run(tmp_path / "r")
    err = _bad(check, run, "--thresholds", thresholds("security: []\n"), "--tolerance", "lots")
    assert "--tolerance" in err
