"""Suite-wide set-up: chosen warm-ups (``warmup_days: auto``) are kept in a cache of the test session's own,
shared by the tests of one pytest process (and the CLIs they start), never the user's."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def warmup_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    before = os.environ.get("DVCLAB_CACHE")
    os.environ["DVCLAB_CACHE"] = str(tmp_path_factory.mktemp("dvclab-cache"))
    yield
    if before is None:
        os.environ.pop("DVCLAB_CACHE", None)
    else:
        os.environ["DVCLAB_CACHE"] = before
