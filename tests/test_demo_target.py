"""`make demo` stays a first contact anyone can run: no root or apt, short, and gating both of its runs.

Read from the Makefile rather than run (the demo itself takes minutes; README, "The demo", gives its
measured time)."""

from __future__ import annotations

import re
from pathlib import Path

MAKEFILE = Path(__file__).resolve().parents[1] / "Makefile"


def _demo_recipe() -> tuple[list[str], str]:
    text = MAKEFILE.read_text(encoding="utf-8")
    header = re.search(r"^demo:(.*)$", text, re.MULTILINE)
    assert header is not None, "no demo target"
    recipe = []
    for line in text[header.end() + 1 :].splitlines():
        if line and not line.startswith("\t"):
            break
        recipe.append(line)
    return header.group(1).split(), "\n".join(recipe)


def test_demo_needs_no_system_deps():
    prerequisites, recipe = _demo_recipe()
    assert "system-deps" not in prerequisites
    commands = re.sub(r'echo "[^"]*"', "", recipe)  # what it says is not what it runs
    assert "apt" not in commands and "sudo" not in commands and "redis" not in commands.lower()


def test_demo_is_short_meaningful_and_gates_both_runs_in_one_line():
    from dvclab.sim.experiment import MEANINGFUL_REPLICATIONS

    text = MAKEFILE.read_text(encoding="utf-8")
    options = re.search(r"^DEMO_RUN := (.*)$", text, re.MULTILINE)
    assert options is not None
    replications = int(re.search(r"--replications (\d+)", options.group(1)).group(1))
    horizon = int(re.search(r"--horizon-days (\d+)", options.group(1)).group(1))
    jobs = int(re.search(r"--jobs (\d+)", options.group(1)).group(1))
    # enough replications for the intervals to mean something (2 printed the "not meaningful" warning),
    # no more; all of them at once (3 processes on 2 cores: 1.5 rounds of CPU instead of 2 rounds)
    assert replications == MEANINGFUL_REPLICATIONS and jobs == replications and horizon <= 90
    _, recipe = _demo_recipe()
    assert re.search(r'dvclab check "\$\$sim" \$\$load --format line', recipe)
    assert recipe.index('echo "report: ') < recipe.index("dvclab check")  # the verdict is the last line


def test_readme_says_what_the_demo_runs():
    readme = (MAKEFILE.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The demo", 1)[1].split("\n## ", 1)[0]
    options = re.search(r"^DEMO_RUN := (.*)$", MAKEFILE.read_text(encoding="utf-8"), re.MULTILINE)
    assert options is not None
    assert " ".join(section.split()).count(options.group(1)) >= 1, "README quotes other demo options"
