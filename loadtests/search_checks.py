"""Security check of pagination and search abuse (C12, OWASP API4): a client cannot make the portal build
a huge page, walk to a page far enough to cost more than the first, or search with an unbounded query.

Both lists are probed: the anonymous catalog search and a citizen's own dossiers (an SQL OFFSET).
"""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np

from dvclab.load import data
from dvclab.load.data import API
from dvclab.load.security_checks import Observed, SecurityCheck

if TYPE_CHECKING:
    from dvclab.load.check_client import ProbeClient

ACCOUNT = 205  # a demo citizen of the checks' own
PAGE_MAX = 100  # the catalogue's records-per-page bound: a larger page must be refused (422) or capped
HUGE_PAGE_SIZE = 1_000_000
DEEP_PAGES = (100_000, 10_000, 1_000)  # the deepest the list accepts is timed against the first
LONG_QUERY = 10_000  # characters
SAMPLES = 40  # interleaved first-page and deep-page requests, each list
DEEP_FACTOR = 3.0  # deep-page p95 <= 3 x first-page p95
FLOOR_MS = 5.0  # first-page p95 below this counts as this: loopback timer noise is not a 3x slowdown
REFUSALS = (400, 414, 422)  # what an oversized page or query may get instead of a capped answer


def items_of(response: Any) -> int | None:
    body = data.json_of(response) if response.status_code == 200 else None
    items = body.get("items") if isinstance(body, dict) else None
    return len(items) if isinstance(items, list) else None


def abuse_answer(status: int, items: int | None) -> Observed:
    """One abusive request's answer: a refusal, or a page no larger than PAGE_MAX."""
    capped = status == 200 and items is not None and items <= PAGE_MAX
    return {"status": status, "items": items, "pass": status in REFUSALS or capped}


def depth_figures(first_ms: list[float], deep_ms: list[float], deep_page: int | None) -> Observed:
    first = float(np.percentile(first_ms, 95)) if first_ms else None
    deep = float(np.percentile(deep_ms, 95)) if deep_ms else None
    ok = first is not None and deep is not None and deep <= DEEP_FACTOR * max(first, FLOOR_MS)
    return {
        "deep_page": deep_page,
        "samples_each": min(len(first_ms), len(deep_ms)),
        "first_page_p95_ms": round(first, 2) if first is not None else None,
        "deep_page_p95_ms": round(deep, 2) if deep is not None else None,
        "pass": ok,
    }


class PaginationAbuse(SecurityCheck):
    id = "C12"
    name = "pagination and search abuse"
    invariant = (
        f"page_size={HUGE_PAGE_SIZE:,}, page={DEEP_PAGES[0]:,} and a {LONG_QUERY:,}-character query on the "
        f"catalog and a citizen's dossiers: refused (422) or <= {PAGE_MAX} items; deepest accepted page "
        f"p95 <= {DEEP_FACTOR:g} x first page p95; no 5xx (a timed-out statement answers 503)"
    )

    def probe(self, client: ProbeClient) -> Observed:
        own = client.address(self.id)
        token = client.login_as(self.id, ACCOUNT)
        if token is None:
            return {"error": "could not log in"}
        lists = {"catalog": (f"{API}/procedures", None), "dossiers": (f"{API}/dossiers", token)}
        statuses: Counter[int] = Counter()

        def get(path: str, auth: str | None, query: str) -> tuple[Any, float]:
            started = time.perf_counter()
            response = client.send(
                self.id,
                "GET",
                f"{path}?{query}",
                f"GET {path}",
                (200, *REFUSALS, 503),
                headers=own,
                token=auth,
            )
            statuses[response.status_code] += 1
            return response, (time.perf_counter() - started) * 1000

        shown: Observed = {}
        holds = True
        for name, (path, auth) in lists.items():
            abuse: Observed = {}
            for label, query in (
                ("huge_page_size", f"page_size={HUGE_PAGE_SIZE}"),
                ("deep_page", f"page={DEEP_PAGES[0]}"),
                ("long_query", "q=" + "a" * LONG_QUERY),
            ):
                response, _ = get(path, auth, query)
                abuse[label] = abuse_answer(response.status_code, items_of(response))
            deep_page = None
            for page in DEEP_PAGES:
                if get(path, auth, f"page={page}")[0].status_code == 200:
                    deep_page = page
                    break
            first_ms: list[float] = []
            deep_ms: list[float] = []
            for i in range(SAMPLES if deep_page else 0):
                size = 20 + i % 80  # a new page size each time: no cached page answers the timing
                first_ms.append(get(path, auth, f"page=1&page_size={size}")[1])
                deep_ms.append(get(path, auth, f"page={deep_page}&page_size={size}")[1])
            depth = depth_figures(first_ms, deep_ms, deep_page)
            answered = [a.pop("pass") for a in abuse.values()]
            deep_enough = depth.pop("pass")
            holds = holds and all(answered) and deep_enough
            shown[name] = {**abuse, "depth": depth}
        server_errors = {str(s): n for s, n in statuses.items() if s >= 500 and s != 503}
        return {
            **shown,
            "statuses": {str(s): n for s, n in sorted(statuses.items())},
            "pass": holds and not server_errors,
        }


C12 = PaginationAbuse()
