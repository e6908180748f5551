"""The HTML report: a first screen (what was asked, the answer, how sure), every STRESS-DES section and
every plot, in both languages with numbers written the language's way and no code left untranslated,
self-contained, with Vietnamese glyphs in the plots, and it loads in headless Chromium with every image
and no error."""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import subprocess
import warnings
from functools import cache
from pathlib import Path

import pytest

from dvclab.paths import shipped
from dvclab.sim.compare import compare
from dvclab.sim.report import (
    RESULT_PLOTS,
    SECTIONS,
    compare_report,
    estimated_parameters,
    run_report,
    words_for,
)
from dvclab.sim.report_text import text
from dvclab.sim.scenario import load_scenario
from tests.workbench.conftest import TINY_PLUS, catalog, tiny

COMMAND = ["dvclab", "sim", "run", "tiny.yaml"]


@cache
def run_page(lang: str) -> str:
    return render(lambda: run_report(tiny(), catalog(), lang, COMMAND))


@cache
def comparison_page(lang: str) -> str:
    return render(lambda: compare_report([compare(tiny(), tiny(TINY_PLUS))], catalog(), lang, COMMAND))


def images(page: str) -> dict[str, bytes]:
    found = re.findall(r'<figure id="([^"]+)"><img alt="[^"]+" src="data:image/png;base64,([^"]+)"', page)
    return {plot_id: base64.b64decode(data) for plot_id, data in found}


def render(draw) -> str:  # noqa: ANN001
    """Build a report, failing on any matplotlib warning (a glyph missing from the font is one)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return draw()


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_run_report_has_every_section_and_plot(lang: str) -> None:
    page = run_page(lang)
    assert f'<html lang="{lang}">' in page
    for section in SECTIONS:
        assert f'<section id="{section}"><h2>{text(lang, section)}</h2>' in page
    plots = images(page)
    assert set(plots) == {"plot-flow", *RESULT_PLOTS}
    for plot_id, png in plots.items():
        assert png.startswith(b"\x89PNG") and len(png) > 5_000, plot_id
    # self-contained: nothing fetched from elsewhere
    assert not re.search(r'(src|href)="(?!data:)', page)
    assert "seed" in page.lower() or "hạt giống" in page.lower()
    assert str(tiny().scenario.run.seed) in page


@pytest.mark.slow
def test_reports_speak_the_language_asked() -> None:
    vi, en = run_page("vi"), run_page("en")
    assert "Tỷ lệ hồ sơ trễ hạn theo cấp và nhóm thủ tục" in vi and "Thiết kế thực nghiệm" in vi
    assert "Overdue rate by level and procedure group" in en and "Experimentation" in en
    assert "Thiết kế thực nghiệm" not in en


@pytest.mark.slow
def test_data_section_separates_sourced_from_estimated() -> None:
    page = run_page("en")
    data = page.split('<section id="data">')[1].split("</section>")[0]
    assert re.search(r"[\d,]+ sourced .* [\d,]+ estimated", data)
    assert "dossiers_per_year" in data and "EST" in data  # the baseline file's marked estimates
    assert "nam-dinh-2024.yaml" in data


def visible_text(page: str) -> str:
    """What a reader sees: the page without tags, styles and embedded images."""
    page = re.sub(r"<style>.*?</style>", " ", page, flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


@pytest.mark.slow
def test_comparison_report_opens_with_the_question_the_answer_and_how_sure() -> None:
    for lang in ("vi", "en"):
        page = comparison_page(lang)
        first = re.search(r'<section id="([^"]+)"', page).group(1)
        assert first == "summary"
        summary = page.split('<section id="summary"')[1].split("</section>")[0]
        for key in ("asked", "answer", "how_sure"):
            assert f"<h2>{text(lang, key)}</h2>" in summary
        # what the what-if changes, in words and as the path, and the minimal-difference table
        assert "back_office.staffing.district.land" in summary
        assert re.search(r"<td[^>]*>2</td><td[^>]*>3</td>", summary)
        assert text(lang, "minimal_differences") in summary
        # the same catalog read through two paths is not a change
        assert ">catalog<" not in page
        assert set(images(page)) == {"plot-forest", "plot-flow", *RESULT_PLOTS}
        for section in ("changes", "differences", *SECTIONS):
            assert f'<section id="{section}">' in page
    vi = visible_text(comparison_page("vi"))
    assert "thủ tục hành chính" in vi and "95 trên 100 lần" in vi
    assert "Số cán bộ Đất đai, cấp huyện" in vi
    assert "95 times in 100" in visible_text(comparison_page("en"))


@pytest.mark.slow
def test_vietnamese_report_writes_numbers_and_words_the_vietnamese_way() -> None:
    vi, en = visible_text(run_page("vi")), visible_text(run_page("en"))
    assert re.search(r"\d,\d\d\u00a0%", vi) and not re.search(r"\d\.\d\d\u00a0?%", vi)
    assert re.search(r"\d\.\d\d%", en)
    # units and codes in words: no English unit, no group, level or pool code in the tables
    results = visible_text(run_page("vi").split('<section id="results">')[1])
    for code in ("fraction", "minutes", "trips", "civil_status", "commune", "district", "land"):
        assert code not in results, code
    assert "Tỷ lệ trễ hạn cấp xã" in results and "Hộ tịch" in results and "phút" in results
    assert "-0.000" not in vi and "−0,00 " not in vi


def test_a_run_of_one_replication_reports_no_interval_rather_than_failing() -> None:
    page = visible_text(render(lambda: run_report(tiny(replications=1), catalog(), "vi", COMMAND)))
    assert "không có (cần ít nhất 2 lần chạy lặp)" in page and "nan" not in page.lower().split()


def test_the_assumptions_table_skips_the_files_header_comment() -> None:
    rows = estimated_parameters(str(shipped("sim", "nam-dinh-2024.yaml")))
    keys = [parameter for _, parameter, _, _ in rows]
    assert "name" not in keys
    assert "demand.dossiers_per_year" in keys and "demand.month_factors" in keys  # inline EST, EST above


def test_headlines_name_the_scenario_in_words() -> None:
    what_if, _ = load_scenario(shipped("sim", "land-office-plus-2.yaml"))
    assert words_for(what_if) == "Two more land officers per district land registration office"
    small, _ = load_scenario(TINY_PLUS)  # no description of its own: the parent's is not its own
    assert words_for(small) == "tiny land plus 1"


@pytest.mark.slow
def test_utilisation_means_lie_inside_their_own_intervals() -> None:
    for name, e in tiny().summary().items():
        assert e.ci_low <= e.mean <= e.ci_high, name


def test_vietnamese_glyphs_are_in_the_plot_font() -> None:
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    font = FT2Font(font_manager.findfont("DejaVu Sans", fallback_to_default=False))
    charmap = font.get_charmap()
    words = "".join(text("vi", key) for key in ("plot_overdue", "plot_wait", "plot_766", "plot_heatmap"))
    missing = {ch for ch in words if ord(ch) not in charmap and not ch.isspace()}
    assert not missing, f"glyphs missing from DejaVu Sans: {missing}"


# A probe appended to a copy of the report: it records image loads and script errors into the DOM.
PROBE = """<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message || e.type)), true);
window.addEventListener('load', () => {
  const images = [...document.images].map(i => i.complete && i.naturalWidth > 0);
  const probe = document.createElement('pre'); probe.id = 'probe';
  probe.textContent = JSON.stringify({images: images, errors: window.__errors});
  document.body.appendChild(probe);
});
</script>"""


def chromium() -> str:
    """Headless Chromium. Missing, it fails the test that needs it: a report check never passes unseen."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("chromium is not installed: run `bash .ci/system-deps.sh`", pytrace=False)
    return found


def load_in_chromium(page: str, folder: Path) -> tuple[dict, list[str]]:
    """Open a copy of the report with the probe in headless Chromium: (probe record, console lines)."""
    probed = folder / "probed.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    result = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={folder / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=10000",
            "--dump-dom",
            probed.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = re.search(r'<pre id="probe">([^<]*)</pre>', result.stdout)
    assert found, f"the page did not finish loading: {result.stderr[-2000:]}"
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    return json.loads(found.group(1)), console


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_report_loads_in_headless_chromium(tmp_path: Path, lang: str) -> None:
    page = comparison_page(lang)
    probe, console = load_in_chromium(page, tmp_path)
    assert len(probe["images"]) == len(images(page)) == len(RESULT_PLOTS) + 2
    assert all(probe["images"]), probe
    assert probe["errors"] == []
    assert console == []


@pytest.mark.parametrize(
    ("lang", "rate", "count", "difference"),
    [
        ("vi", "2,61\u00a0%", "26.490", "−1,23 điểm phần trăm"),
        ("en", "2.61%", "26,490", "−1.23 percentage points"),
    ],
)
def test_numbers_are_formatted_for_the_language(lang: str, rate: str, count: str, difference: str) -> None:
    from dvclab.sim import report_format as f

    assert f.value(0.0261, "fraction", lang) == rate
    assert f.value(26490, "dossiers", lang) == count
    assert f.difference(-0.0123, "fraction", lang) == difference
    # a difference that rounds to zero has no sign: never "-0.000"
    assert f.difference(-0.00001, "fraction", lang).startswith("0")
    assert f.difference(0.5, "minutes", lang).startswith("+0")
