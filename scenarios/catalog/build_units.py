"""Regenerate the units files: each province's communes with their sizes (demand shares) and districts.

Commune populations per commune are not in the sources (the catalog README), so the sizes are an
estimate: lognormal with a coefficient of variation of 0.5 (EST), drawn once from a fixed seed. The draw
is the one the Nam Định baseline was calibrated on (seed 2024's geography stream), so the files keep that
province; from now on it is data, the same for every run's seed. ``python
scenarios/catalog/build_units.py`` rewrites the files byte for byte. Communes are assigned to districts
so that Nam Định's districts are of about the same size (below); no unit has its own staffing yet (the
``staffing`` column is empty: each unit has its level's ``back_office.staffing``, so a what-if on it
reaches every unit).

District sizes are not in the sources either (EST). Communes used to be dealt to districts in turn
(commune k to district k mod districts), which left district 2 with 12.4% of the demand and district 1
with 9.6%: with the 16 land officers every district has, district.land.2 got more work than its officers
can do (ρ 1.04; land.8 1.00, land.3 0.99: their backlogs grew all year) while land.1 ran at 0.80. Now
the communes are dealt largest first, each to the district with the least demand so far, so every
district is within a fraction of a percent of a ninth and every land office runs at about the
province's mean load (ρ 0.92-0.94 over the year then; 0.96-0.97 since the catalog's land re-calibration,
README.md: high, but stable).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from dvclab.sim.streams import RandomStreams
from dvclab.sim.units import UNIT_COLUMNS

HERE = Path(__file__).resolve().parent
SEED = 2024
COMMUNE_SIZE_CV = 0.5  # EST
# file -> (districts, communes): Nam Định in 2024; the merged Ninh Bình of 2025 on Nam Định's territory
PROVINCES = {"nam-dinh-2024-units.csv": (9, 175), "ninh-binh-2025-units.csv": (9, 129)}
# (districts, communes) whose communes are dealt to balance the districts: Nam Định 2024. The 2025 province
# has no district level, so its file keeps the old deal (its results do not move)
BALANCED = {(9, 175)}


def commune_shares(communes: int) -> np.ndarray:
    sigma = math.sqrt(math.log1p(COMMUNE_SIZE_CV**2))
    sizes = RandomStreams(SEED)["geography"].lognormal(-(sigma**2) / 2, sigma, communes)
    return sizes / sizes.sum()


def balanced_districts(shares: np.ndarray, districts: int) -> np.ndarray:
    """Each commune's district: largest commune first, to the district with the least demand so far
    (the lowest number on a tie), so the districts come out of about equal size."""
    district_of = np.zeros(len(shares), dtype=np.int64)
    totals = np.zeros(districts)
    for k in np.argsort(-shares, kind="stable").tolist():
        d = int(np.argmin(totals))
        district_of[k] = d
        totals[d] += shares[k]
    return district_of


def units_csv(districts: int, communes: int) -> str:
    shares = commune_shares(communes)
    if (districts, communes) in BALANCED:
        district_of = balanced_districts(shares, districts)
    else:
        district_of = np.arange(communes) % districts
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(UNIT_COLUMNS)
    writer.writerow(["province.0", "province", 0, "", 1.0, ""])
    for d in range(districts):
        writer.writerow([f"district.{d}", "district", d, "", repr(float(shares[district_of == d].sum())), ""])
    for k in range(communes):
        writer.writerow([f"commune.{k}", "commune", k, int(district_of[k]), repr(float(shares[k])), ""])
    return buffer.getvalue()


def main() -> None:
    for name, (districts, communes) in PROVINCES.items():
        (HERE / name).write_text(units_csv(districts, communes), encoding="utf-8")
        print(f"wrote {HERE / name}: {districts} districts, {communes} communes")


if __name__ == "__main__":
    main()
