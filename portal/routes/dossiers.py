"""Citizen routes: a citizen reaches only their own dossiers and files (404 for anyone else's)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Header, Path, Request, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from dvclab.portal import auth, dossiers
from dvclab.portal.auth import Principal, require, write_audit
from dvclab.portal.documents import well_formed
from dvclab.portal.errors import ApiError
from dvclab.portal.ratelimit import client_key
from dvclab.portal.routes.common import Page, PageSize, db_of, ip_of, settings_of
from dvclab.portal.schemas import (
    IDEMPOTENCY_KEY,
    DossierCreate,
    DossierDetail,
    DossierPage,
    DossierSummary,
    FileInfo,
    PaymentInfo,
    RatingRequest,
    RatingResponse,
    SubmitResponse,
)
from dvclab.portal.uploads import content_disposition, safe_filename, sniff

router = APIRouter(prefix="/api/v1/dossiers", tags=["citizen"])
citizen = require("citizen")
Citizen = Annotated[Principal, Depends(citizen)]
# Filing a dossier: its citizen online, or an officer at the counter on the citizen's behalf (assisted
# filing) on the dossiers that officer filed.
FILERS = ("citizen", "officer")
Filer = Annotated[Principal, Depends(require(FILERS))]
DossierId = Annotated[int, Path(ge=1, le=2**31 - 1)]


async def _guarded(request: Request, principal: Principal, dossier_id: int, fn, *args, inline: bool = False):  # type: ignore[no-untyped-def]
    """Run a service call; on 404 note a probe of someone else's dossier in the audit table. ``inline``:
    a read-only call, run on the event loop where reads never wait (SQLite's WAL)."""
    try:
        if inline and db_of(request).inline_reads:
            return fn(*args)
        return await run_in_threadpool(fn, *args)
    except ApiError as error:
        if error.status == 404:
            await run_in_threadpool(
                dossiers.note_foreign_access, db_of(request), principal, dossier_id, ip_of(request)
            )
        raise


async def _charge_address(request: Request, response: Response, name: str) -> None:
    """Charge the client address's quota ``name`` beside the account's (already charged by require):
    both policies are listed in the answer (a 429 names the one exceeded)."""
    limiter = request.app.state.limiter
    headers = await limiter.hit(name, client_key(request, settings_of(request)))
    for field, value in headers.items():
        earlier = response.headers.get(field)
        response.headers[field] = f"{earlier}, {value}" if earlier else value


@router.post(
    "",
    response_model=DossierSummary,
    status_code=201,
    summary="Create a dossier (draft)",
    responses={200: {"model": DossierSummary, "description": "replay of an earlier request"}},
)
async def create(
    *,
    body: DossierCreate,
    request: Request,
    response: Response,
    idempotency_key: Annotated[
        str, Header(pattern=IDEMPOTENCY_KEY, description="client-chosen key, 8–64 characters")
    ],
    # A citizen's drafts count against their own quota; an officer's request against the officer's
    # `api` quota and, below, the draft against the citizen's (drafts per citizen, whoever files them).
    principal: Annotated[
        Principal, Depends(require(FILERS, {"citizen": "dossier_create", "officer": "api"}))
    ],
) -> dict:
    db, ip = db_of(request), ip_of(request)
    owner, filed_by = principal.id, None
    if principal.role == "officer":
        if body.citizen is None:
            raise ApiError(
                422,
                "Unprocessable content",
                "an officer files on a citizen's behalf: name the citizen (field 'citizen')",
                kind="validation-error",
            )
        account = (
            auth.find_account(db, body.citizen)
            if db.inline_reads
            else await run_in_threadpool(auth.find_account, db, body.citizen)
        )
        if account is None or account.role != "citizen":
            raise ApiError(
                422, "Unprocessable content", "no citizen has this national id", kind="validation-error"
            )
        limiter = request.app.state.limiter
        quota = await limiter.hit("dossier_create", f"account:{account.id}")
        response.headers["RateLimit-Policy"] = (
            f"{response.headers['RateLimit-Policy']}, {quota['RateLimit-Policy']}"
        )
        owner, filed_by = account.id, principal
    elif body.citizen not in (None, principal.national_id):
        raise ApiError(403, "Forbidden", "a citizen files only their own dossiers")
    await _charge_address(request, response, "dossier_create_ip")
    procedure = request.app.state.catalog.by_code.get(body.procedure_code)
    if procedure is None:
        raise ApiError(422, "Unprocessable content", "no procedure has this code", kind="validation-error")
    result, created = await run_in_threadpool(
        dossiers.create,
        db,
        owner,
        procedure,
        body.model_dump(exclude={"citizen"}),
        idempotency_key,
        filed_by,
        ip,
        body.citizen or "",
    )
    if not created:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    return result


@router.get("", response_model=DossierPage, summary="My dossiers")
async def mine(*, request: Request, page: Page = 1, page_size: PageSize = 20, principal: Citizen) -> dict:
    return await run_in_threadpool(dossiers.list_mine, db_of(request), principal, page, page_size)


@router.get("/{dossier_id}", response_model=DossierDetail, summary="One of my dossiers")
async def detail(*, request: Request, dossier_id: DossierId, principal: Filer) -> dict:
    return await _guarded(
        request, principal, dossier_id, dossiers.detail, db_of(request), principal, dossier_id
    )


@router.post(
    "/{dossier_id}/files",
    response_model=FileInfo,
    status_code=201,
    summary="Attach a document",
    description="One PDF, JPEG or PNG per request (multipart field `file`), at most 10 MiB by "
    "default; type decided by magic bytes and extension, and its structure checked (PDF header and "
    "`%%EOF` trailer, PNG IHDR and IEND, JPEG frame header).",
)
async def upload(
    *,
    request: Request,
    dossier_id: DossierId,
    file: Annotated[UploadFile, File(description="PDF, JPEG or PNG")],
    principal: Annotated[Principal, Depends(require(FILERS, "upload"))],
) -> dict:
    db, settings, ip = db_of(request), settings_of(request), ip_of(request)
    filename = safe_filename(file.filename or "")
    size = file.size if file.size is not None else settings.max_file_bytes + 1
    if size > settings.max_file_bytes:
        await run_in_threadpool(write_audit, db, "upload_refused", principal.national_id, ip, "too large")
        raise ApiError(413, "Content too large", f"a file may be at most {settings.max_file_bytes} bytes")
    head = await file.read(16)
    media_type = sniff(head, filename)
    content = head + await file.read() if media_type is not None else head
    if media_type is None or not well_formed(content, media_type):
        reason = "wrong type" if media_type is None else "malformed document"
        await run_in_threadpool(write_audit, db, "upload_refused", principal.national_id, ip, reason)
        raise ApiError(
            415,
            "Unsupported media type",
            "only well-formed PDF, JPEG and PNG documents with a matching extension are accepted",
        )
    return await _guarded(
        request,
        principal,
        dossier_id,
        dossiers.store_file,
        db,
        principal,
        dossier_id,
        filename,
        media_type,
        content,
        settings.max_files_per_dossier,
        settings.max_dossier_bytes,
    )


@router.get(
    "/{dossier_id}/files/{file_id}",
    response_class=Response,
    summary="Download a document",
    responses={200: {"content": {"application/octet-stream": {}}, "description": "the file"}},
)
async def download(
    *,
    request: Request,
    dossier_id: DossierId,
    file_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    principal: Citizen,
) -> Response:
    content, media_type, filename = await _guarded(
        request, principal, dossier_id, dossiers.read_file, db_of(request), principal, dossier_id, file_id
    )
    return Response(
        content,
        media_type=media_type,
        headers={
            "Content-Disposition": content_disposition(filename),
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.post(
    "/{dossier_id}/submit",
    response_model=SubmitResponse,
    summary="Submit; returns a receipt code",
    responses={201: {"model": SubmitResponse, "description": "submitted now"}},
)
async def submit(*, request: Request, response: Response, dossier_id: DossierId, principal: Filer) -> dict:
    result, changed = await _guarded(
        request, principal, dossier_id, dossiers.submit, db_of(request), principal, dossier_id
    )
    response.status_code = 201 if changed else 200
    return result


@router.post(
    "/{dossier_id}/payment",
    response_model=PaymentInfo,
    summary="Open the payment (fee from the server)",
    responses={201: {"model": PaymentInfo, "description": "payment intent created"}},
)
async def pay(*, request: Request, response: Response, dossier_id: DossierId, principal: Filer) -> dict:
    db = db_of(request)
    existing, fee = await _guarded(
        request, principal, dossier_id, dossiers.payment_precheck, db, principal, dossier_id, inline=True
    )
    if existing is not None:
        return existing
    # The gateway first: if it is down the client gets 503 and the portal has written nothing.
    gateway = await request.app.state.gateway.create_payment(str(dossier_id), fee)
    payment, created = await run_in_threadpool(dossiers.insert_payment, db, dossier_id, fee, gateway)
    response.status_code = 201 if created else 200
    return payment


@router.post(
    "/{dossier_id}/rating", response_model=RatingResponse, status_code=201, summary="Rate the service"
)
async def rate(*, body: RatingRequest, request: Request, dossier_id: DossierId, principal: Citizen) -> dict:
    return await _guarded(
        request,
        principal,
        dossier_id,
        dossiers.rate,
        db_of(request),
        principal,
        dossier_id,
        body.score,
        body.comment,
    )
