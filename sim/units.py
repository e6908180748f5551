"""The province's units as data: each commune's size, its district, and any unit's own staffing.

A scenario names its units file (``units:``, beside ``catalog:``); every seed and every replication
simulates the same province, and the seed varies only the citizens and the work. The file has one row per
unit (``scenarios/catalog/README.md``); a commune's ``demand_share`` is its share of the province's commune
and district demand (the district's share is its communes' sum, written for the reader). ``staffing``
overrides the scenario's ``back_office.staffing`` for that one unit (``land=18;economy=6``); empty, the
unit has its level's staffing.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from dvclab.catalog import LEVELS

UNIT_COLUMNS = ("unit", "level", "number", "district", "demand_share", "staffing")


class UnitsError(ValueError):
    """A units file that cannot be read or breaks its contract."""


@dataclass(frozen=True)
class Units:
    commune_share: np.ndarray  # by commune number; sums to 1
    district_of: np.ndarray  # district number of each commune
    districts: int
    staffing: dict[tuple[str, int], dict[str, int]] = field(default_factory=dict)  # (level, number) -> pools

    @property
    def communes(self) -> int:
        return len(self.commune_share)

    def officers(self, level: str, number: int, agency: str) -> int | None:
        """The unit's own officers for the agency, or None when it has its level's staffing."""
        return self.staffing.get((level, number), {}).get(agency)


def _staffing(text: str, where: str) -> dict[str, int]:
    pools: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(";"))):
        agency, _, officers = item.partition("=")
        if not officers.strip().isdigit() or int(officers) < 1:
            raise UnitsError(f"{where}: staffing {item!r}: write agency=officers, officers >= 1")
        pools[agency.strip()] = int(officers)
    return pools


@cache
def load_units(path: Path) -> Units:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = set(UNIT_COLUMNS) - set(reader.fieldnames or ())
            if missing:
                raise UnitsError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
            rows = list(reader)
    except FileNotFoundError:
        raise UnitsError(f"{path}: units file not found") from None
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise UnitsError(f"{path}: not a readable CSV ({error})") from None

    numbers: dict[str, list[int]] = {level: [] for level in LEVELS}
    shares: dict[int, float] = {}
    district: dict[int, int] = {}
    staffing: dict[tuple[str, int], dict[str, int]] = {}
    for line, raw in enumerate(rows, start=2):
        where = f"{path.name}:{line}"
        row = {column: (raw.get(column) or "").strip() for column in UNIT_COLUMNS}  # a short row: blanks
        level = row["level"]
        if level not in numbers:
            raise UnitsError(f"{where}: level {level!r}; expected one of {', '.join(LEVELS)}")
        try:
            number = int(row["number"])
        except ValueError:
            raise UnitsError(f"{where}: number {row['number']!r} is not an integer") from None
        numbers[level].append(number)
        if row["staffing"]:
            staffing[(level, number)] = _staffing(row["staffing"], where)
        if level != "commune":
            continue
        try:
            share = float(row["demand_share"])
            district[number] = int(row["district"])
        except ValueError:
            raise UnitsError(f"{where}: a commune needs a demand_share and its district number") from None
        if not share > 0 or not math.isfinite(share):
            raise UnitsError(f"{where}: demand_share {row['demand_share']!r} must be positive")
        shares[number] = share

    for level in LEVELS:
        if sorted(numbers[level]) != list(range(len(numbers[level]))):
            raise UnitsError(f"{path}: {level} units must be numbered 0, 1, 2, … once each")
    districts = len(numbers["district"])
    if not shares or len(numbers["province"]) != 1:
        raise UnitsError(f"{path}: a province needs one province unit and at least one commune")
    if any(not 0 <= d < max(districts, 1) for d in district.values()):
        raise UnitsError(f"{path}: a commune's district must be one of the {districts} district units")
    total = sum(shares.values())
    if not math.isclose(total, 1.0, rel_tol=1e-6):
        raise UnitsError(f"{path}: the communes' demand_share sums to {total:.6f}, not 1")
    order = sorted(shares)
    return Units(
        commune_share=np.array([shares[k] for k in order]),  # as written: the file is the province
        district_of=np.array([district[k] for k in order], dtype=np.int64),
        districts=districts,
        staffing=staffing,
    )
