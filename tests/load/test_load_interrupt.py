"""Ctrl-C (or SIGTERM) during `dvclab load run`: Locust, the portal (4 workers) and Redis stop, the results
so far are kept as a finished folder marked interrupted, exit 130 (143), and the gate fails it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from dvclab.gate import baseline, evaluation, results, rules
from dvclab.gate.verdict import GateInputError
from tests.gate.gate_builders import write_load_run
from tests.load.conftest import BIN, REPO, dvclab, write_profile

pytestmark = [pytest.mark.slow, pytest.mark.serial]  # `dvclab load run` stopped by signals


def _descendants(root: int) -> dict[int, str]:
    """Live processes under ``root`` (by parent links in /proc), with their command lines."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = {}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                cmdline = Path(f"/proc/{pid}/cmdline")
                found[pid] = (
                    cmdline.read_text(errors="replace").replace("\0", " ") if cmdline.exists() else ""
                )
                frontier.append(pid)
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize(("stop", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["INT", "TERM"])
def test_a_signal_keeps_partial_results_and_leaves_no_process(
    tmp_path: Path, stop: signal.Signals, code: int
) -> None:
    profile = write_profile(
        tmp_path,
        name="interrupted",
        shape={"kind": "step", "steps": [{"rate": 1, "duration": "2m"}]},  # far longer than we wait
        mix={"citizen_online": 1, "assisted": 0, "officer": 0, "tracker": 0, "sync": 0},
        journey_slots=8,
        drain="2s",
        # The attacker would start after a minute: the checks never run and must not read as passes.
        security={"checks": ["C01", "C02", "L01"], "start_after": "60s"},
        portal={"workers": 4},
    )
    root = tmp_path / "load"
    runner = subprocess.Popen(
        [str(BIN / "dvclab"), "load", "run", str(profile), "--results", str(root)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        # Locust writes its stats history once the swarm runs, i.e. after the portal answered /healthz.
        while not list(root.glob("*.partial/locust_stats_history.csv")):
            assert runner.poll() is None and time.monotonic() < deadline, runner.communicate()
            time.sleep(0.2)
        time.sleep(2)
        children = _descendants(runner.pid)
        assert any("redis-server" in c for c in children.values()), children
        assert any("portal serve" in c for c in children.values()), children
        assert any("locust" in c for c in children.values()), children
        assert sum("spawn_main" in c for c in children.values()) == 4, children  # uvicorn workers
        sent = time.monotonic()
        runner.send_signal(stop)
        stdout, stderr = runner.communicate(timeout=60)
        teardown = time.monotonic() - sent
    finally:
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == code, stderr[-3000:]
    assert teardown < 30
    assert "Traceback" not in stderr
    leftovers = {pid: c for pid, c in children.items() if _alive(pid)}
    assert not leftovers, leftovers

    assert not list(root.glob("*.partial")) and not list(root.glob("*.tmp"))
    folder = next(root.iterdir())
    assert stdout.strip().splitlines()[-1] == str(folder)
    assert f"run interrupted ({stop.name}); partial results in {folder}" in stderr
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and manifest["exit_code"] == code
    assert manifest["interrupted"]["signal"] == stop.name and manifest["portal_workers"] == 4
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["total"]["requests"] > 0  # the requests made so far, not a placeholder
    # Rates over the seconds it ran, not over the 2 minutes planned.
    ran = manifest["interrupted"]["after_s"]
    assert summary["total"]["duration_s"] < ran < 60
    assert summary["total"]["rps"] == pytest.approx(
        summary["total"]["requests"] / summary["total"]["duration_s"], rel=0.01
    )
    security = {c["id"]: c for c in json.loads((folder / "security.json").read_text())}
    assert security["C01"]["verdict"] == security["C02"]["verdict"] == "not run"  # never ran: not a fail
    for name in ("portal.log", "locust.log"):
        assert (folder / name).is_file(), name

    check = dvclab(
        "check", str(folder), "--junit", str(tmp_path / "j.xml"), "--summary", str(tmp_path / "s.md")
    )
    assert check.returncode == 1, check.stdout[-2000:]
    assert "interrupted" in (tmp_path / "s.md").read_text()


def test_gate_fails_an_interrupted_run_even_when_its_figures_pass(tmp_path: Path) -> None:
    done = write_load_run(tmp_path / "done")
    cut = write_load_run(tmp_path / "cut")
    (cut / "manifest.json").write_text(
        json.dumps(
            {"kind": "load", "status": "interrupted", "interrupted": {"signal": "SIGTERM", "after_s": 7.5}}
        )
    )
    (done / "manifest.json").write_text(json.dumps({"kind": "load", "status": "completed"}))
    (tmp_path / "thresholds.yaml").write_text('load:\n  total: ["fail_ratio < 0.01"]\n')
    thresholds = rules.load_thresholds(tmp_path / "thresholds.yaml")
    verdict = evaluation.evaluate(thresholds, results.discover([tmp_path]))
    failed = [o for o in verdict.outcomes if o.status == "fail"]
    assert [o.subject for o in failed] == ["cut · total"], failed
    assert failed[0].message == (
        "observed 0, threshold completed == 1; the run was interrupted by SIGTERM after 7.5 s: "
        "its results are partial"
    )
    assert verdict.failed and verdict.count("pass") == 2  # both runs' own rule still judged
    try:
        baseline.write_baseline(results.discover([cut]), tmp_path / "baseline.json")
    except GateInputError as error:
        assert "interrupted" in str(error)
    else:
        raise AssertionError("a baseline was written from an interrupted run")
    assert not os.path.exists(tmp_path / "baseline.json")
