"""Catalog search and procedure detail (anonymous, rate-limited per client IP)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from dvclab.catalog import Level, OnlineLevel
from dvclab.portal.catalog_index import CatalogIndex
from dvclab.portal.errors import ApiError
from dvclab.portal.ratelimit import limit_by_ip
from dvclab.portal.routes.common import Page, PageSize
from dvclab.portal.schemas import CatalogPage, ProcedureDetail

router = APIRouter(
    prefix="/api/v1/procedures", tags=["catalog"], dependencies=[Depends(limit_by_ip("public"))]
)


@router.get("", response_model=CatalogPage, summary="Search the procedure catalog")
async def search(
    *,
    request: Request,
    q: Annotated[
        str | None, Query(max_length=100, description="words of the name or code, accents optional")
    ] = None,
    level: Level | None = None,
    group: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z_]+$")] = None,
    online_level: OnlineLevel | None = None,
    page: Page = 1,
    page_size: PageSize = 20,
) -> Response:
    index: CatalogIndex = request.app.state.catalog
    body = index.search(q, level, group, online_level, page, page_size)
    return Response(body, media_type="application/json", headers=request.state.ratelimit_headers)


@router.get("/{code}", response_model=ProcedureDetail, summary="One procedure")
async def procedure(
    *, request: Request, code: Annotated[str, Path(max_length=32, pattern=r"^[A-Z0-9\-]+$")]
) -> dict:
    row = request.app.state.catalog.by_code.get(code)
    if row is None:
        raise ApiError(404, "Not found", "no procedure has this code")
    return row
