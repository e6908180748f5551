"""Running replications: Ctrl-C keeps the finished ones (written, marked partial), and a Dask cluster
gives the same numbers as local processes."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dvclab.sim.cluster import ClusterError, dask_replications
from dvclab.sim.experiment import multiple_replications
from dvclab.sim.observe import observed_run
from dvclab.sim.scenario import load_scenario
from tests.workbench.conftest import REPO, TINY, TINY_PLUS, dvclab, tiny

pytestmark = [pytest.mark.slow, pytest.mark.serial]  # signals, process pools, a Dask cluster


def interrupt_after(count: int):  # noqa: ANN201
    finished = []

    def on_done(r: int) -> None:
        finished.append(r)
        if len(finished) == count:
            raise KeyboardInterrupt

    return on_done


@pytest.mark.parametrize("jobs", [1, 2])
def test_ctrl_c_keeps_the_finished_replications(jobs: int) -> None:
    scenario, catalog = load_scenario(TINY)
    started = time.monotonic()
    experiment = multiple_replications(scenario, catalog, 12, jobs, on_done=interrupt_after(2))
    assert experiment.partial and experiment.requested == 12
    assert experiment.replications == 2 and len(experiment.replication_ids) == 2
    assert time.monotonic() - started < 30  # the running replications are stopped, not awaited
    # the kept replications are the ones a full run gives for the same ids
    full = tiny()
    for k, r in enumerate(experiment.replication_ids):
        if r < full.replications:
            assert experiment.outputs[k].kpis == full.outputs[r].kpis


def test_ctrl_c_before_any_replication_finished_propagates() -> None:
    scenario, catalog = load_scenario(TINY)

    def runner(*_args: object) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        multiple_replications(scenario, catalog, 3, 1, runner=runner)


def interrupt(args: list[str], after: str, count: int) -> tuple[int, str, str]:
    """Run the CLI and press Ctrl-C once ``count`` stderr lines contain ``after``: (code, stdout, stderr)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "dvclab.cli", *args],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # a shell's background job ignores SIGINT, and a child would inherit that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    seen = 0
    deadline = time.monotonic() + 120
    while seen < count and time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen += after in line
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    return process.returncode, stdout, stderr


def test_ctrl_c_on_the_cli_writes_a_partial_run(out: Path) -> None:
    args = ["sim", "run", str(TINY), "--replications", "40", "--jobs", "2", "--lang", "en", "--out", str(out)]
    code, stdout, stderr = interrupt(args, "done", 2)
    assert code == 130, stderr
    [folder] = (out / "tiny").iterdir()
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["partial"] is True and manifest["replications_requested"] == 40
    assert 2 <= manifest["replications"] < 40 == manifest["replications_requested"]
    rows = (folder / "replications.csv").read_text(encoding="utf-8").strip().splitlines()
    assert len(rows) - 1 == manifest["replications"] == len(manifest["replication_ids"])
    assert "Partial results" in (folder / "report.html").read_text(encoding="utf-8")
    assert f"results: {folder}" in stdout and "marked partial" in stderr
    assert not list((out / "tiny").glob(".*"))  # no staging folder left behind


def test_ctrl_c_during_a_comparison_pairs_the_finished_replications(out: Path) -> None:
    args = [
        "sim",
        "compare",
        str(TINY),
        str(TINY_PLUS),
        "--replications",
        "12",
        "--jobs",
        "1",
        "--out",
        str(out),
    ]
    code, stdout, stderr = interrupt(args, "tiny-land-plus-1: replication", 2)
    assert code == 130, stderr
    [folder] = (out / "compare" / "tiny").iterdir()
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    base, whatif = manifest["scenarios"]
    assert manifest["partial"] and not base["partial"] and whatif["partial"]
    assert len(base["replication_ids"]) == 12 and 2 <= len(whatif["replication_ids"]) < 12
    assert (folder / "differences.csv").is_file() and (folder / "report.html").is_file()


@pytest.fixture(scope="module")
def dask_cluster():  # noqa: ANN201
    import distributed  # a declared dependency (dask[distributed]): missing, the test must fail, not skip
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def test_cli_runs_on_dask_with_the_local_numbers(dask_cluster: str, out: Path) -> None:
    result = dvclab("sim", "run", str(TINY), "--replications", "2", "--dask", dask_cluster, "--out", str(out))
    assert result.returncode == 0, result.stderr
    [folder] = (out / "tiny").iterdir()
    with (folder / "replications.csv").open(encoding="utf-8") as handle:
        remote = [
            {k: float(v) for k, v in row.items() if k != "replication"} for row in csv.DictReader(handle)
        ]
    local = [output.kpis for output in tiny().outputs]
    assert remote == [pytest.approx(kpis, rel=1e-12, abs=0) for kpis in local]
    assert (folder / "report.html").is_file()


def test_unreachable_dask_scheduler_is_a_clear_error() -> None:
    scenario, catalog = load_scenario(TINY)
    with pytest.raises(ClusterError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        dask_replications("tcp://127.0.0.1:9", observed_run, scenario, catalog, 1, lambda r, o: None, 1.0)
