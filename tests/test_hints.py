"""Errors people can act on: "did you mean" on misspelt keys, values and profile names, and YAML syntax
errors that name the file and line (never PyYAML's ``<unicode string>``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dvclab.cli import main
from dvclab.load.profiles import ProfileError, load_profile, profile_names
from dvclab.paths import shipped
from dvclab.sim.scenario import ScenarioError, load_scenario

BASE = shipped("sim", "nam-dinh-2024.yaml")


def _whatif(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "whatif.yaml"
    path.write_text(f"extends: {BASE}\n{body}", encoding="utf-8")
    return path


def test_scenario_key_value_and_pool_typos_get_a_suggestion(tmp_path):
    with pytest.raises(ScenarioError) as caught:
        load_scenario(_whatif(tmp_path, "run:\n  horizon_dayz: 30\nback_office:\n  discipline: efd\n"))
    message = str(caught.value)
    assert "run.horizon_dayz: unknown field (did you mean 'horizon_days'?)" in message
    assert "(got 'efd') (did you mean 'edf'?)" in message
    with pytest.raises(ScenarioError, match=r"no such pool \(did you mean 'land'\?\)"):
        load_scenario(_whatif(tmp_path, "back_office:\n  staffing:\n    district: {lnad: 3}\n"))


def test_scenario_yaml_error_names_file_and_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nrun:\n  seed: 1\n seed2: 3\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert f"{path}, line 4, column 2: not valid YAML" in str(caught.value)
    assert "<unicode string>" not in str(caught.value)


def test_profile_typos_and_yaml_errors(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: x\nshape: {kind: stpe}\n", encoding="utf-8")
    with pytest.raises(ProfileError, match=r"\(got 'stpe'\) \(did you mean 'step'"):
        load_profile(path)
    path.write_text(
        "name: x\nshape: {kind: step, steps: [{rate: 1, duration: 1s}]}\nmix: {citizen_onlin: 1}\n"
    )
    with pytest.raises(
        ProfileError, match=r"unknown field 'citizen_onlin' \(did you mean 'citizen_online'\?\)"
    ):
        load_profile(path)
    path.write_text("name: x\nshape: {kind: step\nmix: {}\n", encoding="utf-8")
    with pytest.raises(ProfileError, match=rf"{path}, line 3, column 4: not valid YAML"):
        load_profile(path)


def test_profile_names_are_profiles_only():
    names = profile_names()
    assert "smoke" in names and not [name for name in names if "thresholds" in name]
    with pytest.raises(ProfileError) as caught:
        load_profile("smok")
    message = str(caught.value)
    assert message.startswith("no profile 'smok' (did you mean 'smoke'")
    assert "thresholds" not in message


def test_load_run_unknown_profile_exits_2_listing_profiles(capsys):
    assert main(["load", "run", "nosuch"]) == 2
    err = capsys.readouterr().err
    assert "no profile 'nosuch'" in err and "smoke" in err and "thresholds" not in err


def test_version(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    from importlib.metadata import version

    assert capsys.readouterr().out.strip() == f"dvclab {version('dvclab')}"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["chek"], "invalid choice: 'chek' (did you mean 'check'?)"),
        (["sim", "rn", "x.yaml"], "invalid choice: 'rn' (did you mean 'run'?)"),
        (["check", "results", "--format", "tabel"], "invalid choice: 'tabel' (did you mean 'table'?)"),
    ],
)
def test_invalid_choices_get_a_suggestion(argv, expected, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2 and expected in capsys.readouterr().err
