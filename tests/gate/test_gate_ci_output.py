"""What CI and people read from `dvclab check`: stable JUnit names, failures first with units, k6-style
percentiles, the terminal formats and the "did you mean" on misspelt names."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET

import pytest
from gate_builders import endpoint, write_load_run, write_sim_run

from dvclab.gate.rules import parse_rule

RULES = """
load:
  "*": ["p(95) < 300"]
  total: ["p(99.9) < 1000", "fail_ratio < 0.01"]
sim:
  nam-dinh-2024: ["overdue_rate < 0.03", "on_time_rate > 0.999"]
"""


def _case_ids(junit) -> list[tuple[str, str]]:
    return [(c.get("classname"), c.get("name")) for c in ET.parse(junit).getroot().iter("testcase")]


def test_junit_names_do_not_change_from_build_to_build(tmp_path, thresholds, check):
    rules = thresholds(RULES)
    ids = []
    for stamp in ("20260101T000000Z", "20260102T093000Z"):  # two builds, two timestamped folders
        load = write_load_run(tmp_path / stamp / "load" / f"smoke-{stamp}")
        sim = write_sim_run(tmp_path / stamp / "sim" / f"nam-dinh-2024-{stamp}")
        check(load, sim, "--thresholds", rules)
        ids.append(_case_ids(check.junit))
    assert ids[0] == ids[1]
    assert ("dvclab.check.load.smoke", "total: p999_ms < 1000") in ids[0]
    assert ("dvclab.check.load.smoke", "GET /api/v1/procedures: p95_ms < 300") in ids[0]
    assert ("dvclab.check.sim.nam-dinh-2024", "overdue_rate < 0.03") in ids[0]


@pytest.mark.parametrize(
    ("k6", "ours"),
    [("p(95) < 300", "p95_ms < 300"), ("p(99.9)<=1000", "p999_ms <= 1000"), ("p( 50 ) > 1", "p50_ms > 1")],
)
def test_k6_percentiles_are_the_latency_fields(k6, ours):
    assert parse_rule(k6) == parse_rule(ours)


def test_k6_percentile_judged_like_its_field(tmp_path, thresholds, check):
    run = write_load_run(tmp_path / "smoke-1", endpoints={"GET /a": endpoint(p95_ms=400.0)})
    assert check(run, "--thresholds", thresholds('load:\n  "*": ["p(95) < 300"]\n')) == 1
    assert "GET /a: p95_ms < 300" in check.stdout or "p95_ms < 300" in check.stdout
    err_code = check(run, "--thresholds", thresholds('load:\n  "*": ["p(75) < 300"]\n'))
    assert err_code == 2 and "no such percentile" in check.stderr and "p(99.9)" in check.stderr


def test_summary_puts_failures_first_with_units(tmp_path, thresholds, check):
    run = write_load_run(
        tmp_path / "smoke-1", endpoints={"GET /a": endpoint(), "GET /z": endpoint(p95_ms=412.0)}
    )
    sim = write_sim_run(tmp_path / "nd-1")
    assert check(run, sim, "--thresholds", thresholds(RULES)) == 1
    text = check.summary.read_text()
    failed_at, passed_at = text.index("## Failed (2)"), text.index("Passed (")
    assert failed_at < passed_at
    failures = text[failed_at:passed_at]
    assert "| `p95_ms < 300` | 412 ms |" in failures
    assert "on_time_rate > 0.999" in failures and " %)" in failures  # a fraction shown as a percentage too
    assert "GET /a" not in failures


def test_one_line_verdict_names_failures_and_counts_passes(tmp_path, thresholds, check):
    run = write_load_run(tmp_path / "smoke-1", endpoints={"GET /a": endpoint(p95_ms=412.0)})
    sim = write_sim_run(tmp_path / "nd-1")
    assert check(run, sim, "--thresholds", thresholds(RULES), "--format", "line") == 1
    lines = check.stdout.strip().splitlines()
    assert len(lines) == 1
    line = lines[0]
    assert line.startswith("FAIL: 2 failed")
    assert "load smoke GET /a: p95_ms < 300 (observed 412 ms)" in line
    assert "sim nam-dinh-2024: on_time_rate > 0.999" in line and "2 passed" in line
    passing = thresholds('load:\n  "*": ["p(95) < 300"]\n')
    run_ok = write_load_run(tmp_path / "smoke-2", endpoints={"GET /a": endpoint()})
    assert check(run_ok, "--thresholds", passing, "--format", "line") == 0
    assert check.stdout.strip() == "PASS: 1 passed"


def test_json_and_csv_formats_carry_every_outcome(tmp_path, thresholds, check):
    run = write_load_run(tmp_path / "smoke-1", endpoints={"GET /a": endpoint(p95_ms=412.0)})
    sim = write_sim_run(tmp_path / "nd-1")
    check(run, sim, "--thresholds", thresholds(RULES), "--format", "json")
    document = json.loads(check.stdout)
    assert document["verdict"] == "FAIL" and document["failed"] == 2
    assert document["outcomes"][0]["status"] == "fail"
    assert {o["unit"] for o in document["outcomes"] if o["metric"] == "p95_ms"} == {"ms"}
    check(run, sim, "--thresholds", thresholds(RULES), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(check.stdout)))
    assert len(rows) == len(document["outcomes"]) and rows[0]["status"] == "fail"


def test_long_names_are_never_cut(tmp_path, thresholds, check):
    name = "GET /api/v1/procedures/{code}/attachments/{attachment_id}/signed-download-link"
    run = write_load_run(tmp_path / "smoke-1", endpoints={name: endpoint()})
    rules = thresholds('load:\n  "*": ["p95_ms < 300"]\n')
    check(run, "--thresholds", rules, "--format", "plain")
    assert f"smoke-1 · {name} | p95_ms < 300 | 120 ms" in check.stdout  # whole, on one line
    check(run, "--thresholds", rules, "--format", "table")
    assert "…" not in check.stdout and "p95_ms < 300" in check.stdout  # folded, never ellipsised


def test_misspelt_names_get_a_suggestion(tmp_path, thresholds, check):
    run = write_load_run(tmp_path / "r")
    check(run, "--thresholds", thresholds("sim:\n  nam-dinh-2024: ['overdue_rat < 0.03']\n"))
    assert "unknown metric 'overdue_rat' (did you mean 'overdue_rate'" in check.stderr
    check(run, "--thresholds", thresholds("lod:\n  total: ['p95_ms < 3']\n"))
    assert "unknown key 'lod' (did you mean 'load'?)" in check.stderr
    check(run, "--thresholds", thresholds("load:\n  total: ['acheived_rps > 3']\n"))
    assert "(did you mean 'achieved_rps'" in check.stderr
