"""Draft a portal map from what an engineer already has: a browser's HAR recording of a journey
(``dvclab load map from-har``) or the portal's OpenAPI spec (``dvclab load map from-openapi``).

A draft is a starting point, printed as YAML with notes on top: steps named after the journey step they
look like (or ``step_N_…`` to rename), test data put where it goes (``{{ national_id }}``,
``{{ password }}``, ``{{ document }}``…), and, from a recording, every value the portal handed out and
the browser sent back (tokens, ids, CSRF fields, receipt codes) turned into a capture on the step that
answered it and a placeholder where it was sent. ``dvclab load map check`` then shows what is still wrong.
"""

from __future__ import annotations

import re

# (journey step, pattern on "METHOD path summary"), first match wins; each step is claimed once.
KEYWORDS: list[tuple[str, str]] = [
    ("callback", r"callback|webhook"),
    ("login", r"\blog ?in\b|login|sign ?in|dang-nhap|/auth/token"),
    ("upload", r"^POST .*(files|upload|attach|/tep|tai-lieu)"),
    ("submit", r"^POST .*(submit|/nop\b)"),
    ("pay", r"^POST .*(payment|/pay\b|thanh-toan)"),
    ("rate", r"^POST .*(rating|/rate\b|danh-gia)"),
    ("receive", r"^POST .*(receive|tiep-nhan)"),
    ("supplement", r"^POST .*(supplement|bo-sung)"),
    ("decide", r"^POST .*(decision|decide|quyet-dinh)"),
    ("return", r"^POST .*(/result\b|tra-ket-qua)"),
    ("queue", r"^GET .*(queue|hang-cho|inbox)"),
    ("sync", r"^GET .*(sync|status-changes|dong-bo)"),
    ("track", r"^GET .*(track|tra-cuu|lookup)"),
    ("statistics", r"^GET .*(statistic|thong-ke)"),
]
# Names of captures the journeys read, by the step that answers them.
CAPTURE_NAMES = {
    "search": "procedure_code", "create": "dossier", "submit": "receipt", "queue": "queue",
    "status": "status",
}  # fmt: skip


class DraftError(ValueError):
    """A recording or spec that cannot be drafted from (not a HAR file, not an OpenAPI spec)."""


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:30] or "x"


def guess_step(method: str, path: str, summary: str, taken: set[str]) -> str | None:
    line = f"{method} {path} {summary}".lower()
    for step, pattern in KEYWORDS:
        if step not in taken and re.search(pattern, line, re.I):
            return step
    return None
