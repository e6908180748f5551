"""Numbers, percentages and dates as the reader's language writes them (Babel's CLDR data).

Vietnamese writes ``26.490`` and ``2,61 %``; English ``26,490`` and ``2.61%``. Rates (unit ``fraction``)
are shown as percentages, their differences in percentage points; a difference that rounds to zero is
shown as ``0`` (never ``-0.000``).
"""

from __future__ import annotations

import datetime as dt
import math

from babel.dates import format_date
from babel.numbers import format_decimal, format_percent

from dvclab.sim.report_text import code_label, text

# Vietnamese sets a (non-breaking) space before the percent sign; English does not.
_PERCENT = {"vi": "#,##0{}\u00a0%", "en": "#,##0{}%"}


def number(value: float, lang: str, decimals: int = 0) -> str:
    if not math.isfinite(value):
        return "–"
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    shown = format_decimal(_unsigned_zero(value, decimals), pattern, locale=lang)
    return shown.replace("-", "−")


def percent(value: float, lang: str, decimals: int = 2) -> str:
    """A fraction as a percentage: 0.0261 → ``2,61 %`` (vi) or ``2.61%`` (en)."""
    if not math.isfinite(value):
        return "–"
    pattern = _PERCENT[lang].format("." + "0" * decimals if decimals else "")
    return format_percent(_unsigned_zero(value, decimals + 2), pattern, locale=lang).replace("-", "−")


def axis_number(value: float, lang: str) -> str:
    """A plot's tick label: as few decimals as the value needs, in the language's style."""
    return format_decimal(_unsigned_zero(value, 6), "#,##0.######", locale=lang).replace("-", "−")


def date(day: dt.date, lang: str) -> str:
    return format_date(day, "long", locale=lang)


def _decimals(value: float, unit: str) -> int:
    if unit in ("dossiers", "VND"):
        return 0 if value == int(value) or abs(value) >= 100 else 1
    if unit in ("minutes", "points"):
        return 1
    return 2 if abs(value) < 10 else 1


def value(amount: float, unit: str, lang: str) -> str:
    """A KPI's value in its unit: rates as percentages, counts whole, minutes and points to one decimal."""
    if not math.isfinite(amount):
        return "–"
    if unit == "fraction":
        return percent(amount, lang)
    return number(amount, lang, _decimals(amount, unit))


def difference(amount: float, unit: str, lang: str, signed: bool = True) -> str:
    """A difference of two KPI values: rates in percentage points, the others in their unit."""
    if not math.isfinite(amount):
        return "–"
    if unit == "fraction":
        shown = number(100 * amount, lang, 2)
        unit_words = code_label(lang, "unit", "percentage_points")
    else:
        shown = number(amount, lang, _decimals(amount, unit))
        unit_words = code_label(lang, "unit", unit) if unit else ""
    if signed and not shown.startswith("−") and _nonzero(shown):
        shown = "+" + shown
    return f"{shown} {unit_words}".strip()


def difference_interval(low: float, high: float, unit: str, lang: str) -> str:
    """The interval of a difference in the same words as a level's, its unit once:
    ``−0,12 đến +0,30 điểm phần trăm`` (signed bounds: which side of zero it lies on is the point)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return text(lang, "no_interval")
    low_words, high_words = difference(low, unit, lang), difference(high, unit, lang)
    if high_words.partition(" ")[2]:
        low_words = low_words.partition(" ")[0]
    return text(lang, "interval", low=low_words, high=high_words)


def interval(low: float, high: float, unit: str, lang: str) -> str:
    """``1,00 % đến 3,00 %``: a word, not a dash, between the bounds (a dash next to a minus misreads)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return text(lang, "no_interval")  # one replication: no interval at all, not a zero-width one
    return text(lang, "interval", low=value(low, unit, lang), high=value(high, unit, lang))


def _unsigned_zero(amount: float, decimals: int) -> float:
    """0 for a value that rounds to zero at the shown precision (no ``-0``)."""
    return 0.0 if round(amount, decimals) == 0 else amount


def _nonzero(shown: str) -> bool:
    return any(ch in "123456789" for ch in shown)
