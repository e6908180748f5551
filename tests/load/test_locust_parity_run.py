"""Plain `locust -f loadtests/locustfile.py` with Locust's common options, against a stub portal:
-u/-r are refused in one line (exit 2, nothing written), -t caps the schedule, and the security
checks the attacker never reached are "not run", never pass or fail."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.load.conftest import BIN, REPO, StubPortal, write_profile

pytestmark = [pytest.mark.slow, pytest.mark.serial]  # starts Locust


def _locust(*options: str, profile: Path, host: str, out: Path) -> subprocess.CompletedProcess[str]:
    command = [str(BIN / "locust"), "-f", str(REPO / "loadtests" / "locustfile.py"), "--headless"]
    command += [*options, "--host", host, "--dvclab-profile", str(profile), "--dvclab-out", str(out)]
    command += ["--only-summary", "--loglevel", "WARNING"]
    return subprocess.run(command, cwd=REPO, text=True, capture_output=True, timeout=60)


def _profile(folder: Path) -> Path:
    return write_profile(
        folder,
        name="parity",
        shape={"kind": "step", "steps": [{"rate": 4, "duration": "30s"}]},
        mix={"citizen_online": 0, "assisted": 0, "officer": 0, "tracker": 1, "sync": 0},
        think_time={"min": 0, "max": 0},
        journey_slots=4,
        drain="1s",
        forwarded_clients=False,
        security={"checks": ["C01", "C13", "C07"], "start_after": "10s"},
    )


def _dvclab_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("dvclab:")]


def test_users_and_spawn_rate_are_refused_in_one_line(tmp_path: Path, stub_portal: StubPortal) -> None:
    out = tmp_path / "out"
    result = _locust(
        "-u", "5", "-r", "5", "-t", "20s", profile=_profile(tmp_path), host=stub_portal.url, out=out
    )
    assert result.returncode == 2, result.stderr[-2000:]
    [line] = _dvclab_lines(result.stderr)
    assert line.startswith("dvclab: -u/-r not used: profile 'parity' decides the load")
    assert "journey_slots: 4" in line and "will be ignored" not in result.stderr
    assert not out.exists() and stub_portal.requests == 0  # refused before anything ran


def test_run_time_caps_the_schedule_and_unreached_checks_are_not_run(
    tmp_path: Path, stub_portal: StubPortal
) -> None:
    out = tmp_path / "out"
    started = time.monotonic()
    result = _locust("-t", "3s", profile=_profile(tmp_path), host=stub_portal.url, out=out)
    took = time.monotonic() - started
    assert (out / "summary.json").exists(), result.stderr[-2000:]
    assert "dvclab: -t 3s: the parity schedule runs 3 s of its 30 s, then its 1 s drain" in result.stderr
    assert took < 20  # not the profile's 30 s
    total = json.loads((out / "summary.json").read_text())["total"]
    # ~12 journeys due in 3 s at 4/s: none of the 27 s cut off is counted as offered or dropped
    assert 2 <= total["scheduled"] <= 30 and total["dropped"] == 0, total
    security = {c["id"]: c for c in json.loads((out / "security.json").read_text())}
    for check in ("C01", "C13"):
        assert security[check]["verdict"] == "not run"
        assert security[check]["reason"] == (
            "the run ended before the attacker started (security.start_after: 10 s)"
        )
    assert security["C07"]["verdict"] == "pass"  # judged from the whole run's responses: it ran
    assert "not run: ['C01', 'C13']" in _dvclab_lines(result.stderr)[-1]
    assert result.returncode == 1  # a run whose checks did not all run is not a clean run
