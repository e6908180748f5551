"""What the gate writes: JUnit XML for CI, a Markdown summary for people, and the terminal's verdict
(a table, plain lines, JSON, CSV or one line)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from typing import TextIO

from dvclab.gate.metrics import unit
from dvclab.gate.rules import format_number
from dvclab.gate.verdict import Outcome, Verdict

SECTION_ORDER = ("load", "security", "sim", "bench")
_MARK = {"pass": "✅ pass", "fail": "❌ FAIL", "skipped": "⏭ skipped"}
# What a reader needs first: what failed, then what could not be judged, then what held.
_STATUS_ORDER = {"fail": 0, "skipped": 1, "pass": 2}
FORMATS = ("table", "plain", "json", "csv", "line")


def failures_first(outcomes: list[Outcome]) -> list[Outcome]:
    """Failed, then skipped, then passed; the evaluation's order within each (stable sort)."""
    return sorted(outcomes, key=lambda outcome: _STATUS_ORDER[outcome.status])


def observed_text(outcome: Outcome) -> str:
    """``412 ms``, ``0.0261 (2.61 %)``: the number the rule compares, with its unit."""
    if outcome.observed is None:
        return "n/a"
    number, kind = format_number(outcome.observed), unit(outcome.rule.metric)
    if kind == "fraction":
        return f"{number} ({outcome.observed:.2%})".replace("%)", " %)")
    return f"{number} {kind}" if kind else number


def headline(verdict: Verdict) -> str:
    parts = [f"{verdict.count('pass')} passed", f"{verdict.count('fail')} failed"]
    if verdict.count("skipped"):
        parts.append(f"{verdict.count('skipped')} skipped")
    if verdict.baseline_compared:
        parts.append(f"{len(verdict.regressions)} regressions")
    return ("FAIL" if verdict.failed else "PASS") + ": " + ", ".join(parts)


# --- JUnit --------------------------------------------------------------------------------------------
def case_id(outcome: Outcome) -> tuple[str, str]:
    """(classname, name) of a rule × subject, the same in every build: no run folder, no timestamp.
    ``("dvclab.check.load.smoke", "GET /api/v1/procedures: p95_ms < 300")``."""
    classname = f"dvclab.check.{outcome.section}" + (f".{outcome.name}" if outcome.name else "")
    name = f"{outcome.part}: {outcome.rule.text}" if outcome.part else outcome.rule.text
    return classname, name


def _testcase(suite: ET.Element, outcome: Outcome, seen: dict[tuple[str, str], int]) -> None:
    classname, name = case_id(outcome)
    # Two runs of one profile in one check: number the later ones rather than merge their cases.
    seen[(classname, name)] = seen.get((classname, name), 0) + 1
    if seen[(classname, name)] > 1:
        name += f" (run {seen[(classname, name)]})"
    case = ET.SubElement(suite, "testcase", classname=classname, name=name, time="0")
    if outcome.status == "fail":
        failure = ET.SubElement(case, "failure", type="threshold", message=outcome.message)
        failure.text = outcome.message
    elif outcome.status == "skipped":
        ET.SubElement(case, "skipped", message=outcome.detail)


def junit_xml(verdict: Verdict) -> str:
    """One ``<testsuite>`` per section and one ``<testcase>`` per rule × subject; baseline last."""
    root = ET.Element("testsuites", name="dvclab check")
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    seen: dict[tuple[str, str], int] = {}
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
            _testcase(suite, outcome, seen)
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


def _markdown_table(outcomes: list[Outcome]) -> list[str]:
    lines = ["| result | section | subject | rule | observed | note |", "|---|---|---|---|---|---|"]
    for outcome in outcomes:
        cells = (
            _MARK[outcome.status],
            outcome.section,
            outcome.subject,
            f"`{outcome.rule.text}`",
            observed_text(outcome),
            outcome.detail if outcome.status != "pass" else "",
        )
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return lines


def markdown(verdict: Verdict) -> str:
    """Failures first, each with its observed value and unit; the passes folded away below them."""
    lines = [f"# dvclab check — {headline(verdict)}", ""]
    if not verdict.outcomes:
        lines.append("No rules applied.")
    for status, title in (("fail", "Failed"), ("skipped", "Not evaluated")):
        chosen = [o for o in verdict.outcomes if o.status == status]
        if chosen:
            lines += [f"## {title} ({len(chosen)})", "", *_markdown_table(chosen), ""]
    passed = [o for o in verdict.outcomes if o.status == "pass"]
    if passed:
        lines += [f"<details><summary>Passed ({len(passed)})</summary>", ""]
        lines += [*_markdown_table(passed), "", "</details>", ""]
    while lines and lines[-1] == "":
        lines.pop()
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
def _failure_name(outcome: Outcome) -> str:
    where = " ".join(part for part in (outcome.section, outcome.name, outcome.part) if part)
    return f"{where}: {outcome.rule.text} (observed {observed_text(outcome)})"


def one_line(verdict: Verdict, named: int = 5) -> str:
    """The verdict in one line: failures named (the first few), passes and skips counted."""
    failed = [o for o in verdict.outcomes if o.status == "fail"]
    counts = [f"{verdict.count('pass')} passed"]
    if verdict.count("skipped"):
        by_section = Counter(o.section for o in verdict.outcomes if o.status == "skipped")
        where = ", ".join(f"{section} {count}" for section, count in by_section.items())
        counts.append(f"{verdict.count('skipped')} not evaluated ({where})")
    if verdict.baseline_compared:
        counts.append(f"{len(verdict.regressions)} regressions")
    if not verdict.failed:
        return "PASS: " + ", ".join(counts)
    names = [_failure_name(o) for o in failed[:named]]
    if len(failed) > named:
        names.append(f"and {len(failed) - named} more")
    names += [regression.message for regression in verdict.regressions[: max(0, named - len(failed))]]
    return f"FAIL: {len(failed)} failed — " + "; ".join(names) + " — " + ", ".join(counts)


def _records(verdict: Verdict) -> list[dict[str, object]]:
    return [
        {
            "status": o.status,
            "section": o.section,
            "subject": o.subject,
            "name": o.name,
            "part": o.part,
            "rule": o.rule.text,
            "metric": o.rule.metric,
            "observed": o.observed,
            "unit": unit(o.rule.metric),
            "detail": o.detail,
        }
        for o in failures_first(verdict.outcomes)
    ]


def _print_json(verdict: Verdict, stream: TextIO) -> None:
    import json

    document = {
        "verdict": "FAIL" if verdict.failed else "PASS",
        "passed": verdict.count("pass"),
        "failed": verdict.count("fail"),
        "skipped": verdict.count("skipped"),
        "outcomes": _records(verdict),
        "regressions": [regression.message for regression in verdict.regressions],
        "notices": verdict.notices,
    }
    stream.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")


def _print_csv(verdict: Verdict, stream: TextIO) -> None:
    import csv

    records = _records(verdict)
    writer = csv.DictWriter(
        stream, fieldnames=list(records[0]) if records else ["status"], lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(records)


def _print_plain(verdict: Verdict, stream: TextIO) -> None:
    """One outcome a line, nothing cut or wrapped: for logs and grep."""
    for o in failures_first(verdict.outcomes):
        note = f" — {o.detail}" if o.detail and o.status != "pass" else ""
        line = f"{o.status.upper():7} {o.section:8} {o.subject} | {o.rule.text} | {observed_text(o)}{note}"
        stream.write(line + "\n")
    for regression in verdict.regressions:
        stream.write(f"REGRESSION {regression.message}\n")
    for notice in verdict.notices:
        stream.write(f"note: {notice}\n")
    stream.write(headline(verdict) + "\n")


def _print_table(verdict: Verdict, stream: TextIO) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(file=stream, highlight=False, soft_wrap=False, width=max(100, Console().width))
    table = Table(show_lines=False, header_style="bold")
    for column in ("result", "section", "subject", "rule", "observed", "note"):
        # fold, never "…": a subject or a KPI name cut short is a name the reader cannot look up
        table.add_column(column, overflow="fold", no_wrap=column == "rule")
    style = {"pass": "green", "fail": "bold red", "skipped": "yellow"}
    for o in failures_first(verdict.outcomes):
        note = o.detail if o.status != "pass" else ""
        cells = (o.section, o.subject, o.rule.text, observed_text(o), note)
        table.add_row(f"[{style[o.status]}]{o.status}[/]", *(escape(cell) for cell in cells))
    if verdict.outcomes:
        console.print(table)
    for regression in verdict.regressions:
        console.print(f"[bold red]regression[/] {escape(regression.message)}")
    for notice in verdict.notices:
        console.print(f"[dim]note:[/] {escape(notice)}")
    console.print(f"[{'bold red' if verdict.failed else 'bold green'}]{headline(verdict)}[/]")


def print_summary(verdict: Verdict, stream: TextIO, form: str = "table") -> None:
    """The verdict on the terminal in one of FORMATS (``line``: the one-line verdict only)."""
    if form == "line":
        stream.write(one_line(verdict) + "\n")
    elif form == "json":
        _print_json(verdict, stream)
    elif form == "csv":
        _print_csv(verdict, stream)
    elif form == "plain":
        _print_plain(verdict, stream)
    else:
        _print_table(verdict, stream)
