"""Reusing finished runs: compare, sweep and plan take a run with the same key instead of simulating again;
a changed catalog, model or request never reuses; ``--fresh`` and partial runs never do. And the
``--replications`` options on the command line: auto, one replication, bad combinations."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from dvclab.sim import reuse
from dvclab.sim.experiment import Experiment
from dvclab.sim.outputs import write_run
from dvclab.sim.scenario import load_scenario
from dvclab.sim.studies import Silent, StudyOptions, compare_study, run_study, sweep_study
from dvclab.sim.sweep import Param
from tests.workbench.conftest import TINY, TINY_PLUS, dvclab, tiny

LAND = "back_office.staffing.district.land"


class Counting(Silent):
    """Counts the replications simulated and the runs reused."""

    def __init__(self) -> None:
        self.simulated = 0
        self.reused_runs: list[tuple[str, Path]] = []

    def replication_done(self, label: str, replication: int) -> None:
        self.simulated += 1

    def reused(self, label: str, folder: Path, replications: int) -> None:
        self.reused_runs.append((label, folder))


def _options(out: Path, **more: object) -> StudyOptions:
    return StudyOptions(out=out, jobs=2, lang="en", command=["test"], tracker=Counting(), **more)  # type: ignore[arg-type]


def _differences(folder: Path) -> list[dict[str, str]]:
    with (folder / "differences.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_outputs_round_trip_without_pickle(tmp_path: Path) -> None:
    experiment = tiny()
    assert reuse.save_outputs(experiment, tmp_path) == reuse.OUTPUTS_FILE
    loaded = reuse.load_outputs(tmp_path / reuse.OUTPUTS_FILE)
    assert [type(o) for o in loaded] == [type(o) for o in experiment.outputs]
    for before, after in zip(experiment.outputs, loaded, strict=True):
        for name, value in vars(before).items():
            if isinstance(value, np.ndarray):
                np.testing.assert_array_equal(getattr(after, name), value)
            elif name.startswith("backlog_by_"):  # series by pool or unit
                assert value and list(getattr(after, name)) == list(value), name
                for key, series in value.items():
                    np.testing.assert_array_equal(getattr(after, name)[key], series)
            else:
                assert getattr(after, name) == value, name


@pytest.mark.slow
def test_compare_twice_reuses_the_runs_and_says_so(out: Path) -> None:
    base, whatif = load_scenario(TINY), load_scenario(TINY_PLUS)
    first = compare_study(base, [whatif], _options(out))
    assert first.folder is not None
    runs = json.loads((first.folder / "manifest.json").read_text(encoding="utf-8"))["runs"]
    assert [(r["scenario"], r["reused"]) for r in runs] == [("tiny", False), ("tiny-land-plus-1", False)]
    baseline_run = Path(runs[0]["run"])
    manifest = json.loads((baseline_run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["run_key"]["data"]["catalog"] and manifest["run_key"]["replications"] == 2
    assert manifest["outputs"] == reuse.OUTPUTS_FILE and not manifest["partial"]

    # the second comparison on the command line: nothing simulated, the same numbers, and it says so
    result = dvclab("sim", "compare", str(TINY), str(TINY_PLUS), "--jobs", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert f"tiny: reusing the finished run {baseline_run}" in result.stderr
    assert "replication 0 done" not in result.stderr
    second = max((out / "compare" / "tiny").iterdir())
    assert second != first.folder
    runs = json.loads((second / "manifest.json").read_text(encoding="utf-8"))["runs"]
    assert runs[0] == {"scenario": "tiny", "run": str(baseline_run), "reused": True}
    assert _differences(second) == _differences(first.folder)
    assert len(list((out / "tiny").iterdir())) == 1  # no new run of the baseline


@pytest.mark.slow
def test_fresh_simulates_again(out: Path) -> None:
    base = load_scenario(TINY)
    compare_study(base, [base], _options(out))
    options = _options(out, fresh=True)
    compare_study(base, [base], options)
    assert options.tracker.reused_runs == [] and options.tracker.simulated == 4  # type: ignore[attr-defined]
    again = _options(out)
    compare_study(base, [base], again)
    assert again.tracker.simulated == 0 and len(again.tracker.reused_runs) == 2  # type: ignore[attr-defined]


def _own_catalog(tmp_path: Path) -> Path:
    """tiny.yaml reading a copy of its catalog, so the test can change the catalog's content."""
    scenario, _ = load_scenario(TINY)
    catalog = tmp_path / "catalog.csv"
    shutil.copy(scenario.catalog_path(), catalog)
    path = tmp_path / "own-catalog.yaml"
    path.write_text(f"extends: {TINY}\nname: own-catalog\ncatalog: {catalog}\n", encoding="utf-8")
    return path


@pytest.mark.slow
def test_a_changed_catalog_or_model_never_reuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "results"
    path = _own_catalog(tmp_path)
    scenario, catalog = load_scenario(path)
    run = run_study(scenario, catalog, _options(out), report=False)
    assert reuse.reuse_run(out, scenario, 2) is not None
    assert reuse.reuse_run(out, scenario, 3) is None  # another replication count
    assert reuse.reuse_run(out, load_scenario(path, **{"run.seed": 7})[0], 2) is None
    # the same scenario under another name and file is the same run
    renamed = scenario.model_copy(update={"name": "renamed", "source": str(tmp_path / "x.yaml")})
    found = reuse.reuse_run(out, renamed, 2)
    assert found is not None and found[1] == run.folder and found[0].scenario.name == "renamed"

    catalog_file = scenario.catalog_path()
    catalog_file.write_text(catalog_file.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    touched, _ = load_scenario(path)
    assert reuse.reuse_run(out, touched, 2) is None

    monkeypatch.setattr(reuse, "model_version", lambda: {"source_sha256": "another model"})
    assert (
        reuse.run_key(scenario, 2)["hash"]
        != json.loads(
            (run.folder / "manifest.json").read_text(encoding="utf-8")  # type: ignore[operator]
        )["run_key"]["hash"]
    )


def test_a_partial_run_is_never_reused(out: Path) -> None:
    full = tiny()
    partial = Experiment(full.scenario, full.outputs[:1], True, [0], 2)
    scenario, catalog = load_scenario(TINY)
    folder = write_run(partial, catalog, out, ["test"], None)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["partial"] and "outputs" not in manifest and "run_key" in manifest
    assert reuse.reuse_run(out, scenario, 2) is None


@pytest.mark.slow
def test_a_sweep_reuses_the_points_another_sweep_ran(out: Path) -> None:
    base, catalog = load_scenario(TINY)
    sweep_study(base, catalog, Param(LAND, (2, 3)), _options(out), ["overdue_rate"])
    options = _options(out)
    outcome = sweep_study(base, catalog, Param(LAND, (3, 4)), options, ["overdue_rate"])
    assert [label for label, _ in options.tracker.reused_runs] == [f"{LAND}=3"]  # type: ignore[attr-defined]
    assert options.tracker.simulated == 2  # type: ignore[attr-defined]  # only the point 4
    assert outcome.folder is not None
    runs = json.loads((outcome.folder / "manifest.json").read_text(encoding="utf-8"))["runs"]
    assert [r["reused"] for r in runs] == [True, False]


# -- --replications on the command line ----------------------------------------------------------------
@pytest.mark.slow
def test_auto_replications_on_the_command_line(out: Path) -> None:
    result = dvclab("sim", "run", str(TINY), "--replications", "auto", "--max-replications", "4",
                    "--look-ahead", "0", "--kpi", "on_time_rate", "--jobs", "2", "--no-report",
                    "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "replications auto: 3 replication(s)" in result.stdout and "on_time_rate ±" in result.stdout
    [folder] = (out / "tiny").iterdir()
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    rule = manifest["replication_rule"]
    assert rule["kpis"] == ["on_time_rate"] and rule["solution"] == 3 and manifest["replications"] == 3
    assert rule["precision_reached"]["on_time_rate"]["relative_half_width"] <= 0.05
    assert manifest["scenario"]["run"]["replications"] == 3 and manifest["intervals"]["meaningful"]


@pytest.mark.slow
def test_one_replication_warns_and_writes_no_interval(out: Path) -> None:
    result = dvclab("sim", "run", str(TINY), "--replications", "1", "--no-report", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "warning: 1 replication: no confidence interval" in result.stderr
    [folder] = (out / "tiny").iterdir()
    kpis = json.loads((folder / "kpis.json").read_text(encoding="utf-8"))
    assert kpis["overdue_rate"]["ci_low"] is None and kpis["overdue_rate"]["ci_high"] is None
    intervals = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["intervals"]
    assert intervals["meaningful"] is False and "no confidence interval" in intervals["warning"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--precision", "0.1"], "need --replications auto"),
        (["--replications", "auto", "--precision", "2"], "--precision"),
        (["--replications", "auto", "--kpi", "overdue_rat"], "'overdue_rat'"),
        (["--replications", "auto", "--max-replications", "2"], "--max-replications 2"),
        (["--replications", "sometimes"], "--replications"),
    ],
)
def test_bad_replication_options_are_exit_2(args: list[str], named: str, out: Path) -> None:
    result = dvclab("sim", "run", str(TINY), *args, "--out", str(out))
    assert result.returncode == 2, result.stdout + result.stderr
    assert named in result.stderr and "Traceback" not in result.stderr
    assert not out.exists() or not any(out.rglob("*"))
