"""The procedure catalog: the one piece of data the simulation and the portal share, and its words.

Deliberately light (standard library only) so that the portal can import it without pulling in
SimPy or NumPy. The CSV lives in ``scenarios/catalog/``; its columns are documented in that folder's
README. Levels, online levels and filing channels are defined here once, as string enums, so that files,
reports and the API keep the same plain strings.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from dvclab.paths import shipped


class Level(StrEnum):
    """The administrative level that handles a procedure (and whose centre receives its dossiers)."""

    PROVINCE = "province"
    DISTRICT = "district"
    COMMUNE = "commune"


class OnlineLevel(StrEnum):
    """Full online (toàn trình) or partial online (một phần): the latter needs a counter visit."""

    FULL = "full"
    PARTIAL = "partial"


class Channel(StrEnum):
    """How a dossier is filed; the order is the simulation's channel codes (0..4)."""

    SELF_SERVICE = "self_service"  # the citizen on the portal, no counter visit
    ONLINE_WITH_VISIT = "online_with_visit"  # filed online, but the citizen must come in anyway
    ASSISTED = "assisted"  # filed online at the counter by an officer or helper on the citizen's behalf
    COUNTER = "counter"  # paper at the counter
    POSTAL = "postal"  # through the public post


LEVELS: tuple[Level, ...] = tuple(Level)
ONLINE_LEVELS: tuple[OnlineLevel, ...] = tuple(OnlineLevel)

DEFAULT_CATALOG = shipped("catalog", "nam-dinh-2024.csv")

# What describes a procedure to the public: the portal stores and serves these.
PUBLIC_COLUMNS = (
    "code",
    "name",
    "group",
    "level",
    "agency",
    "online_level",
    "deadline_days",
    "fee_vnd",
    "requires_originals",
)
# What the simulation needs besides: its model parameters, and whether they are sourced or estimated.
MODEL_COLUMNS = (
    "interlinked_group",
    "interlinked_step",
    "demand_weight",
    "supplement_prob",
    "reception_min",
    "effort_min",
    "approval_days",
    "sourced",
)
COLUMNS = PUBLIC_COLUMNS + MODEL_COLUMNS


class CatalogError(ValueError):
    """The catalog file is missing, malformed or inconsistent."""


@dataclass(frozen=True, slots=True)
class Procedure:
    """One administrative procedure (thủ tục hành chính, TTHC)."""

    code: str
    name: str
    group: str
    level: Level
    agency: str
    online_level: OnlineLevel
    deadline_days: int
    fee_vnd: int
    requires_originals: bool
    interlinked_group: str
    interlinked_step: int
    demand_weight: float
    supplement_prob: float
    reception_min: float
    effort_min: float
    approval_days: float
    sourced: bool

    @property
    def pool(self) -> str:
        """The back-office officer pool that decides this procedure: ``level.agency``."""
        return f"{self.level}.{self.agency}"

    @property
    def full_online(self) -> bool:
        return self.online_level == OnlineLevel.FULL


def _parse_bool(value: str, where: str) -> bool:
    if value in ("1", "true", "True", "yes"):
        return True
    if value in ("0", "false", "False", "no", ""):
        return False
    raise CatalogError(f"{where}: expected a boolean (0/1), got {value!r}")


def _parse_level(value: str, where: str) -> Level:
    if value not in LEVELS:
        raise CatalogError(f"{where} level: {value!r} is not one of {', '.join(LEVELS)}")
    return Level(value)


def _parse_online_level(value: str, where: str) -> OnlineLevel:
    if value not in ONLINE_LEVELS:
        raise CatalogError(f"{where} online_level: {value!r} is not full or partial")
    return OnlineLevel(value)


def _parse_row(row: dict[str, str], line: int, path: Path) -> Procedure:
    where = f"{path.name}:{line}"
    try:
        procedure = Procedure(
            code=row["code"].strip(),
            name=row["name"].strip(),
            group=row["group"].strip(),
            level=_parse_level(row["level"].strip(), where),
            agency=row["agency"].strip(),
            online_level=_parse_online_level(row["online_level"].strip(), where),
            deadline_days=int(row["deadline_days"]),
            fee_vnd=int(row["fee_vnd"]),
            requires_originals=_parse_bool(row["requires_originals"], f"{where} requires_originals"),
            interlinked_group=row["interlinked_group"].strip(),
            interlinked_step=int(row["interlinked_step"] or 0),
            demand_weight=float(row["demand_weight"]),
            supplement_prob=float(row["supplement_prob"]),
            reception_min=float(row["reception_min"]),
            effort_min=float(row["effort_min"]),
            approval_days=float(row["approval_days"]),
            sourced=_parse_bool(row["sourced"], f"{where} sourced"),
        )
    except KeyError as missing:
        raise CatalogError(f"{where}: missing column {missing}") from None
    except ValueError as bad:
        if isinstance(bad, CatalogError):
            raise
        raise CatalogError(f"{where}: {bad}") from None
    if procedure.deadline_days < 0 or procedure.fee_vnd < 0:
        raise CatalogError(f"{where}: deadline_days and fee_vnd must be >= 0")
    if not 0.0 <= procedure.supplement_prob <= 1.0:
        raise CatalogError(f"{where} supplement_prob: must be within [0, 1]")
    if (
        min(procedure.demand_weight, procedure.reception_min, procedure.effort_min, procedure.approval_days)
        < 0
    ):
        raise CatalogError(f"{where}: weights, minutes and days must be >= 0")
    return procedure


def load_catalog(path: str | Path = DEFAULT_CATALOG) -> list[Procedure]:
    """Read and check a catalog CSV; procedures come back in file order."""
    path = Path(path)
    if not path.is_file():
        raise CatalogError(f"catalog file not found: {path}")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise CatalogError(f"{path.name}: missing columns {', '.join(missing)}")
        procedures = [_parse_row(row, line, path) for line, row in enumerate(reader, start=2)]
    codes = [p.code for p in procedures]
    if len(set(codes)) != len(codes):
        duplicated = sorted({c for c in codes if codes.count(c) > 1})
        raise CatalogError(f"{path.name}: duplicate procedure codes {duplicated[:5]}")
    return procedures


def catalog_by_code(procedures: list[Procedure]) -> dict[str, Procedure]:
    return {p.code: p for p in procedures}
