"""``dvclab sim …``: validate and run simulation scenarios."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    sim = commands.add_parser("sim", help="run what-if scenarios of the procedure pipeline")
    actions = sim.add_subparsers(dest="sim_command", metavar="ACTION")
    actions.required = True
