"""In-memory search over the procedure catalog.

The catalog is reference data: it is written to the database at start and never changes while the
portal runs, so each worker reads it once and answers searches from memory (accent-insensitive, the
way citizens type Vietnamese without diacritics), with a bounded cache of encoded pages.
"""

from __future__ import annotations

import json
import unicodedata
from collections import OrderedDict
from typing import Any

from sqlalchemy import select

from dvclab.portal.db import PROCEDURE_FIELDS, Database
from dvclab.portal.models import Procedure


def fold(text: str) -> str:
    """Lower-case and strip Vietnamese diacritics: "Đăng ký khai sinh" -> "dang ky khai sinh"."""
    text = text.lower().replace("đ", "d")
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


class CatalogIndex:
    def __init__(self, rows: list[dict[str, Any]], cache_size: int = 4096) -> None:
        self.rows = rows
        self.by_code = {r["code"]: r for r in rows}
        self.folded = [fold(r["code"] + " " + r["name"]) for r in rows]
        self.groups = sorted({r["group"] for r in rows})
        self._cache: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._cache_size = cache_size

    @classmethod
    def load(cls, db: Database) -> CatalogIndex:
        with db.read() as session:
            procedures = session.scalars(select(Procedure).order_by(Procedure.position)).all()
        rows = [{field: getattr(p, field) for field in PROCEDURE_FIELDS} for p in procedures]
        return cls(rows)

    def search(
        self,
        q: str | None,
        level: str | None,
        group: str | None,
        online_level: str | None,
        page: int,
        page_size: int,
    ) -> bytes:
        key = (q, level, group, online_level, page, page_size)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        terms = fold(q).split() if q else []
        matches = [
            row
            for row, text in zip(self.rows, self.folded, strict=True)
            if (level is None or row["level"] == level)
            and (group is None or row["group"] == group)
            and (online_level is None or row["online_level"] == online_level)
            and all(t in text for t in terms)
        ]
        start = (page - 1) * page_size
        items = [
            {k: v for k, v in r.items() if k != "requires_originals"}
            for r in matches[start : start + page_size]
        ]
        body = json.dumps(
            {"items": items, "page": page, "page_size": page_size, "total": len(matches)},
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        self._cache[key] = body
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return body
