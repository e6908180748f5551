"""The FastAPI application: wiring of storage, limits, third parties and routes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.concurrency import run_in_threadpool

from dvclab import deadlines
from dvclab.portal import errors
from dvclab.portal.auth import PasswordService
from dvclab.portal.catalog_index import CatalogIndex
from dvclab.portal.db import Database, load_procedures
from dvclab.portal.overload import Overload
from dvclab.portal.ratelimit import Limiter
from dvclab.portal.routes import auth, catalog, dossiers, officer, phone, public
from dvclab.portal.settings import Settings, SettingsError, from_env
from dvclab.portal.uploads import MULTIPART_OVERHEAD, BodyLimit
from dvclab.portal.upstream import IdentityProvider, PaymentGateway

UPLOAD_PATH = re.compile(r"^/api/v1/dossiers/[^/]+/files/?$")
ERROR_STATUSES = {
    "400": "Malformed request",
    "401": "Missing, invalid or expired token",
    "403": "Not allowed for this role",
    "404": "Not found (or not yours)",
    "409": "Conflicting state",
    "413": "Body or file too large",
    "415": "Unsupported file type",
    "422": "Validation error",
    "429": "Rate limit or login lockout",
    "503": "Overloaded or a dependency is down; see Retry-After",
}


_RETRY_HEADERS = {
    "Retry-After": {
        "required": True,
        "description": "seconds to wait",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}
_RATELIMIT_HEADERS = {
    "RateLimit-Policy": {"description": 'e.g. "public";q=600;w=60', "schema": {"type": "string"}},
    "RateLimit": {"description": 'e.g. "public";r=0;t=42', "schema": {"type": "string"}},
}


def prepare_database(db: Database, settings: Settings) -> None:
    """Schema, catalog and (optionally) demo accounts. Run once, before workers start."""
    db.create_schema()
    load_procedures(db, settings.catalog_path)
    if settings.demo_data:
        from dvclab.portal.demo import create_demo_accounts

        create_demo_accounts(db, settings)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """Document the problem+json error answers every operation can give (schemathesis checks them)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = errors.Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = components["Problem"].pop("$defs", {})
    components.update(defs)
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_STATUSES.items():
                responses[status] = {"description": description, "content": problem}
                if status in ("429", "503"):
                    responses[status]["headers"] = dict(_RETRY_HEADERS)
                if status == "429":
                    responses[status]["headers"].update(_RATELIMIT_HEADERS)
            if path == "/api/v1/payments/callback":
                operation["requestBody"] = {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["type", "data"],
                                "properties": {"type": {"type": "string"}, "data": {"type": "object"}},
                            }
                        }
                    },
                }
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    app.openapi_schema = schema
    return schema


def create_app(settings: Settings | None = None, *, prepare: bool = True) -> FastAPI:
    settings = (settings or from_env()).validate()
    if not settings.gateway_url or not settings.idp_url:
        raise SettingsError("the gateway and identity provider URLs are required (the CLI starts stubs)")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings)
        if prepare:
            await run_in_threadpool(prepare_database, db, settings)
        app.state.db = db
        app.state.catalog = await run_in_threadpool(CatalogIndex.load, db)
        # The working-day calendar of this year and the next takes ~160 ms of CPU to build (holidays,
        # Tết); built on a first request it held the GIL long enough for the Redis limiter's 200 ms
        # timeout to fail closed (503) on every worker during a burst.
        await run_in_threadpool(deadlines.due_at, datetime.now(UTC), 0)
        app.state.limiter = Limiter(settings)
        app.state.passwords = PasswordService(settings)
        app.state.idp = IdentityProvider(settings.idp_url or "", settings.upstream_timeout_s)
        app.state.gateway = PaymentGateway(settings.gateway_url or "", settings.upstream_timeout_s)
        try:
            yield
        finally:
            await app.state.idp.close()
            await app.state.gateway.close()
            app.state.passwords.close()
            db.dispose()

    app = FastAPI(
        title="dvclab reference portal",
        version="0.1.0",
        description="Reference online public-service portal (DVCTT): the default system under test.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    errors.install(app)
    routers = (
        catalog.router,
        auth.router,
        dossiers.router,
        officer.router,
        officer.sync_router,
        phone.router,
        public.router,
    )
    for router in routers:
        app.include_router(router)
    app.state.method_table = errors.method_table(
        [*app.router.routes, *(route for router in routers for route in router.routes)]
    )
    app.add_middleware(
        BodyLimit,
        default_limit=settings.max_json_bytes,
        upload_limit=settings.max_file_bytes + MULTIPART_OVERHEAD,
        upload_path=UPLOAD_PATH,
    )
    app.add_middleware(Overload, max_inflight=settings.max_inflight)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def worker_app() -> FastAPI:
    """Factory for uvicorn workers: settings from the environment, database already prepared."""
    return create_app(from_env(), prepare=False)
