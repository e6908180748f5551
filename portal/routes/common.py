"""Helpers shared by the route modules."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request

from dvclab.portal.db import Database
from dvclab.portal.ratelimit import client_ip
from dvclab.portal.settings import Settings

MAX_PAGE_SIZE = 100


def db_of(request: Request) -> Database:
    return request.app.state.db


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def ip_of(request: Request) -> str:
    return client_ip(request, request.app.state.settings.trusted_proxies)


Page = Annotated[int, Query(ge=1, le=10_000)]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
