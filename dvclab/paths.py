"""Where dvclab finds the data it ships and where it writes results.

Shipped data (procedure catalog, what-if scenarios, load profiles, thresholds) is package data of
``dvclab.scenarios`` (the repository's ``scenarios/`` folder), found through ``importlib.resources`` so
that a wheel installed anywhere reads it. Results go to ``./results`` of the working directory, like any
file a user makes; ``dvclab init`` copies the shipped data into a workspace for editing.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def shipped(*parts: str) -> Path:
    """A file or folder of the shipped data, e.g. ``shipped("sim", "nam-dinh-2024.yaml")``."""
    # dvclab installs as plain files (wheel or editable), so the resource root is a real folder.
    return Path(str(files("dvclab.scenarios"))).joinpath(*parts)


def results_dir(*parts: str) -> Path:
    """``./results/…`` of the working directory, computed when asked (tests and users change folder)."""
    return Path.cwd().joinpath("results", *parts)
