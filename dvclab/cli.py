"""The ``dvclab`` console script: a thin command tree over dvclab.sim, .portal, .load and .gate.

Each package registers its own sub-commands (``register(subparsers)`` in its ``cli`` module) and keeps
its heavy imports inside the handlers, so that ``dvclab --help`` stays fast.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad arguments already; keep its message short and specific."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {_suggest(message)}\n")


_INVALID_CHOICE = re.compile(r"invalid choice: '(?P<given>[^']*)' \(choose from (?P<choices>.*)\)$")


def _suggest(message: str) -> str:
    """argparse's "invalid choice" (a command, an action, --format …) with the nearest choice named."""
    from dvclab.hints import did_you_mean

    match = _INVALID_CHOICE.search(message)
    if match is None:
        return message
    hint = did_you_mean(match["given"], re.findall(r"'([^']*)'", match["choices"]))
    return message.replace(f"invalid choice: {match['given']!r}", f"invalid choice: {match['given']!r}{hint}")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dvclab")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="dvclab",
        description="Simulation and load-testing harness for online public services (DVCTT).",
    )
    parser.add_argument("--version", action="version", version=f"dvclab {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    from dvclab import workspace
    from dvclab.gate import cli as gate_cli
    from dvclab.load import cli as load_cli
    from dvclab.portal import cli as portal_cli
    from dvclab.sim import cli as sim_cli

    for part in (workspace, sim_cli, portal_cli, load_cli, gate_cli):
        part.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.command_line = list(argv) if argv is not None else sys.argv[1:]  # for the run manifests
    try:
        return int(args.handler(args) or EXIT_OK)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
