"""The report's assumptions table quotes the scenario file as written (#14): each marked key's value
and the comment beside it exactly as the file has them, never a re-serialised form."""

from __future__ import annotations

from pathlib import Path

from dvclab.paths import shipped
from dvclab.sim.assumptions import comment_of, estimated_parameters

PARENT = """\
# Header comment: EST here is about the file, not about a key.
name: parent
demand:
  dossiers_per_year: 1_000_000   # EST, about 0.5 per person
  level_shares: {province: 0.10, district: 0.30, commune: 0.60}   # EST
  # EST: the rush before Tết
  month_factors: [1.10, 0.75, 1.00,
                  1.00, 1.20]
  # EST: a note followed by a blank line notes no key

  weekday_factors: [1.25, 1.05]
counters:
  same_day_cutoff: "15:00"   # VERIFY: "#" inside quotes is not a comment
  label: "room # 2"
supplements:
  clock: pauses             # VERIFY (Decree 61/2018): time already spent counts,
                            # the citizen's time to answer does not
  rework_share: 0.5
back_office:
  staffing:        # officers per unit. EST
    district: {land: 16, economy: 5}
    province: {culture: 15,
               transport: 6}
  effort_cv: 0.6
"""
WHATIF = """\
# What-if: more officers (EST in the header is no key's note).
extends: parent.yaml
name: whatif
back_office:
  staffing:
    district: {land: 18}   # EST: two more
"""


def rows_of(tmp_path: Path) -> dict[str, tuple[str, str, str]]:
    (tmp_path / "parent.yaml").write_text(PARENT, encoding="utf-8")
    (tmp_path / "whatif.yaml").write_text(WHATIF, encoding="utf-8")
    rows = estimated_parameters(str(tmp_path / "whatif.yaml"))
    assert len({path for _, path, _, _ in rows}) == len(rows), rows  # each key once
    return {path: (file, value, note) for file, path, value, note in rows}


def test_values_are_quoted_as_written(tmp_path: Path) -> None:
    rows = rows_of(tmp_path)
    assert rows["demand.dossiers_per_year"][1] == "1_000_000"  # not 1000000
    assert rows["demand.level_shares"][1] == "{province: 0.10, district: 0.30, commune: 0.60}"  # not 0.1
    assert rows["demand.month_factors"][1] == "[1.10, 0.75, 1.00,\n 1.00, 1.20]"
    assert rows["counters.same_day_cutoff"][1] == '"15:00"'
    assert rows["back_office.staffing"][1] == (
        "district: {land: 16, economy: 5}\nprovince: {culture: 15,\n           transport: 6}"
    )


def test_comments_are_quoted_beside_above_and_continued(tmp_path: Path) -> None:
    rows = rows_of(tmp_path)
    assert rows["demand.dossiers_per_year"][2] == "EST, about 0.5 per person"
    assert rows["demand.month_factors"][2] == "EST: the rush before Tết"
    assert rows["counters.same_day_cutoff"][2] == 'VERIFY: "#" inside quotes is not a comment'
    assert rows["supplements.clock"][2] == (
        "VERIFY (Decree 61/2018): time already spent counts, the citizen's time to answer does not"
    )
    assert rows["back_office.staffing"][2] == "officers per unit. EST"


def test_only_marked_keys_each_file_named(tmp_path: Path) -> None:
    rows = rows_of(tmp_path)
    assert rows["back_office.staffing.district"] == ("whatif.yaml", "{land: 18}", "EST: two more")
    assert {file for file, _, _ in rows.values()} == {"whatif.yaml", "parent.yaml"}
    for unmarked in (
        "name",
        "extends",
        "demand.weekday_factors",
        "counters.label",
        "supplements.rework_share",
    ):
        assert unmarked not in rows, unmarked
    # a block quoted whole is not also split into its keys
    assert "back_office.staffing.province" not in rows and "demand.level_shares.province" not in rows


def test_the_shipped_baseline_is_quoted_as_written() -> None:
    rows = {
        path: (value, note)
        for _, path, value, note in estimated_parameters(str(shipped("sim", "nam-dinh-2024.yaml")))
    }
    assert "name" not in rows and "description" not in rows
    assert rows["supplements.clock"] == (
        "pauses",
        "VERIFY (Decree 61/2018): time already spent counts toward the deadline, the citizen's time to "
        "answer does not",
    )
    staffing = rows["back_office.staffing"][0]
    assert staffing.startswith("district: {land: 16,") and staffing.endswith("transport: 6}")
    assert rows["results_return.postal_share_of_paper"][0] == "0.10"


def test_a_comment_is_found_outside_quotes_only() -> None:
    assert comment_of('  label: "room # 2"') is None
    assert comment_of("  x: 1 # EST") == (7, "EST")
    assert comment_of("  url: http://a#b") is None
