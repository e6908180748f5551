"""Login and logout."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from dvclab.portal import auth
from dvclab.portal.auth import Principal, current_principal
from dvclab.portal.errors import ApiError
from dvclab.portal.models import utcnow
from dvclab.portal.ratelimit import limit_by_ip
from dvclab.portal.routes.common import db_of, ip_of, settings_of
from dvclab.portal.schemas import LoginRequest, LoginResponse

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

# One answer for an unknown identifier and for a wrong password (ASVS 6.3.8).
BAD_CREDENTIALS = ApiError(
    401, "Unauthorized", "the identity number or the password is wrong", {"WWW-Authenticate": "Bearer"}
)


def _locked(until: datetime) -> ApiError:
    seconds = max(1, int((until - utcnow()).total_seconds()) + 1)
    return ApiError(
        429,
        "Too many requests",
        "too many failed attempts; try again later",
        {"Retry-After": str(seconds)},
        kind="abnormal-usage-detected",
    )


@router.post(
    "/login",
    response_model=LoginResponse,
    dependencies=[Depends(limit_by_ip("login_ip"))],
    summary="Log in with a national identity number and password",
)
async def login(*, body: LoginRequest, request: Request) -> dict:
    db, settings, ip = db_of(request), settings_of(request), ip_of(request)
    passwords: auth.PasswordService = request.app.state.passwords
    identifier = body.national_id
    async with passwords.slot():
        reservation = await run_in_threadpool(auth.reserve_attempt, db, identifier, settings)
        if reservation.locked_until is not None:
            await run_in_threadpool(auth.write_audit, db, "login_refused_locked", identifier, ip)
            raise _locked(reservation.locked_until)
        account = reservation.account
        try:
            ok = await passwords.verify(account.password_hash if account else None, body.password)
        except BaseException:
            # Not decided (cancellation, the pool shut down): the reservation must not count as a failure.
            await run_in_threadpool(auth.release_attempt, db, identifier)
            raise
    if not ok or account is None:
        await run_in_threadpool(auth.record_failure, db, identifier, ip, settings, reservation.locks)
        raise BAD_CREDENTIALS
    if account.role == "citizen":
        try:
            identity = await request.app.state.idp.citizen(identifier)
        except ApiError:
            # The attempt was not decided: give it back, write nothing else.
            await run_in_threadpool(auth.release_attempt, db, identifier)
            raise
        if identity is None or identity.get("status") != "active":
            await run_in_threadpool(auth.release_attempt, db, identifier)
            raise ApiError(403, "Forbidden", "the national identity account is not active")
    new_hash = None
    if passwords.hasher.check_needs_rehash(account.password_hash):
        new_hash = await passwords.hash(body.password)
    token = await run_in_threadpool(auth.open_session, db, account, settings, new_hash)
    return {
        "access_token": token,
        "token_type": "bearer",
        "expires_in": settings.token_ttl_s,
        "role": account.role,
    }


@router.post("/logout", status_code=204, response_class=Response, summary="Revoke the current token")
async def logout(
    *, request: Request, principal: Annotated[Principal, Depends(current_principal)]
) -> Response:
    await run_in_threadpool(auth.close_session, db_of(request), principal.token_hash)
    return Response(status_code=204)
