"""Plain Locust parity without a swarm: -u/-r refused with one line, -t a cap on the schedule; a check
whose probe never ran is "not run" with its reason (never pass, never fail), down to the runner's
placeholders and the terminal line."""

from __future__ import annotations

import json
from argparse import Namespace
from pathlib import Path

import pytest

from dvclab.load import check_registry, cli, data, harness, runner
from dvclab.load.locust_options import cap_schedule, capped, refused_options
from dvclab.load.profiles import load_profile
from dvclab.load.shapes import build_segments, expected_starts
from dvclab.load.verdicts import finalise


def _run() -> harness.Run:
    profile = load_profile("smoke")
    return harness.Run(profile, build_segments(profile), data.ProcedureMix.from_catalog())


def _options(**given: object) -> Namespace:
    return Namespace(**({"num_users": None, "spawn_rate": None, "run_time": None, "master": False} | given))


@pytest.mark.parametrize(
    ("given", "flags"), [({"num_users": 5}, "-u"), ({"num_users": 5, "spawn_rate": 5}, "-u/-r")]
)
def test_users_and_spawn_rate_are_refused_naming_the_profile(given: dict[str, object], flags: str) -> None:
    reason = refused_options(_options(**given, run_time=20), _run())
    assert reason is not None and "\n" not in reason
    assert reason.startswith(f"{flags} not used: profile 'smoke' decides the load")
    assert "step shape" in reason and "journey_slots: 40" in reason


def test_run_time_alone_is_honoured_on_one_process_only() -> None:
    assert refused_options(_options(run_time=20), _run()) is None
    assert refused_options(_options(), _run()) is None
    assert "single process" in (refused_options(_options(run_time=20, master=True), _run()) or "")


def test_run_time_caps_the_schedule_not_counting_the_rest_as_dropped() -> None:
    run = _run()  # smoke: 8 s at 1.5/s then 22 s at 2.5/s
    assert run.duration == 30
    assert cap_schedule(run, 12.0)
    assert run.duration == 12 and run.segments[-1].end == 12
    assert run.scheduler.segments is run.segments
    assert expected_starts(run.segments) == pytest.approx(8 * 1.5 + 4 * 2.5)
    assert not cap_schedule(run, 60.0) and run.duration == 12  # a cap past the end changes nothing
    assert capped(build_segments(load_profile("smoke")), 8.0)[-1].end == 8  # no empty segment kept


def test_checks_never_started_are_not_run_with_the_reason() -> None:
    run = _run()
    verdicts = {v["id"]: v for v in finalise(run, "", None)}
    probed = [v for v in verdicts.values() if v["id"] not in ("C07", "L01")]
    assert probed and all(v["verdict"] == "not run" for v in probed)
    assert probed[0]["reason"] == "the run ended before the attacker started (security.start_after: 3 s)"
    assert verdicts["C07"]["verdict"] == "pass"  # judged from the whole run: it ran
    assert "reason" not in verdicts["C07"]


def test_checks_cut_off_are_not_run_and_say_what_stopped_the_run() -> None:
    run = _run()
    run.portal_down = "the portal at http://x stopped answering /healthz at t=9s"
    run.observations = [{"id": "C14", "observed": {"pass": True, "dossier": 3, "idempotency_key": "k" * 10}}]
    verdicts = {v["id"]: v for v in finalise(run, "", None)}
    assert verdicts["C14"]["verdict"] == "pass"
    assert verdicts["C13"]["verdict"] == "not run"
    assert verdicts["C13"]["reason"] == f"{run.portal_down} before the attacker reached this check"
    assert verdicts["C13"]["observed"] is None  # nothing seen: no portal_down evidence glued on


def test_runner_placeholders_are_not_run(tmp_path: Path) -> None:
    profile = load_profile("smoke")
    runner._failed_results(tmp_path, profile, "the portal at http://x does not answer /healthz")
    checks = json.loads((tmp_path / "security.json").read_text())
    assert [c["id"] for c in checks][:3] == ["C01", "C15", "C02"]  # the registry's order and names
    assert all(c["name"] == check_registry.by_id(c["id"]).name for c in checks)
    assert all(c["verdict"] == "not run" for c in checks)
    assert (
        checks[0]["reason"] == "the run produced no verdicts: the portal at http://x does not answer /healthz"
    )


def test_terminal_line_names_failed_and_not_run_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    total = {"requests": 9, "failures": 0, "p95_ms": 5, "p99_ms": 6, "offered_rps": 1, "achieved_rps": 1}
    (tmp_path / "summary.json").write_text(json.dumps({"total": total | {"dropped": 0, "scheduled": 3}}))
    checks = [
        {"id": "C01", "verdict": "pass"},
        {"id": "C13", "verdict": "fail"},
        {"id": "C16", "verdict": "not run"},
        {"id": "C17", "verdict": "not run"},
    ]
    (tmp_path / "security.json").write_text(json.dumps(checks))
    cli._print_outcome(tmp_path)
    assert capsys.readouterr().err.strip().endswith("checks: 1 passed, failed C13, not run C16, C17")
