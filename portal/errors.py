"""Errors as RFC 9457 problem+json; nothing internal (trace, SQL, path) ever reaches a client."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

log = logging.getLogger("portal")

PROBLEM = "application/problem+json"


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        headers: dict[str, str] | None = None,
        kind: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.kind = kind or title.lower().replace(" ", "-")


class Unavailable(ApiError):
    """A dependency (database, rate-limit store, gateway, identity provider) is slow or down."""

    def __init__(self, detail: str, retry_after: int = 5) -> None:
        super().__init__(
            503,
            "Service unavailable",
            detail,
            {"Retry-After": str(retry_after)},
            kind="temporary-reduced-capacity",
        )


def problem(
    status: int,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    kind: str | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://dvclab.local/problems/{kind or title.lower().replace(' ', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM)


_HTTP_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
}


def _is_overload(exc: DBAPIError) -> bool:
    """Lock waits, statement timeouts and lost connections are capacity problems, not bugs."""
    text = str(exc.orig).lower() if exc.orig is not None else ""
    name = type(exc.orig).__name__
    return (
        "database is locked" in text
        or "busy" in text
        or name
        in (
            "QueryCanceled",
            "OperationalError",
            "AdminShutdown",
            "TooManyConnections",
            "LockNotAvailable",
            "DeadlockDetected",
            "SerializationFailure",
        )
    )


def method_table(routes: Iterable[BaseRoute]) -> list[tuple[re.Pattern[str], frozenset[str]]]:
    """Path pattern and methods of each plain route (APIRouter.routes carry their full paths)."""
    return [(r.path_regex, frozenset(r.methods)) for r in routes if isinstance(r, Route) and r.methods]


def allowed_methods(request: Request) -> str:
    """Every method of every route on this path. Starlette answers a 405 from the first route whose path
    matched, so `Allow` would name only that route's methods (POST on /api/v1/dossiers, not GET)."""
    table: list[tuple[re.Pattern[str], frozenset[str]]] = request.app.state.method_table
    methods = {
        m for pattern, route_methods in table if pattern.match(request.url.path) for m in route_methods
    }
    return ", ".join(sorted(methods))


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return problem(exc.status, exc.title, exc.detail, exc.headers, exc.kind)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = _HTTP_TITLES.get(exc.status_code, "Error")
        detail = exc.detail if isinstance(exc.detail, str) else title
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request)
        return problem(exc.status_code, title, detail, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # Location, message and type only: the offending input is not echoed back.
        errors = [
            {
                "loc": [str(p) if not isinstance(p, int) else p for p in e.get("loc", ())],
                "msg": str(e.get("msg", "invalid")),
                "type": str(e.get("type", "value_error")),
            }
            for e in exc.errors()
        ]
        return problem(
            422,
            "Unprocessable content",
            "the request does not match the schema",
            kind="validation-error",
            errors=errors,
        )

    @app.exception_handler(PoolTimeout)
    async def _pool_timeout(_request: Request, _exc: PoolTimeout) -> JSONResponse:
        return problem(
            503,
            "Service unavailable",
            "the database is busy; retry shortly",
            {"Retry-After": "2"},
            "temporary-reduced-capacity",
        )

    @app.exception_handler(DBAPIError)
    async def _db_error(_request: Request, exc: DBAPIError) -> JSONResponse:
        if _is_overload(exc):
            return problem(
                503,
                "Service unavailable",
                "the database is busy; retry shortly",
                {"Retry-After": "2"},
                "temporary-reduced-capacity",
            )
        log.exception("database error")
        return problem(500, "Internal error", "an internal error occurred", kind="internal-error")

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return problem(500, "Internal error", "an internal error occurred", kind="internal-error")
