"""Public routes: tracking by receipt code (status only), statistics, health, payment callback."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Request
from starlette.concurrency import run_in_threadpool

from dvclab.portal import dossiers, public_records
from dvclab.portal.auth import write_audit
from dvclab.portal.errors import ApiError
from dvclab.portal.ratelimit import limit_by_ip
from dvclab.portal.routes.common import db_of, ip_of, settings_of
from dvclab.portal.schemas import RECEIPT_CODE, CallbackAck, Health, Statistics, TrackResponse
from dvclab.portal.signing import SignatureError, verify

router = APIRouter(tags=["public"])


@router.get("/healthz", response_model=Health, summary="Ready to serve")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get(
    "/api/v1/track/{receipt_code}",
    response_model=TrackResponse,
    summary="Track a dossier",
    dependencies=[Depends(limit_by_ip("track"))],
)
async def track(*, request: Request, receipt_code: Annotated[str, Path(pattern=RECEIPT_CODE)]) -> dict:
    db = db_of(request)
    if db.inline_reads:
        return public_records.track(db, receipt_code)
    return await run_in_threadpool(public_records.track, db, receipt_code)


@router.get(
    "/api/v1/statistics",
    response_model=Statistics,
    summary="Public service statistics",
    dependencies=[Depends(limit_by_ip("public"))],
)
async def statistics(*, request: Request) -> dict:
    state = request.app.state
    cache: public_records.StatisticsCache | None = getattr(state, "statistics", None)
    if cache is None:  # one per worker, made on its first request
        cache = state.statistics = public_records.StatisticsCache(state.settings.stats_ttl_s)
    db = db_of(request)
    return await cache.get(lambda: run_in_threadpool(public_records.statistics, db))


@router.post(
    "/api/v1/payments/callback",
    response_model=CallbackAck,
    tags=["payments"],
    summary="Payment gateway callback (HMAC-signed)",
    dependencies=[Depends(limit_by_ip("callback"))],
)
async def callback(
    *,
    request: Request,
    webhook_id: Annotated[str, Header(max_length=100)],
    webhook_timestamp: Annotated[str, Header(max_length=20)],
    webhook_signature: Annotated[str, Header(max_length=1000)],
) -> dict:
    db, settings, ip = db_of(request), settings_of(request), ip_of(request)
    raw = await request.body()
    try:
        verify(
            settings.gateway_secret,
            webhook_id,
            webhook_timestamp,
            webhook_signature,
            raw,
            settings.callback_tolerance_s,
        )
    except SignatureError as bad:
        await run_in_threadpool(write_audit, db, "callback_rejected", webhook_id, ip, str(bad))
        raise ApiError(401, "Unauthorized", "the callback signature is invalid or stale") from None
    try:
        event = json.loads(raw)
        data = event["data"]
        event_type, ref = str(event["type"]), str(data["payment_ref"])
        amount, currency = data["amount_vnd"], str(data.get("currency", "VND"))
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise TypeError("amount_vnd")
    except (ValueError, KeyError, TypeError):
        raise ApiError(
            422, "Unprocessable content", "the callback body is not a payment event", kind="validation-error"
        ) from None
    try:
        return await run_in_threadpool(
            dossiers.apply_callback, db, webhook_id, event_type, ref, amount, currency
        )
    except dossiers.CallbackRejected as rejected:
        await run_in_threadpool(write_audit, db, "callback_rejected", webhook_id, ip, rejected.detail)
        raise
