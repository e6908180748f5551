"""What a provincial official reads first on a comparison report (#14, from its screenshots): the period
simulated, both kinds of "no change" explained, a difference's interval in the same words as a level's
and named as the difference's, and each change in the answer with its levels before and after."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from dvclab.sim import report
from dvclab.sim import report_format as f
from dvclab.sim.report_text import text


def test_how_sure_names_the_period_simulated() -> None:
    run = SimpleNamespace(start_date=dt.date(2024, 1, 1), horizon_days=90)
    experiment = SimpleNamespace(scenario=SimpleNamespace(run=run), replications=3)
    vi = report._how_sure("vi", experiment)["text"]  # type: ignore[arg-type]
    en = report._how_sure("en", experiment)["text"]  # type: ignore[arg-type]
    assert "3 lần mô phỏng độc lập, mỗi lần 90 ngày (từ 1 tháng 1, 2024 đến 30 tháng 3, 2024)" in vi
    assert "3 independent simulated runs of 90 days (January 1, 2024 to March 30, 2024)" in en


def test_both_verdicts_without_a_change_are_explained() -> None:
    for lang in ("vi", "en"):
        explained = text(lang, "how_sure_compare")
        assert (
            text(lang, "no significant change") in explained and text(lang, "no material change") in explained
        )


def test_a_difference_interval_reads_like_a_level_interval() -> None:
    assert f.difference_interval(-0.0135, -0.0086, "fraction", "vi") == "−1,35 đến −0,86 điểm phần trăm"
    assert f.difference_interval(-0.5, 1.25, "minutes", "en") == "−0.5 to +1.2 minutes"
    assert f.difference_interval(float("nan"), float("nan"), "minutes", "en") == text("en", "no_interval")
    assert text("vi", "ci_difference") in [text("vi", k) for k in report._DIFFERENCE_HEADER]


def test_the_answer_gives_each_change_with_its_levels() -> None:
    levels = {"base": "2,77 %", "whatif": "1,67 %", "diff": "−1,11 điểm phần trăm"}
    words = text("vi", "answer_change", kpi="Tỷ lệ trễ hạn", verdict="tốt hơn", **levels)
    assert words == "Tỷ lệ trễ hạn tốt hơn: 2,77 % → 1,67 % (−1,11 điểm phần trăm)"


def test_a_vietnamese_report_names_the_scenarios_in_vietnamese() -> None:
    from dvclab.paths import shipped
    from dvclab.sim.scenario import load_scenario

    base, _ = load_scenario(shipped("sim", "nam-dinh-2024.yaml"))
    whatif, _ = load_scenario(shipped("sim", "land-office-plus-2.yaml"))
    assert report.words_for(base, "vi") == "Nam Định năm 2024 theo số liệu báo cáo"
    vi = "Thêm hai cán bộ cho mỗi chi nhánh văn phòng đăng ký đất đai cấp huyện"
    assert report.words_for(whatif, "vi") == vi
    assert report.words_for(whatif, "en") == "Two more land officers per district land registration office"
