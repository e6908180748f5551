"""C06's faults as the citizens' side sees them: the proxy logs each fault, a citizen's 503 that overlaps
one is counted apart from failures, and one outside every fault stays a failure."""

from __future__ import annotations

import math
import socket
from pathlib import Path

import pytest

from dvclab.load import data, harness, store_faults
from dvclab.load.profiles import load_profile
from dvclab.load.shapes import build_segments
from dvclab.load.store_checks import StoreProxy


def _log(tmp_path: Path, *lines: tuple[float, str]) -> Path:
    path = tmp_path / store_faults.LOG_NAME
    for at, state in lines:
        store_faults.record(path, state, now=at)
    return path


def test_windows_run_from_a_fault_to_its_clearing(tmp_path: Path) -> None:
    path = _log(tmp_path, (100.0, "latency 0.5"), (103.0, "down"), (106.0, "clear"), (200.0, "down"))
    with path.open("a") as log:
        log.write("20")  # a line its writer has not finished
    assert store_faults.windows(path) == [
        (100.0, 103.0, "latency 0.5"),
        (103.0, 106.0, "down"),
        (200.0, math.inf, "down"),
    ]


@pytest.mark.parametrize(
    ("start", "end", "met"),
    [
        (98.0, 99.9, False),  # answered before the fault began
        (99.0, 100.2, True),  # in flight when it began
        (104.0, 104.1, True),  # inside it
        (106.5, 106.6, True),  # within the grace after it was lifted (an operation on its timeout)
        (107.2, 107.3, False),  # past the grace: a 503 now is the portal's own
    ],
)
def test_a_request_meets_a_fault_by_overlap_and_grace(
    tmp_path: Path, start: float, end: float, met: bool
) -> None:
    path = _log(tmp_path, (100.0, "down"), (106.0, "clear"))
    assert store_faults.during(path, start, end) is met


def test_without_a_fault_log_nothing_is_excused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(store_faults.FAULT_LOG_ENV, raising=False)
    assert not store_faults.injected_fault(0.0, 1e12)
    monkeypatch.setenv(store_faults.FAULT_LOG_ENV, str(tmp_path / "never-written.log"))
    assert not store_faults.injected_fault(0.0, 1e12)


def test_the_proxy_logs_each_change_of_fault(tmp_path: Path) -> None:
    upstream = socket.create_server(("127.0.0.1", 0))
    proxy = StoreProxy(upstream.getsockname(), tmp_path / store_faults.LOG_NAME)
    try:
        proxy.set(latency_s=0.5)
        proxy.set(latency_s=0.5)  # no change: no line
        proxy.set()
        proxy.set(down=True)
        proxy.set()
    finally:
        proxy.stop()
        upstream.close()
    states = [line.split(" ", 1)[1] for line in (tmp_path / store_faults.LOG_NAME).read_text().splitlines()]
    assert states[:4] == ["latency 0.5", "clear", "down", "clear"]
    assert [w[2] for w in store_faults.windows(tmp_path / store_faults.LOG_NAME)][:2] == [
        "latency 0.5",
        "down",
    ]


def test_503s_during_a_fault_are_counted_apart_from_failures() -> None:
    profile = load_profile("smoke")
    run = harness.Run(profile, build_segments(profile), data.ProcedureMix.from_catalog())
    name = "GET /api/v1/procedures"
    run.recorder.record(name, 5.0)
    run.outcomes[name][data.OK] += 90
    run.outcomes[name][data.DURING_STORE_FAULT] += 8
    run.outcomes[name][data.ERROR] += 2
    summary = run.summary(elapsed=10.0, percentiles=False)
    endpoint, total = summary["endpoints"][name], summary["total"]
    assert (endpoint["failures"], endpoint["during_store_fault"]) == (2, 8)
    assert (total["failures"], total["during_store_fault"], total["requests"]) == (2, 8, 100)
    assert total["achieved_rps"] == 9.0  # 90 answered as the step wanted, over 10 s
