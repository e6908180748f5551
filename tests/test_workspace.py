"""`dvclab init`: the workspace holds the shipped data, its references point inside it, and it never
writes over a folder the user has not given up."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from dvclab.cli import build_parser, main
from dvclab.load.profiles import load_profile
from dvclab.paths import shipped
from dvclab.sim.scenario import load_scenario
from dvclab.workspace import README


def _init(folder: Path, *extra: str) -> int:
    return main(["init", str(folder), *extra])


def test_workspace_holds_the_shipped_data_and_a_readme(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    ws = tmp_path / "ws"
    assert _init(ws) == 0
    printed = capsys.readouterr().out.split()
    written = sorted(p.relative_to(ws) for p in ws.rglob("*") if p.is_file())
    assert [Path(line) for line in printed] == [ws / p for p in written]  # it says what it wrote
    assert {Path("thresholds.yaml"), Path("catalog/nam-dinh-2024.csv"), Path("README.md")} <= set(written)
    assert {p.name for p in (ws / "sim").iterdir()} == {p.name for p in shipped("sim").glob("*.yaml")}
    assert {p.name for p in (ws / "load").glob("*.yaml")} == {p.name for p in shipped("load").glob("*.yaml")}
    assert (ws / "load" / "maps" / "reference.yaml").is_file()  # the map an engineer copies for their portal
    assert (ws / "records" / "one-stop-register.yaml").is_file()  # the register's column map, to adapt
    assert not [p for p in written if p.suffix == ".py" or "__pycache__" in p.parts]
    baseline = Path("sim", "nam-dinh-2024.yaml")
    assert (ws / baseline).read_bytes() == shipped(*baseline.parts).read_bytes()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind


def test_references_resolve_inside_the_workspace(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert _init(ws) == 0
    for path in sorted((ws / "sim").glob("*.yaml")):  # each what-if `extends` its copied baseline
        scenario, catalog = load_scenario(path)
        assert scenario.catalog_path() == (ws / "catalog" / "nam-dinh-2024.csv").resolve(), path.name
        assert len(catalog) > 1000
    with_thresholds = 0
    for path in sorted((ws / "load").glob("*.yaml")):
        if "thresholds" in path.stem:
            continue
        profile = load_profile(path)
        if profile.thresholds:
            assert Path(profile.thresholds).parent == (ws / "load").resolve(), path.name
            assert Path(profile.thresholds).is_file(), path.name
            with_thresholds += 1
    assert with_thresholds >= 2  # deadline-spike and soak carry their own rules


def test_an_edit_in_the_workspace_catalog_is_what_a_scenario_reads(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert _init(ws) == 0
    csv = ws / "catalog" / "nam-dinh-2024.csv"
    header, *rows = csv.read_text(encoding="utf-8").splitlines()
    csv.write_text("\n".join([header, *rows[:-1]]) + "\n", encoding="utf-8")
    _, catalog = load_scenario(ws / "sim" / "land-office-plus-2.yaml")
    assert len(catalog) == len(rows) - 1


def test_readme_commands_are_commands_the_cli_accepts(tmp_path: Path) -> None:
    commands = [line.split("#")[0] for line in README.splitlines() if line.startswith("dvclab ")]
    assert {shlex.split(c)[1] for c in commands} >= {"sim", "load", "check"}
    parser = build_parser()
    for command in commands:
        parser.parse_args(shlex.split(command.replace("<run>", "run-1"))[1:])  # exits 2 if one drifted
    assert "--thresholds thresholds.yaml" in README


def test_refuses_a_non_empty_folder_without_force(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "notes.txt").write_text("mine")
    assert _init(ws) == 2
    err = capsys.readouterr().err
    assert "not empty" in err and "--force" in err and "Traceback" not in err
    assert [p.name for p in ws.iterdir()] == ["notes.txt"]

    (ws / "thresholds.yaml").write_text("edited")
    assert _init(ws, "--force") == 0
    assert (ws / "notes.txt").read_text() == "mine"
    assert (ws / "thresholds.yaml").read_bytes() == shipped("thresholds.yaml").read_bytes()


def test_an_empty_folder_is_used_and_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _init(empty) == 0
    assert (empty / "README.md").is_file()
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    assert _init(a_file) == 2
    assert "is not a folder" in capsys.readouterr().err
