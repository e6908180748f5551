"""C04 (stuffing and spraying), C12 (pagination and search abuse) and C22 (hash flood): their verdicts
from observations, pass and fail, without a swarm or a portal; a precondition missing is "not run"."""

from __future__ import annotations

from pathlib import Path

import pytest

from dvclab.load import check_registry, data, harness, profiles
from dvclab.load.ground_truth import PortalDatabase
from dvclab.load.login_abuse_checks import (
    C04,
    FLOOD,
    HASH_POOL,
    MIB_PER_HASH,
    flood_figures,
    spraying_figures,
    stuffing_figures,
)
from dvclab.load.map_steps import Outcome
from dvclab.load.profiles import load_profile
from dvclab.load.search_checks import PAGE_MAX, abuse_answer, depth_figures, items_of
from dvclab.load.security_checks import NOT_RUN_KEY
from dvclab.load.shapes import build_segments
from dvclab.load.verdicts import finalise

T = 5


def _run() -> harness.Run:
    profile = load_profile("security")
    return harness.Run(profile, build_segments(profile), data.ProcedureMix.from_catalog())


# --- C04 -----------------------------------------------------------------------------------------------


def test_c04_stuffing_holds_when_the_lock_stops_the_botnet() -> None:
    statuses = [401] * T + [429] * 195
    observed = stuffing_figures(statuses, 120, T)
    assert observed["pass"] and observed["evaluated_401"] == T and observed["right_password_answer"] == 429


@pytest.mark.parametrize(
    ("statuses", "why"),
    [
        ([401] * (T + 1) + [429] * 194, "one guess evaluated past T: the lock is per address, not account"),
        ([401] * T + [429] * 114 + [200] + [429] * 80, "the leaked right password logged in past the lock"),
        ([401] * T + [429] * 190 + [500] * 5, "a crash instead of a refusal"),
    ],
)
def test_c04_stuffing_fails(statuses: list[int], why: str) -> None:
    assert not stuffing_figures(statuses, 120, T)["pass"], why


def test_c04_spraying_is_bounded_per_window_of_the_address_quota() -> None:
    held = spraying_figures([401] * 30 + [429] * 470, 30, 60, 8.0)
    assert held["pass"] and held["allowed"] == 30
    # A spray spanning two windows may be evaluated twice the quota, not more.
    assert spraying_figures([401] * 60 + [429] * 440, 30, 60, 61.0)["pass"]
    assert not spraying_figures([401] * 31 + [429] * 469, 30, 60, 8.0)["pass"]  # one over the quota
    assert not spraying_figures([401] * 500, 30, 60, 8.0)["pass"]  # no address limit at all
    assert not spraying_figures([401] * 30 + [429] * 470, None, None, 8.0)["pass"]  # quota unannounced


def _c04(stuffing: list[int], spraying: list[int]) -> dict:
    a, b = stuffing_figures(stuffing, 120, T), spraying_figures(spraying, 30, 60, 8.0)
    return {
        "stuffing": a,
        "spraying": b,
        "pass": a.pop("pass") and b.pop("pass"),
        "account": data.citizen_id(201),
        "sprayer": "10.255.9.9",
    }


def test_c04_verdict_needs_both_halves() -> None:
    good_a, good_b = [401] * T + [429] * 195, [401] * 30 + [429] * 470
    assert C04.verdict(_c04(good_a, good_b), _run(), None)[0]
    assert not C04.verdict(_c04(good_a, [401] * 500), _run(), None)[0]
    assert not C04.verdict(_c04([401] * 200, good_b), _run(), None)[0]


# --- C12 -----------------------------------------------------------------------------------------------


def test_c12_an_oversized_page_is_refused_or_capped() -> None:
    assert abuse_answer(422, None)["pass"] and abuse_answer(200, PAGE_MAX)["pass"]
    assert not abuse_answer(200, PAGE_MAX + 1)["pass"]  # the portal built a page of a million rows
    assert not abuse_answer(500, None)["pass"] and not abuse_answer(200, None)["pass"]


def test_c12_judges_the_page_size_its_map_declares_from_the_steps_items_capture() -> None:
    page = Outcome("search_page", data.OK, 200, captured={"items": 51})
    assert items_of(page) == 51 and not abuse_answer(200, items_of(page), 50)["pass"]  # the map's 50
    assert abuse_answer(200, items_of(page), PAGE_MAX)["pass"]
    assert items_of(Outcome("dossier_list", data.OK, 200, captured={"items": [1, 2]})) == 2  # a list, counted
    assert items_of(Outcome("search_page", data.REFUSED, 422)) is None
    assert items_of(Outcome("search_page", data.OK, 200, captured={"items": "many"})) is None


def test_c12_deep_pages_cost_no_more_than_three_first_pages() -> None:
    first = [4.0 + i % 3 for i in range(40)]
    assert depth_figures(first, [x * 2 for x in first], 10_000)["pass"]
    slow = depth_figures(first, [x * 5 for x in first], 10_000)
    assert not slow["pass"] and slow["deep_page_p95_ms"] == pytest.approx(30.0)  # an OFFSET scan
    # Sub-millisecond first pages: a deep page of 12 ms is within 3 x the 5 ms floor, 16 ms is not.
    assert depth_figures([0.5] * 40, [12.0] * 40, 10_000)["pass"]
    assert not depth_figures([0.5] * 40, [16.0] * 40, 10_000)["pass"]
    assert not depth_figures([], [], None)["pass"]  # no page deep enough accepted: nothing shown


# --- C22 -----------------------------------------------------------------------------------------------

BOUND = HASH_POOL * MIB_PER_HASH


def _flood(**change: object) -> dict:
    args: dict = {
        "statuses": [401] * 264 + [503] * (FLOOD - 264),
        "retry_after_missing": 0,
        "healthz_ms": [3.0] * 300 + [40.0] * 5,
        "rss_before": {1: 80.0, 2: 80.0},
        "rss_peak": {1: 80.0 + 60, 2: 80.0 + 60},
    }
    return flood_figures(**{**args, **change})


def test_c22_holds_with_the_pool_bounding_memory_and_healthz_fast() -> None:
    observed = _flood()
    assert observed["pass"] and observed["refused_429_503"] == FLOOD - 264
    assert observed["rss_growth_mib_max_per_process"] == 60 and observed["healthz_p99_ms"] < 100


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (
            {"rss_peak": {1: 80.0 + BOUND + 1, 2: 90.0}},
            "one process grew past pool x 64 MiB: unbounded hashing",
        ),
        ({"healthz_ms": [3.0] * 90 + [150.0] * 10}, "/healthz p99 over 100 ms: the event loop starved"),
        ({"healthz_ms": [3.0] * 99 + [None]}, "a /healthz went unanswered"),
        ({"healthz_ms": [3.0] * 99}, "99 samples: their p99 is only their slowest one"),
        ({"statuses": [401] * 264 + [500] * (FLOOD - 264)}, "excess answered 500"),
        ({"statuses": [401] * 264 + [0] * (FLOOD - 264)}, "excess left hanging (no answer)"),
        ({"retry_after_missing": 3}, "a refusal without Retry-After"),
        ({"rss_before": {}, "rss_peak": {}}, "memory never read"),
    ],
)
def test_c22_fails(change: dict, why: str) -> None:
    assert not _flood(**change)["pass"], why


# --- preconditions, registry, ground truth ------------------------------------------------------------


def test_a_missing_precondition_is_not_run_with_its_reason() -> None:
    run = _run()
    run.observations = [
        {"id": "C04", "observed": {NOT_RUN_KEY: "no trusted proxy"}},
        {"id": "C22", "observed": _flood()},
    ]
    assert C04.verdict({NOT_RUN_KEY: "x"}, run, None)[0] is None
    verdicts = {v["id"]: v for v in finalise(run, "", None)}
    assert verdicts["C04"]["verdict"] == "not run" and verdicts["C04"]["reason"] == "no trusted proxy"
    assert verdicts["C22"]["verdict"] == "pass"
    assert verdicts["C12"]["verdict"] == "not run"  # no observation at all: the run's own reason


def test_the_new_checks_are_in_the_security_profile_in_order() -> None:
    assert {"C04", "C12", "C22"} <= set(load_profile("security").security.checks)
    probed = [c.id for c in check_registry.CHECKS if c.probed]
    assert probed[-2:] == ["C22", "C09"]  # the flood after the other checks it would slow; C09 the longest


def test_c04_reads_the_sprayers_failures_from_the_audit_trail(tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    from dvclab.portal.models import AuditEvent, Base

    file = tmp_path / "portal.db"
    engine = create_engine(f"sqlite:///{file}")
    Base.metadata.create_all(engine)
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        for i in range(31):
            session.add(AuditEvent(event="bad_password", subject=f"x{i}", client_ip="10.255.9.9", detail=""))
        session.commit()
    engine.dispose()
    db = PortalDatabase(f"sqlite:///{file}")
    observed = _c04([401] * T + [429] * 195, [401] * 30 + [429] * 470)
    observed.pop("pass")
    holds, shown = C04.confirm(observed, db, profiles.Limits())
    assert not holds and shown["db_bad_password_rows_from_sprayer"] == 31  # 31 evaluated, 30 allowed
