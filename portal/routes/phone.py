"""Phone verification: a code by SMS through the identity provider, then the code back (C19)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from dvclab.portal import phone
from dvclab.portal.auth import Principal, require
from dvclab.portal.errors import ApiError
from dvclab.portal.ratelimit import client_key
from dvclab.portal.routes.common import db_of, ip_of, settings_of
from dvclab.portal.schemas import PhoneCode, PhoneVerificationRequest, PhoneVerificationSent, PhoneVerified

router = APIRouter(prefix="/api/v1/phone-verifications", tags=["phone"])
Citizen = Annotated[Principal, Depends(require("citizen"))]


@router.post(
    "",
    response_model=PhoneVerificationSent,
    status_code=202,
    summary="Send a 6-digit code by SMS to verify a phone number",
)
async def send_code(
    *, body: PhoneVerificationRequest, request: Request, response: Response, principal: Citizen
) -> dict:
    settings, limiter = settings_of(request), request.app.state.limiter
    # Both quotas are charged before the SMS is asked for (each hit is atomic): the phone's, whoever
    # asks (a victim's phone cannot be flooded), and the client address's, whatever the phone.
    headers = await limiter.hit("otp_phone", f"phone:{body.phone}")
    for field, value in (await limiter.hit("otp_ip", client_key(request, settings))).items():
        headers[field] = f"{headers[field]}, {value}" if field in headers else value
    code = phone.new_code()
    await request.app.state.idp.send_sms(body.phone, f"Ma xac thuc DVC: {code} (hieu luc 5 phut)")
    verification_id, _ = await run_in_threadpool(
        phone.record_sent, db_of(request), principal.id, body.phone, ip_of(request), code, settings
    )
    for field, value in headers.items():  # beside the account's own policy (charged by require)
        earlier = response.headers.get(field)
        response.headers[field] = f"{earlier}, {value}" if earlier else value
    return {"verification_id": verification_id, "phone": body.phone, "expires_in": settings.otp_ttl_s}


@router.post(
    "/{verification_id}/confirm",
    response_model=PhoneVerified,
    summary="Confirm the code received by SMS",
)
async def confirm_code(
    *,
    verification_id: Annotated[int, Path(ge=1, le=2**62)],
    body: PhoneCode,
    request: Request,
    principal: Citizen,
) -> dict:
    outcome = await run_in_threadpool(
        phone.confirm, db_of(request), principal.id, verification_id, body.code, settings_of(request)
    )
    if outcome.verified:
        return {"phone": outcome.phone, "verified": True}
    if outcome.phone is None:
        raise ApiError(404, "Not found", "no pending phone verification of yours has this id")
    if outcome.exhausted:
        raise ApiError(
            429,
            "Too many requests",
            "this code is used up or expired; request a new one",
            {"Retry-After": str(outcome.retry_after_s)},
            kind="abnormal-usage-detected",
        )
    raise ApiError(422, "Wrong code", "the code does not match")
