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


def test_demo_is_short_and_gates_both_runs_in_one_line():
    text = MAKEFILE.read_text(encoding="utf-8")
    options = re.search(r"^DEMO_RUN := (.*)$", text, re.MULTILINE)
    assert options is not None
    replications = int(re.search(r"--replications (\d+)", options.group(1)).group(1))
    horizon = int(re.search(r"--horizon-days (\d+)", options.group(1)).group(1))
    assert replications <= 4 and horizon <= 90 and "--jobs 2" in options.group(1)
    _, recipe = _demo_recipe()
    assert re.search(r'dvclab check "\$\$sim" \$\$load --format line', recipe)
    assert recipe.index('echo "report: ') < recipe.index("dvclab check")  # the verdict is the last line
