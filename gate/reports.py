"""What the gate writes: JUnit XML for CI, a Markdown summary for people, a table on the terminal."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TextIO

from dvclab.gate.rules import format_number
from dvclab.gate.verdict import Outcome, Verdict

SECTION_ORDER = ("load", "security", "sim", "bench")
_MARK = {"pass": "✅ pass", "fail": "❌ FAIL", "skipped": "⏭ skipped"}


def headline(verdict: Verdict) -> str:
    parts = [f"{verdict.count('pass')} passed", f"{verdict.count('fail')} failed"]
    if verdict.count("skipped"):
        parts.append(f"{verdict.count('skipped')} skipped")
    if verdict.baseline_compared:
        parts.append(f"{len(verdict.regressions)} regressions")
    return ("FAIL" if verdict.failed else "PASS") + ": " + ", ".join(parts)


# --- JUnit --------------------------------------------------------------------------------------------
def _testcase(suite: ET.Element, outcome: Outcome) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        classname=f"dvclab.check.{outcome.section}",
        name=f"{outcome.subject}: {outcome.rule.text}",
        time="0",
    )
    if outcome.status == "fail":
        failure = ET.SubElement(case, "failure", type="threshold", message=outcome.message)
        failure.text = outcome.message
    elif outcome.status == "skipped":
        ET.SubElement(case, "skipped", message=outcome.detail)


def junit_xml(verdict: Verdict) -> str:
    """One ``<testsuite>`` per section and one ``<testcase>`` per rule × subject; baseline last."""
    root = ET.Element("testsuites", name="dvclab check")
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for section in SECTION_ORDER:
        outcomes = [o for o in verdict.outcomes if o.section == section]
        if not outcomes:
            continue
        counts = {
            "tests": len(outcomes),
            "failures": sum(o.status == "fail" for o in outcomes),
            "skipped": sum(o.status == "skipped" for o in outcomes),
        }
        suite = ET.SubElement(
            root, "testsuite", name=section, errors="0", **{k: str(v) for k, v in counts.items()}
        )
        for outcome in outcomes:
            _testcase(suite, outcome)
        totals = {key: totals[key] + counts[key] for key in totals}
    if verdict.baseline_compared:
        # One case for the comparison as a whole: it fails listing every regression by name.
        failures = len(verdict.regressions) > 0
        suite = ET.SubElement(
            root,
            "testsuite",
            name="baseline",
            tests="1",
            failures=str(int(failures)),
            errors="0",
            skipped="0",
        )
        case = ET.SubElement(
            suite, "testcase", classname="dvclab.check.baseline", name="no regression", time="0"
        )
        if failures:
            failure = ET.SubElement(
                case, "failure", type="regression", message=f"{len(verdict.regressions)} regressions"
            )
            failure.text = "\n".join(regression.message for regression in verdict.regressions)
        totals["tests"] += 1
        totals["failures"] += int(failures)
    root.attrib.update({key: str(value) for key, value in totals.items()})
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# --- Markdown -----------------------------------------------------------------------------------------
def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(verdict: Verdict) -> str:
    lines = [f"# dvclab check — {headline(verdict)}", ""]
    if verdict.outcomes:
        lines += ["| result | section | subject | rule | observed | note |", "|---|---|---|---|---|---|"]
        for outcome in verdict.outcomes:
            note = outcome.detail if outcome.status != "pass" else ""
            cells = (
                _MARK[outcome.status],
                outcome.section,
                outcome.subject,
                f"`{outcome.rule.text}`",
                format_number(outcome.observed),
                note,
            )
            lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    else:
        lines.append("No rules applied.")
    if verdict.baseline_compared:
        lines += ["", "## Baseline", ""]
        if verdict.regressions:
            lines += ["| subject | metric | baseline | observed | change |", "|---|---|---|---|---|"]
            for r in verdict.regressions:
                change = "from 0" if r.change == float("inf") else f"{r.change:+.1%}"
                cells = (r.subject, r.metric, format_number(r.baseline), format_number(r.observed), change)
                lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
        else:
            lines.append("No regression beyond the tolerance.")
    if verdict.notices:
        lines += ["", "## Notes", ""] + [f"- {_cell(notice)}" for notice in verdict.notices]
    return "\n".join(lines) + "\n"


# --- terminal -----------------------------------------------------------------------------------------
def print_summary(verdict: Verdict, stream: TextIO) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(file=stream, highlight=False, soft_wrap=False, width=max(100, Console().width))
    table = Table(show_lines=False, header_style="bold")
    for column in ("result", "section", "subject", "rule", "observed", "note"):
        table.add_column(column, overflow="fold")
    style = {"pass": "green", "fail": "bold red", "skipped": "yellow"}
    for o in verdict.outcomes:
        note = o.detail if o.status != "pass" else ""
        cells = (o.section, o.subject, o.rule.text, format_number(o.observed), note)
        table.add_row(f"[{style[o.status]}]{o.status}[/]", *(escape(cell) for cell in cells))
    if verdict.outcomes:
        console.print(table)
    for regression in verdict.regressions:
        console.print(f"[bold red]regression[/] {escape(regression.message)}")
    for notice in verdict.notices:
        console.print(f"[dim]note:[/] {escape(notice)}")
    console.print(f"[{'bold red' if verdict.failed else 'bold green'}]{headline(verdict)}[/]")
