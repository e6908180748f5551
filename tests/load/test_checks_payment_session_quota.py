"""C18 (double payment initiation), C20 (session revocation) and C21 (flow quotas): their verdicts from
observations, pass and fail, without a swarm or a portal; their database reads on the portal schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from dvclab.load import check_registry, data, harness, profiles
from dvclab.load.ground_truth import PortalDatabase
from dvclab.load.payment_checks import C18, one_intent
from dvclab.load.profiles import load_profile
from dvclab.load.quota_checks import C21, policies, quota_figures
from dvclab.load.session_checks import C20, GRACE_S, revocation_figures
from dvclab.load.shapes import build_segments

FEE = 4000


def _run() -> harness.Run:
    profile = load_profile("security")
    return harness.Run(profile, build_segments(profile), data.ProcedureMix.from_catalog())


# --- C18 -----------------------------------------------------------------------------------------------


def test_c18_one_intent_at_the_fee_holds() -> None:
    answers = [(201, "gw_1", FEE)] + [(200, "gw_1", FEE)] * 19
    observed = one_intent(answers, FEE)
    assert (
        observed["pass"] and observed["statuses"] == {"200": 19, "201": 1} and observed["intents_named"] == 1
    )
    holds, shown = C18.verdict({**observed, "dossier": 7}, _run(), None)
    assert holds and "pass" not in shown and shown["amounts"] == [FEE]


@pytest.mark.parametrize(
    ("answers", "why"),
    [
        ([(201, "gw_1", FEE), (201, "gw_2", FEE)], "two intents created"),
        ([(201, "gw_1", FEE), (200, "gw_1", FEE + 1000)], "an amount other than the fee"),
        ([(201, "gw_1", FEE), (409, None, None)], "a concurrent pay refused"),
        ([(201, "gw_1", FEE), (500, None, None)], "a crash"),
        ([(200, "gw_1", FEE), (200, "gw_2", FEE)], "two intents named"),
        ([], "nothing answered"),
    ],
)
def test_c18_fails_on_a_second_intent_a_wrong_amount_or_a_refusal(answers: list, why: str) -> None:
    observed = one_intent(answers, FEE)
    assert not observed["pass"], why
    assert not C18.verdict({**observed, "dossier": 7}, _run(), None)[0]


# --- C20 -----------------------------------------------------------------------------------------------


def _samples(revoked_at: float, last_2xx_at: float) -> list[tuple[float, int]]:
    """Requests every 0.1 s from 0 to 3 s: 200 until ``last_2xx_at``, then 401."""
    return [(t / 10, 200 if t / 10 <= last_2xx_at else 401) for t in range(31)]


def test_c20_revoked_within_the_grace_holds() -> None:
    observed = revocation_figures(_samples(1.0, 1.4), 1.0, GRACE_S)  # a straggler 0.4 s after: allowed
    assert observed["pass"] and observed["2xx_after_grace"] == 0 and observed["2xx_before"] == 10
    assert observed["last_2xx_after_revocation_s"] == pytest.approx(0.4)
    assert observed["statuses_after_grace"] == [401]


def test_c20_fails_on_a_2xx_past_the_grace_no_revocation_or_no_evidence() -> None:
    late = revocation_figures(_samples(1.0, 2.5), 1.0, GRACE_S)  # one worker still took the token
    assert not late["pass"] and late["2xx_after_grace"] == 6
    assert not revocation_figures(_samples(1.0, 1.2), None, GRACE_S)["pass"]  # the logout failed
    assert not revocation_figures([(t / 10, 401) for t in range(31)], 1.0, GRACE_S)["pass"]  # never worked
    assert not revocation_figures([(0.1, 200), (0.5, 401)], 1.0, GRACE_S)["pass"]  # not tried past the grace


def _c20(logout: dict, lockout: dict, renewed: bool) -> dict:
    return {
        "grace_s": GRACE_S,
        "logout": logout,
        "lockout": lockout,
        "new_token_at_login": renewed,
        "pass": renewed and logout.pop("pass") and lockout.pop("pass"),
        "revoked_token_hashes": [data.token_hash("a"), data.token_hash("b")],
        "locked_account": data.citizen_id(188),
    }


def test_c20_verdict_needs_both_revocations_and_a_new_token() -> None:
    good = lambda: revocation_figures(_samples(1.0, 1.1), 1.0, GRACE_S)  # noqa: E731
    bad = revocation_figures(_samples(1.0, 2.9), 1.0, GRACE_S)
    assert C20.verdict(_c20(good(), good(), True), _run(), None)[0]
    assert not C20.verdict(_c20(good(), bad, True), _run(), None)[0]  # a lockout that left the token alive
    assert not C20.verdict(_c20(good(), good(), False), _run(), None)[0]  # no new token at login


def test_token_hash_is_the_portals() -> None:
    from dvclab.portal.auth import token_hash

    assert data.token_hash("abc") == token_hash("abc")


# --- C21 -----------------------------------------------------------------------------------------------


def test_c21_reads_the_announced_quotas() -> None:
    header = '"dossier_create";q=60;w=3600, "dossier_create_ip";q=120;w=3600'
    assert policies(header) == {"dossier_create": 60, "dossier_create_ip": 120}
    assert policies('"api";q=600;w=60') == {"api": 600}
    assert policies(None) == {} and policies("garbage") == {}


def test_c21_quota_figures_pass_and_fail() -> None:
    held = quota_figures([201] * 60 + [429] * 10, 60)
    assert held["pass"] and held["created"] == 60 and held["refused_429"] == 10
    assert not quota_figures([201] * 61 + [429] * 9, 60)["pass"]  # one draft over the quota
    assert not quota_figures([201] * 60 + [500] * 10, 60)["pass"]  # excess not answered 429
    assert not quota_figures([429] * 70, 60)["pass"]  # nothing created: a refusal of everything


def test_c21_verdict_needs_both_quotas() -> None:
    def observed(citizen: list[int], household: list[int]) -> dict:
        mine, theirs = quota_figures(citizen, 60), quota_figures(household, 120)
        return {
            "per_citizen": mine,
            "per_address": theirs,
            "pass": mine.pop("pass") and theirs.pop("pass"),
            "citizen": data.citizen_id(187),
            "household": [data.citizen_id(n) for n in (186, 185, 184)],
        }

    assert C21.verdict(observed([201] * 60 + [429] * 10, [201] * 120 + [429] * 12), _run(), None)[0]
    assert not C21.verdict(observed([201] * 60 + [429] * 10, [201] * 132), _run(), None)[0]


# --- ground truth --------------------------------------------------------------------------------------


def test_their_database_reads_on_the_portal_schema(tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    from dvclab.portal.models import Base

    file = tmp_path / "portal.db"
    engine = create_engine(f"sqlite:///{file}")
    Base.metadata.create_all(engine)
    engine.dispose()
    db = PortalDatabase(f"sqlite:///{file}")
    limits = profiles.Limits()
    assert db.payment_amounts(1) == [] and db.sessions_with_hashes(["h"]) == 0
    assert db.dossiers_of([data.citizen_id(187)]) == 0
    # No payment row at all is a failure of C18; no session and no dossier left is what C20, C21 want.
    assert C18.confirm({"dossier": 1, "fee_vnd": FEE}, db, limits) == (
        False,
        {"db_payments": 0, "db_amounts": []},
    )
    c20 = {"revoked_token_hashes": ["h"], "locked_account": data.citizen_id(188)}
    assert C20.confirm(c20, db, limits)[0]
    c21 = {
        "citizen": data.citizen_id(187),
        "household": [data.citizen_id(186)],
        "per_citizen": {"quota": 60},
        "per_address": {"quota": 120},
    }
    assert C21.confirm(c21, db, limits) == (True, {"db_citizen_dossiers": 0, "db_household_dossiers": 0})


def test_the_new_checks_are_registered_in_the_security_and_smoke_profiles() -> None:
    for name in ("security", "smoke"):
        assert {"C18", "C20", "C21"} <= set(load_profile(name).security.checks)
    order = [c.id for c in check_registry.CHECKS]
    assert order.index("C18") < order.index("C16")  # the payment intent before its callbacks
    assert load_profile("security").portal.workers == 4
