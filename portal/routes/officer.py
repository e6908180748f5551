"""Officer routes (một cửa back office) and the national sync feed. Citizen tokens get 403."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from dvclab.portal import dossiers, public_records
from dvclab.portal.auth import Principal, require
from dvclab.portal.models import APPROVED, RECEIVED, REJECTED, RETURNED, SUBMITTED, SUPPLEMENT, utcnow
from dvclab.portal.routes.common import Page, PageSize, db_of
from dvclab.portal.schemas import (
    DecisionRequest,
    DossierPage,
    DossierSummary,
    ResultRequest,
    SupplementRequest,
    SyncFeed,
)

router = APIRouter(prefix="/api/v1/officer", tags=["officer"])
officer = require("officer")
Officer = Annotated[Principal, Depends(officer)]
DossierId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("/queue", response_model=DossierPage, summary="Work queue, oldest submission first")
async def work_queue(
    *,
    request: Request,
    status: Literal["submitted", "received", "supplement_requested", "approved", "rejected"] = "submitted",
    page: Page = 1,
    page_size: PageSize = 20,
    principal: Officer,
) -> dict:
    return await run_in_threadpool(dossiers.queue, db_of(request), principal, status, page, page_size)


@router.post(
    "/dossiers/{dossier_id}/receive", response_model=DossierSummary, summary="Receive (starts the clock)"
)
async def receive(*, request: Request, dossier_id: DossierId, principal: Officer) -> dict:
    return await run_in_threadpool(
        dossiers.transition, db_of(request), principal, dossier_id, (SUBMITTED,), RECEIVED, {}
    )


@router.post(
    "/dossiers/{dossier_id}/supplement",
    response_model=DossierSummary,
    summary="Request a supplement (returns the dossier to the citizen)",
)
async def supplement(
    *, body: SupplementRequest, request: Request, dossier_id: DossierId, principal: Officer
) -> dict:
    return await run_in_threadpool(
        dossiers.transition,
        db_of(request),
        principal,
        dossier_id,
        (RECEIVED,),
        SUPPLEMENT,
        {"officer_note": body.reason},
    )


@router.post("/dossiers/{dossier_id}/decision", response_model=DossierSummary, summary="Approve or reject")
async def decide(
    *, body: DecisionRequest, request: Request, dossier_id: DossierId, principal: Officer
) -> dict:
    return await run_in_threadpool(
        dossiers.transition,
        db_of(request),
        principal,
        dossier_id,
        (RECEIVED,),
        body.outcome,
        {"officer_note": body.note, "decided_at": utcnow()},
    )


@router.post(
    "/dossiers/{dossier_id}/result",
    response_model=DossierSummary,
    summary="Return the result (needs the fee paid when approved)",
)
async def return_result(
    *, body: ResultRequest, request: Request, dossier_id: DossierId, principal: Officer
) -> dict:
    return await run_in_threadpool(
        dossiers.transition,
        db_of(request),
        principal,
        dossier_id,
        (APPROVED, REJECTED),
        RETURNED,
        {"result_channel": body.channel, "returned_at": utcnow()},
        require_paid=True,
    )


sync_router = APIRouter(prefix="/api/v1/sync", tags=["national sync"])


@sync_router.get("/status-changes", response_model=SyncFeed, summary="Status changes after a cursor")
async def status_changes(
    *,
    request: Request,
    cursor: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    _principal: Annotated[Principal, Depends(require("sync"))],
) -> dict:
    return await run_in_threadpool(public_records.sync_feed, db_of(request), cursor, limit)
