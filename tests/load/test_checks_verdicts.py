"""Verdicts from observations, without a swarm: a check that did not run is "not run"; C07 reads hygiene."""

from __future__ import annotations

from dvclab.load import check_registry, data, harness
from dvclab.load.profiles import load_profile
from dvclab.load.shapes import build_segments
from dvclab.load.verdicts import finalise


def _run() -> harness.Run:
    profile = load_profile("smoke")
    return harness.Run(profile, build_segments(profile), data.ProcedureMix.from_catalog())


def test_every_selected_check_gets_a_verdict_and_missing_ones_are_not_run() -> None:
    run = _run()
    run.observations = [
        {"id": "C14", "observed": {"pass": True, "dossier": 3, "idempotency_key": "k" * 10}},
        {"id": "C16", "observed": {"pass": False, "applied": 2}},
        {"id": "C10", "observed": {"error": "could not log in"}},
    ]
    verdicts = {v["id"]: v for v in finalise(run, "", None)}
    assert set(verdicts) == set(run.profile.security.checks)
    assert verdicts["C14"]["verdict"] == "pass" and "pass" not in verdicts["C14"]["observed"]
    assert verdicts["C16"]["verdict"] == "fail"
    assert verdicts["C10"]["verdict"] == "fail" and verdicts["C10"]["observed"]["error"]
    assert verdicts["C01"]["verdict"] == "not run"
    assert "before the attacker reached" in verdicts["C01"]["reason"]
    assert verdicts["L01"]["verdict"] == "fail"  # nothing to read back from
    for v in verdicts.values():
        assert {"id", "name", "invariant", "observed", "verdict"} <= set(v) and v["verdict"] in (
            "pass",
            "fail",
            "not run",
        )


def test_c07_hygiene_and_c15_entropy() -> None:
    run = _run()
    run.hygiene.update({"seen_429": 40, "seen_404": 3})
    run.observations = [{"id": "C15", "observed": {"pass": True}}]
    run.receipts = [("HS" + "A" * 16, 1)]
    verdicts = {v["id"]: v for v in finalise(run, "", None)}
    assert verdicts["C07"]["verdict"] == "pass"
    assert verdicts["C15"]["verdict"] == "pass" and verdicts["C15"]["observed"]["receipt_code_bits"] == 80
    run.hygiene["status_500"] = 1
    run.receipts = [("HSABC", 1)]  # a short code: too little entropy
    verdicts = {v["id"]: v for v in finalise(run, "", None)}
    assert verdicts["C07"]["verdict"] == "fail" and verdicts["C15"]["verdict"] == "fail"


def test_summary_layout_and_offered_load() -> None:
    run = _run()
    run.recorder.record("GET /api/v1/procedures", 12.0)
    run.outcomes["GET /api/v1/procedures"]["ok"] += 1
    run.outcomes["[C01] GET /api/v1/track/{code}"]["refused"] += 5
    run.counters.scheduled.update({"tracker": 4})
    run.counters.started.update({"tracker": 2})
    run.counters.dropped.update({"tracker": 2})
    run.journey_requests["tracker"] = 1
    summary = run.summary()
    assert list(summary["endpoints"]) == ["GET /api/v1/procedures"]  # checks' traffic kept apart
    assert summary["security_requests"]["[C01] GET /api/v1/track/{code}"]["expected_refusals"] == 5
    total = summary["total"]
    assert total["dropped_ratio"] == 0.5 and total["requests"] == 1
    assert total["offered_rps"] > total["achieved_rps"]  # dropped journeys were offered, not achieved
    assert abs(summary["endpoints"]["GET /api/v1/procedures"]["p95_ms"] - 12.0) < 0.02  # HDR: 3 digits


def test_each_user_runs_only_its_own_task() -> None:
    """A journey task inherited by the Attacker would block it on a schedule that never comes."""
    import subprocess
    import sys

    from tests.load.conftest import REPO

    code = (
        "import dvclab.load.locustfile as l\n"
        "print({c.__name__: [t.__name__ for t in c.tasks] for c in (l.Attacker, *l.CLASSES.values())})"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    tasks = eval(out.stdout)  # noqa: S307 - our own repr of a dict of lists
    assert tasks.pop("Attacker") == ["attack"]
    assert set(map(tuple, tasks.values())) == {("next_journey",)}


def test_the_run_waits_for_the_attacker_at_most_the_overrun() -> None:
    """A slow machine's last check (C09) finishes instead of being cut off as "not run"; a stuck one
    does not hold the run for ever."""
    run = _run()
    end = harness.SETTLE_S + run.duration + run.profile.drain
    overrun = run.profile.security.overrun
    probed = [c.id for c in check_registry.probed(run.profile.security.checks)]
    assert run.keeps_running(end - 1)
    assert not run.keeps_running(end + 1)  # the attacker never started: its checks are "not run"
    run.attack_started = True
    assert run.keeps_running(end + 1)  # started, no check has reported yet
    run.observations = [{"id": check, "observed": {"pass": True}} for check in probed[:-1]]
    assert run.keeps_running(end + overrun - 1) and not run.keeps_running(end + overrun + 1)
    run.overrun = 0.0  # -t: the user's cap
    assert not run.keeps_running(end + 1)
    run.overrun = overrun
    run.observations.append({"id": probed[-1], "observed": {"pass": True}})
    assert not run.keeps_running(end + 1)  # every probe reported: the run ends on schedule
    assert run.keeps_running(end - 1)


def test_the_master_learns_that_the_attacker_started_from_its_worker() -> None:
    worker, master = _run(), _run()
    assert not master.attacker_busy()
    worker.attack_started = True
    master.merge(worker.report())
    master.merge(_run().report())  # another worker, no attacker: does not undo it
    assert master.attack_started and master.attacker_busy()
