"""Security check of pagination and search abuse (C12, OWASP API4): a client cannot make the portal build
a huge page, walk to a page far enough to cost more than the first, or search with an unbounded query.

Both of the map's paged lists are probed: the anonymous catalog search (step ``search_page``) and a
citizen's own dossiers (``dossier_list``, an SQL OFFSET on the reference portal) when the map has it. The
largest page allowed is the map's ``limits.max_page_size``.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING

import numpy as np

from dvclab.load.portal_map import placeholders_of
from dvclab.load.security_checks import Observed, SecurityCheck

if TYPE_CHECKING:
    from dvclab.load.check_client import ProbeClient
    from dvclab.load.map_steps import Outcome, StepRunner

ACCOUNT = 205  # a demo citizen of the checks' own
PAGE_MAX = 100  # the reference portal's records-per-page bound (another portal's: its map's max_page_size)
HUGE_PAGE_SIZE = 1_000_000
DEEP_PAGES = (100_000, 10_000, 1_000)  # the deepest the list accepts is timed against the first
LONG_QUERY = 10_000  # characters
SAMPLES = 40  # interleaved first-page and deep-page requests, each list
DEEP_FACTOR = 3.0  # deep-page p95 <= 3 x first-page p95
FLOOR_MS = 5.0  # first-page p95 below this counts as this: loopback timer noise is not a 3x slowdown
REFUSALS = (400, 414, 422)  # what an oversized page or query may get instead of a capped answer


def items_of(outcome: Outcome) -> int | None:
    """The records on a page the step answered (its `items` capture: a count, or the list itself)."""
    items = outcome.captured.get("items") if outcome.status == 200 else None
    if isinstance(items, list):
        return len(items)
    return items if isinstance(items, int) and not isinstance(items, bool) else None


def abuse_answer(status: int, items: int | None, page_max: int = PAGE_MAX) -> Observed:
    """One abusive request's answer: a refusal, or a page no larger than ``page_max``."""
    capped = status == 200 and items is not None and items <= page_max
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
        f"map's paged lists (catalog search; a citizen's dossiers when the map has them): refused (4xx) or "
        f"<= max_page_size items; deepest accepted page p95 <= {DEEP_FACTOR:g} x first page p95; no 5xx "
        "(a timed-out statement answers 503)"
    )

    def probe(self, client: ProbeClient) -> Observed:
        page_max = int(client.limit("max_page_size"))  # MissingLimit: "not run", naming the field
        lists: dict[str, tuple[str, StepRunner]] = {"catalog": ("search_page", client.browser(self.id))}
        if client.run.portal_map.has("dossier_list"):
            mine = client.signed_in(self.id, ACCOUNT)
            if mine is None:
                return {"error": "could not log in"}
            lists["dossiers"] = ("dossier_list", mine)
        statuses: Counter[int] = Counter()

        def get(steps: StepRunner, step: str, query: str, page: int, size: int) -> tuple[Outcome, float]:
            started = time.perf_counter()
            outcome = steps.run(step, expect=(200, *REFUSALS, 503), query=query, page=page, page_size=size)
            statuses[outcome.status] += 1
            return outcome, (time.perf_counter() - started) * 1000

        lo = min(20, page_max)
        span = max(1, min(80, page_max - lo + 1))
        shown: Observed = {}
        holds = True
        for name, (step, steps) in lists.items():
            abuse: Observed = {}
            takes_query = "query" in placeholders_of(client.run.portal_map.steps[step])
            for label, query, page, size in (
                ("huge_page_size", "", 1, HUGE_PAGE_SIZE),
                ("deep_page", "", DEEP_PAGES[0], lo),
                ("long_query", "a" * LONG_QUERY, 1, lo),
            ):
                if label == "long_query" and not takes_query:
                    continue  # the list has no search: there is no query to make long
                outcome, _ = get(steps, step, query, page, size)
                abuse[label] = abuse_answer(outcome.status, items_of(outcome), page_max)
            deep_page = None
            for page in DEEP_PAGES:
                if get(steps, step, "", page, lo)[0].status == 200:
                    deep_page = page
                    break
            first_ms: list[float] = []
            deep_ms: list[float] = []
            for i in range(SAMPLES if deep_page else 0):
                size = lo + i % span  # a new page size each time: no cached page answers the timing
                first_ms.append(get(steps, step, "", 1, size)[1])
                deep_ms.append(get(steps, step, "", deep_page or 1, size)[1])
            depth = depth_figures(first_ms, deep_ms, deep_page)
            answered = [a.pop("pass") for a in abuse.values()]
            deep_enough = depth.pop("pass")
            holds = holds and all(answered) and deep_enough
            shown[name] = {**abuse, "depth": depth}
        server_errors = {str(s): n for s, n in statuses.items() if s >= 500 and s != 503}
        return {
            **shown,
            "max_page_size": page_max,
            "statuses": {str(s): n for s, n in sorted(statuses.items())},
            "pass": holds and not server_errors,
        }


C12 = PaginationAbuse()
