"""Demo accounts with documented test credentials (see portal/README.md)."""

from __future__ import annotations

from argon2 import PasswordHasher
from sqlalchemy import select

from dvclab.portal.db import Database
from dvclab.portal.models import Account
from dvclab.portal.settings import Settings

CITIZEN_PASSWORD = "Citizen@2024"  # noqa: S105 - documented test credential
OFFICER_PASSWORD = "Officer@2024"  # noqa: S105
SYNC_PASSWORD = "Sync@2024"  # noqa: S105
DEMO_CITIZENS = 210  # 184..210: the security checks' own accounts (journeys stay below)


def citizen_id(n: int) -> str:
    """Demo citizens 1..DEMO_CITIZENS: 036 (Nam Định) + 09 + 7 digits."""
    return f"03609{n:07d}"


OFFICERS = (
    ("036080000001", "Cán bộ một cửa (mọi lĩnh vực)", None),
    ("036080000002", "Cán bộ tư pháp xã", "commune.justice"),
    ("036080000003", "Cán bộ đất đai huyện", "district.land"),
)
SYNC_ACCOUNT = "036070000001"


def create_demo_accounts(db: Database, settings: Settings) -> int:
    """Insert the demo accounts that are missing; one hash per password keeps start-up fast."""
    hasher = PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )
    hashes = {p: hasher.hash(p) for p in (CITIZEN_PASSWORD, OFFICER_PASSWORD, SYNC_PASSWORD)}
    wanted = [
        Account(
            national_id=citizen_id(i),
            full_name=f"Công dân thử nghiệm {i}",
            role="citizen",
            pool=None,
            password_hash=hashes[CITIZEN_PASSWORD],
        )
        for i in range(1, DEMO_CITIZENS + 1)
    ]
    wanted += [
        Account(
            national_id=nid, full_name=name, role="officer", pool=pool, password_hash=hashes[OFFICER_PASSWORD]
        )
        for nid, name, pool in OFFICERS
    ]
    wanted.append(
        Account(
            national_id=SYNC_ACCOUNT,
            full_name="Cổng dịch vụ công quốc gia (đồng bộ)",
            role="sync",
            pool=None,
            password_hash=hashes[SYNC_PASSWORD],
        )
    )
    with db.write() as session:
        existing = set(session.scalars(select(Account.national_id)))
        missing = [a for a in wanted if a.national_id not in existing]
        session.add_all(missing)
    return len(missing)
