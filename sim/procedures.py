"""The procedures as a scenario sees them: the catalog after overrides and the 2025 level reform.

Columns are NumPy arrays (for the vectorised draws) indexed by procedure; names and pools stay lists.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from dvclab.catalog import Procedure
from dvclab.sim.scenario import Scenario


@dataclass
class ProcedureTable:
    codes: list[str]
    names: list[str]
    groups: list[str]
    levels: list[str]  # level after the reform (where the dossier is received and decided)
    pools: list[str]  # back-office pool "level.agency"
    full_online: np.ndarray
    requires_originals: np.ndarray
    deadline_days: np.ndarray
    fee_vnd: np.ndarray
    supplement_prob: np.ndarray
    reception_min: np.ndarray
    effort_min: np.ndarray
    approval_days: np.ndarray
    interlinked_group: list[str]
    interlinked_step: np.ndarray
    annual_volume: np.ndarray  # expected dossiers a year

    def __len__(self) -> int:
        return len(self.codes)

    def index(self, code: str) -> int:
        return self.codes.index(code)


def _moved_to_province(code: str, share: float) -> bool:
    # A stable choice (independent of the seed): the same procedures move in every replication.
    digest = hashlib.sha256(code.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < share


def build_procedures(scenario: Scenario, catalog: list[Procedure]) -> ProcedureTable:
    rows = []
    shares = scenario.demand.level_shares
    for p in catalog:
        override = scenario.procedures.get(p.code)
        level = p.level
        if not scenario.geography.district_level and level == "district":
            level = (
                "province"
                if _moved_to_province(p.code, scenario.geography.district_procedures_to_province)
                else "commune"
            )
        values = {
            "deadline_days": p.deadline_days,
            "supplement_prob": p.supplement_prob,
            "effort_min": p.effort_min,
            "approval_days": p.approval_days,
            "requires_originals": p.requires_originals,
            "demand_factor": 1.0,
        }
        if override is not None:
            values.update({k: v for k, v in override.model_dump().items() if v is not None})
        requires_originals = bool(values["requires_originals"]) and p.full_online
        if not scenario.channels.originals_enforced:
            requires_originals = False
        volume = scenario.demand.dossiers_per_year * shares.get(p.level, 0.0) * p.demand_weight
        rows.append((p, level, values, requires_originals, volume * values["demand_factor"]))

    supplement_scale = scenario.supplements.probability_scale
    return ProcedureTable(
        codes=[p.code for p, *_ in rows],
        names=[p.name for p, *_ in rows],
        groups=[p.group for p, *_ in rows],
        levels=[level for _, level, *_ in rows],
        pools=[f"{level}.{p.agency}" for p, level, *_ in rows],
        full_online=np.array([p.full_online for p, *_ in rows], dtype=bool),
        requires_originals=np.array([r for *_, r, _ in rows], dtype=bool),
        deadline_days=np.array([v["deadline_days"] for _, _, v, *_ in rows], dtype=np.int64),
        fee_vnd=np.array([p.fee_vnd for p, *_ in rows], dtype=np.int64),
        supplement_prob=np.clip(
            np.array([v["supplement_prob"] for _, _, v, *_ in rows]) * supplement_scale, 0.0, 1.0
        ),
        reception_min=np.array([p.reception_min for p, *_ in rows], dtype=float),
        effort_min=np.array([v["effort_min"] for _, _, v, *_ in rows], dtype=float),
        approval_days=np.array([v["approval_days"] for _, _, v, *_ in rows], dtype=float),
        interlinked_group=[p.interlinked_group for p, *_ in rows],
        interlinked_step=np.array([p.interlinked_step for p, *_ in rows], dtype=np.int64),
        annual_volume=np.array([v for *_, v in rows], dtype=float),
    )
