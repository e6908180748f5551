"""The JUnit XML and Markdown the gate writes, and the CLI staying light at import time."""

from __future__ import annotations

import stat
import subprocess
import sys
import xml.etree.ElementTree as ET

from gate_builders import endpoint, write_load_run, write_sim_run

RULES = """
load:
  "*": ["p95_ms < 300", "fail_ratio < 0.01"]
  total: ["achieved_rps > 10"]
security: ["violations == 0"]
sim:
  nam-dinh-2024: ["overdue_rate < 0.03"]
"""


def _cases(junit) -> list[ET.Element]:
    return list(ET.parse(junit).getroot().iter("testcase"))


def test_junit_has_one_case_per_rule_and_subject(tmp_path, thresholds, check):
    run = write_load_run(
        tmp_path / "smoke-1",
        endpoints={"GET /a": endpoint(), "GET /b": endpoint(p95_ms=400.0), "GET /c": endpoint()},
    )
    assert check(run, "--thresholds", thresholds(RULES)) == 1
    root = ET.parse(check.junit).getroot()
    cases = _cases(check.junit)
    # 3 endpoints × 2 rules + 1 total + 1 security + 1 sim rule skipped (no sim run)
    assert len(cases) == 9
    assert root.get("tests") == "9" and root.get("failures") == "1" and root.get("skipped") == "1"
    failed = [case for case in cases if case.find("failure") is not None]
    # Stable across builds: the profile and the endpoint, never the run's timestamped folder.
    assert [(case.get("classname"), case.get("name")) for case in failed] == [
        ("dvclab.check.load.smoke", "GET /b: p95_ms < 300")
    ]
    message = failed[0].find("failure").get("message")
    assert "observed 400" in message and "p95_ms < 300" in message
    skipped = [case for case in cases if case.find("skipped") is not None]
    assert [(case.get("classname"), case.get("name")) for case in skipped] == [
        ("dvclab.check.sim.nam-dinh-2024", "overdue_rate < 0.03")
    ]
    suites = {suite.get("name"): suite for suite in root.iter("testsuite")}
    assert suites["load"].get("tests") == "7" and suites["load"].get("failures") == "1"


def test_every_run_is_a_subject(tmp_path, thresholds, check):
    write_load_run(tmp_path / "load" / "smoke-1", endpoints={"GET /a": endpoint()})
    write_load_run(tmp_path / "load" / "smoke-2", endpoints={"GET /a": endpoint()})
    write_sim_run(tmp_path / "sim" / "nd-1")
    assert check(tmp_path, "--thresholds", thresholds(RULES)) == 0
    cases = [(case.get("classname"), case.get("name")) for case in _cases(check.junit)]
    assert len(cases) == len(set(cases)) == 2 * (2 + 1 + 1) + 1
    assert ("dvclab.check.load.smoke", "GET /a: fail_ratio < 0.01") in cases
    assert ("dvclab.check.load.smoke", "GET /a: fail_ratio < 0.01 (run 2)") in cases  # the later run
    assert ("dvclab.check.sim.nam-dinh-2024", "overdue_rate < 0.03") in cases
    assert not [name for _, name in cases if "nd-1" in name or "smoke-" in name]


def test_markdown_summary_and_terminal_table(tmp_path, thresholds, check):
    run = write_load_run(tmp_path / "smoke-1", endpoints={"GET /a|b": endpoint(p95_ms=400.0)})
    assert check(run, "--thresholds", thresholds(RULES)) == 1
    text = check.summary.read_text()
    assert text.startswith("# dvclab check — FAIL: 3 passed, 1 failed, 1 skipped")
    assert "| ❌ FAIL | load | smoke-1 · GET /a\\|b | `p95_ms < 300` | 400 ms |" in text  # pipes escaped
    assert "no results" in text
    assert "p95_ms < 300" in check.stdout and "FAIL: 3 passed, 1 failed, 1 skipped" in check.stdout


def test_reports_are_written_whole_and_readable(tmp_path, thresholds, check):
    run = write_load_run(tmp_path / "smoke-1")
    assert check(run, "--thresholds", thresholds(RULES)) == 0
    assert sorted(path.name for path in check.out.iterdir()) == ["junit.xml", "summary.md"]  # no temp left
    assert check.junit.stat().st_mode & stat.S_IRGRP


def test_cli_module_is_light_at_import_time():
    code = (
        "import sys, dvclab.gate.cli; "
        "heavy = {'pydantic', 'yaml', 'rich'} & set(sys.modules); "
        "heavy |= {m for m in sys.modules if m.startswith('dvclab.gate.') and m != 'dvclab.gate.cli'}; "
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
