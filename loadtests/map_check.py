"""``dvclab load map check MAP --host URL``: each step of a portal map once, in a journey's order, printing
what was sent, what came back and what was captured, so an engineer fixes a draft before a load run.

The same request path as a load run (``map_steps.StepRunner`` on a Locust ``FastHttpSession``). The
order files a dossier as a citizen, pays it, has an officer take it through, then rates it:
search, search_page, detail, login, create, upload, submit, pay, callback, track; as the officer: login,
queue, receive, decide, return, supplement; as the citizen again: login, status, rate, dossier_list,
phone_code, logout; statistics; as the sync client: login, sync (the check steps among them run once
too). It sends real requests (logins, dossiers, payments): loopback hosts only.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from typing import Any, TextIO

from dvclab.load import data
from dvclab.load.map_steps import SKIPPED, Outcome, StepRunner
from dvclab.load.portal_map import JOURNEY_STEPS, STEPS, PortalMap

PREVIEW = 160  # characters of a body shown
ORDER: list[tuple[str, str]] = [  # (role, step); "login" switches the session to the role
    *[("citizen", s) for s in ("search", "search_page", "detail", "login", "create", "upload", "submit")],
    *[("citizen", s) for s in ("pay", "callback", "track")],
    *[("officer", s) for s in ("login", "queue", "receive", "decide", "return", "supplement")],
    # the check steps a citizen's session sends: paged lists (C12), a phone code (C19), logout (C20)
    *[("citizen", s) for s in ("login", "status", "rate", "dossier_list", "phone_code", "logout")],
    ("anyone", "statistics"),
    *[("sync", s) for s in ("login", "sync")],
]


@dataclass
class CheckReport:
    ran: int = 0
    failed: int = 0
    skipped: int = 0


def _preview(value: Any) -> str:
    if value is None:
        return ""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    text = " ".join(text.split())
    return text if len(text) <= PREVIEW else text[:PREVIEW] + f"… ({len(text)} chars)"


def session(host: str) -> Any:
    """A Locust FastHttpSession outside a swarm (its request events go nowhere)."""
    from locust.contrib.fasthttp import FastHttpSession
    from locust.event import EventHook

    return FastHttpSession(base_url=host, request_event=EventHook(), user=None)


def check(portal_map: PortalMap, host: str, out: TextIO = sys.stdout, citizen: int = 1) -> CheckReport:
    """Run the map's steps once against ``host``; print each; count failures."""
    from dvclab.load.data import ProcedureMix

    rng = random.Random()  # fresh keys every check: a portal keeps its data, a replayed key is a replay
    mix = ProcedureMix.from_catalog()
    if portal_map.procedures.only_mapped:
        mix = mix.only(lambda p: portal_map.portal_code(p.code) is not None)
    proc = mix.with_fee()
    runner = StepRunner(session(host), portal_map)
    if portal_map.procedures.lookup != "search":  # else the search step captures it
        runner.values["procedure_code"] = portal_map.portal_code(proc.code)
    runner.values.update(
        catalog_code=proc.code,
        procedure_name=proc.name,
        query=data.search_query(proc.name, rng),
        delivery="electronic",
        note="dvclab map check",
        filename="to-khai.pdf",
        document=data.pdf_bytes(5000),
        score=5,
        comment="",
        outcome="approved",
        reason="thiếu bản sao giấy tờ tùy thân",
        channel="electronic",
        cursor=0,
        limit=100,
        page=1,
        page_size=10,
        phone=f"09{rng.randrange(10**8):08d}",
    )
    report = CheckReport()
    print(f"map {portal_map.name} against {host}", file=out)
    lacking = [s for s in STEPS if not portal_map.has(s)]
    if lacking:
        print(f"  the map has no step: {', '.join(lacking)}", file=out)
    for journey in JOURNEY_STEPS:
        reason = portal_map.skipped_journeys().get(journey)
        if reason:
            print(f"  journey {journey} would be skipped: {reason}", file=out)
    mine: Any = None
    for role, name in ORDER:
        if not portal_map.has(name):
            continue
        if name == "login":
            outcome = runner.login(role, citizen)
            if mine is not None:
                runner.values["dossier"] = mine  # the citizen's own, whatever the officer looked at
        else:
            if name == "receive":
                queued = runner.values.get("queue") or []
                runner.values["dossier"] = mine if mine in queued or not queued else queued[0]
            if name == "create":
                runner.values["idempotency_key"] = data.idempotency_key(rng)
            outcome = runner.run(name)
            if name == "create":
                mine = outcome.captured.get("dossier")
        _show(role, outcome, out)
        if outcome.outcome == SKIPPED:
            report.skipped += 1
        else:
            report.ran += 1
            report.failed += outcome.outcome == data.ERROR
    print(
        f"{report.ran} steps sent, {report.failed} failed, {report.skipped} not sent",
        file=out,
    )
    return report


def _show(role: str, outcome: Outcome, out: TextIO) -> None:
    for earlier in outcome.before:
        _show(role, earlier, out)
    head = f"[{outcome.step}] as {role}"
    if outcome.outcome == SKIPPED:
        print(f"{head}: not sent ({outcome.reason})", file=out)
        return
    sent = outcome.sent
    response = outcome.response
    millis = getattr(response, "request_meta", {}).get("response_time") if response is not None else None
    verdict = {data.OK: "ok", data.REFUSED: "expected refusal", data.ERROR: "FAILED"}[outcome.outcome]
    print(f"{head}: {verdict}", file=out)
    method = getattr(response, "request_meta", {}).get("request_type", "")
    print(f"  sent     {method} {sent.get('url')}", file=out)
    shown = {k: v for k, v in sent.get("headers", {}).items() if k.lower() != "x-forwarded-for"}
    if shown:
        print(f"           headers {_preview(shown)}", file=out)
    if sent.get("data"):
        print(f"           body {_preview(sent['data'])}", file=out)
    timing = f" in {millis:.0f} ms" if isinstance(millis, int | float) else ""
    print(f"  got      {outcome.status}{timing} {_preview(getattr(response, 'content', b''))}", file=out)
    if outcome.captured:
        print(
            f"  captured {', '.join(f'{k}={_preview(v)!s}' for k, v in outcome.captured.items())}", file=out
        )
        missing = [k for k, v in outcome.captured.items() if v is None]
        if missing:
            print(f"  (nothing found for {', '.join(missing)}: check the capture's expression)", file=out)
