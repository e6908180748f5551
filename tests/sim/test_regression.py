"""Back test against a committed baseline: a short, seeded baseline run must not regress.

The same seed gives the same citizens, so any change in these figures comes from a change in the model.
When a change is intended, regenerate the baseline with `make sim-baseline` and say why in the commit.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dvclab.cli import main

REPO = Path(__file__).resolve().parents[2]
BASELINE = REPO / "results" / "baselines" / "sim-nam-dinh-2024-short.json"
# Must match the Makefile's sim-baseline target.
RUN = ["--replications", "2", "--horizon-days", "7", "--seed", "2024", "--jobs", "2"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def short_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("regression")
    scenario = REPO / "scenarios" / "sim" / "nam-dinh-2024.yaml"
    assert main(["sim", "run", str(scenario), *RUN, "--out", str(out / "sim")]) == 0
    (out / "thresholds.yaml").write_text('sim:\n  nam-dinh-2024:\n    - "dossiers > 0"\n', encoding="utf-8")
    return out


def check(run: Path, baseline: Path) -> int:
    return main(
        [
            "check",
            str(run / "sim"),
            "--thresholds",
            str(run / "thresholds.yaml"),
            "--baseline",
            str(baseline),
            "--tolerance",
            "5%",
            "--junit",
            str(run / "junit.xml"),
            "--summary",
            str(run / "summary.md"),
        ]
    )


def test_short_baseline_run_does_not_regress(short_run: Path) -> None:
    assert check(short_run, BASELINE) == 0, (short_run / "summary.md").read_text()


def test_a_worse_forecast_than_the_baseline_is_caught(short_run: Path) -> None:
    baseline = json.loads(BASELINE.read_text())
    baseline["subjects"]["sim/nam-dinh-2024"]["overdue_rate"] /= 2  # pretend we used to do twice as well
    tampered = short_run / "tampered.json"
    tampered.write_text(json.dumps(baseline), encoding="utf-8")
    assert check(short_run, tampered) == 1
    assert "overdue_rate" in (short_run / "summary.md").read_text()
