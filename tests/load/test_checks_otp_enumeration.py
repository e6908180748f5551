"""C09 (login enumeration by timing) and C19 (SMS cost): their verdicts from observations, pass and fail,
without a swarm or a portal; C19's database reads on the portal schema."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from dvclab.load import check_registry, data, harness, profiles
from dvclab.load.enumeration_checks import C09, answers_figures, timing_figures
from dvclab.load.ground_truth import PortalDatabase
from dvclab.load.otp_checks import C19, sms_figures
from dvclab.load.profiles import load_profile
from dvclab.load.shapes import build_segments


def _run() -> harness.Run:
    profile = load_profile("security")
    return harness.Run(profile, build_segments(profile), data.ProcedureMix.from_catalog())


def _times(median: float, n: int = 1000, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [median + rng.gauss(0, 4) for _ in range(n)]


# --- C09 -----------------------------------------------------------------------------------------------


def test_c09_indistinguishable_times_hold() -> None:
    observed = timing_figures(_times(40.0, seed=1), _times(40.0, seed=2))
    assert observed["pass"] and observed["mann_whitney_p"] >= 0.01 and observed["samples_known"] == 1000


def test_c09_a_quick_exit_for_unknown_numbers_is_found() -> None:
    # An unknown number answered without hashing: 30 ms faster, plainly told apart.
    observed = timing_figures(_times(40.0, seed=1), _times(10.0, seed=2))
    assert not observed["pass"] and observed["mann_whitney_p"] < 0.01 and observed["delta_median_ms"] > 25


def test_c09_a_tiny_but_significant_shift_under_5_ms_still_holds() -> None:
    # 1,000 samples detect a 2 ms shift; the catalogue's bound forgives it (|delta median| < 5 ms).
    observed = timing_figures(_times(42.0, seed=1), _times(40.0, seed=2))
    assert observed["mann_whitney_p"] < 0.01 and observed["pass"]
    assert not timing_figures([], _times(40.0))["pass"]  # no evaluated sample: nothing shown


def test_c09_answers_must_be_one_and_the_same() -> None:
    same = {(401, '{"title":"Unauthorized"}')}
    assert answers_figures(same, set(same))["pass"]
    assert not answers_figures(same, {(404, '{"title":"No such account"}')})["pass"]  # status tells
    assert not answers_figures(same | {(429, "locked")}, same)["pass"]  # only known accounts locked


def _c09(low: dict, busy: dict, lockout_known: list[int], lockout_unknown: list[int]) -> dict:
    lockout = {"known": lockout_known, "unknown": lockout_unknown}
    lockout["pass"] = lockout_known == lockout_unknown and lockout_known[-1] == 429
    return {
        "low_load": low,
        "busy": busy,
        "lockout": lockout,
        "pass": low.pop("pass") and busy.pop("pass") and lockout.pop("pass"),
    }


def test_c09_verdict_needs_both_phases_and_the_same_lockout() -> None:
    def ok() -> dict:
        return timing_figures(_times(40.0, seed=1), _times(40.0, seed=2))

    locks = [401] * 5 + [429]
    assert C09.verdict(_c09(ok(), ok(), locks, list(locks)), _run(), None)[0]
    leaky = timing_figures(_times(60.0, seed=1), _times(40.0, seed=2))  # under load the hash queue tells
    assert not C09.verdict(_c09(ok(), leaky, locks, list(locks)), _run(), None)[0]
    assert not C09.verdict(_c09(ok(), ok(), locks, [401] * 6), _run(), None)[0]  # unknown never locks


# --- C19 -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "holds", "why"),
    [
        ([202] * 5 + [429] * 15, True, "the quota, the rest refused"),
        ([202] * 6 + [429] * 14, False, "one SMS over the per-phone quota: paid for"),
        ([202] * 5 + [503] * 15, False, "excess not answered 429"),
        ([429] * 20, False, "no SMS at all: a refusal of everything"),
    ],
)
def test_c19_sms_figures(statuses: list[int], holds: bool, why: str) -> None:
    assert sms_figures(statuses, 5)["pass"] is holds, why


def test_c19_verdict_and_ground_truth(tmp_path: Path) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from dvclab.portal.models import Account, Base, PhoneVerification, utcnow

    phone_burst, address_burst = (
        sms_figures([202] * 5 + [429] * 15, 5),
        sms_figures([202] * 20 + [429] * 15, 20),
    )
    observed = {
        "per_phone": phone_burst,
        "per_address": address_burst,
        "pass": phone_burst.pop("pass") and address_burst.pop("pass"),
        "victim_phone": "0912345678",
        "shared_address": "10.255.3.3",
    }
    assert C19.verdict(dict(observed), _run(), None)[0]
    file = tmp_path / "portal.db"
    engine = create_engine(f"sqlite:///{file}")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add(Account(national_id="036090000203", full_name="x", role="citizen", password_hash="x"))
        session.flush()
        for i in range(6):  # one code more than the phone's quota reached the provider
            session.add(
                PhoneVerification(
                    account_id=1,
                    phone="0912345678",
                    client_ip=f"10.249.0.{i}",
                    code_hash="x",
                    expires_at=utcnow(),
                )
            )
        session.commit()
    engine.dispose()
    holds, shown = C19.confirm(observed, PortalDatabase(f"sqlite:///{file}"), profiles.Limits())
    assert not holds and shown == {"db_codes_to_victim_phone": 6, "db_codes_from_shared_address": 0}


def test_c09_and_c19_are_in_the_security_profile() -> None:
    assert {"C09", "C19"} <= set(load_profile("security").security.checks)
    order = [c.id for c in check_registry.CHECKS if c.probed]
    assert order[-1] == "C09"  # the longest probe last: the others are judged even if the run ends first


def test_a_check_cut_off_mid_probe_says_so() -> None:
    from dvclab.load.verdicts import finalise

    run = _run()
    run.outcomes["[C09] POST /api/v1/auth/login"]["refused"] += 720  # probing when the run ended
    verdicts = {v["id"]: v for v in finalise(run, "", None)}
    assert verdicts["C09"]["verdict"] == "not run"
    assert verdicts["C09"]["reason"] == "the run ended while the attacker was still probing this check"
    assert "before the attacker started" in verdicts["C19"]["reason"]  # never reached


class _Answered:
    status_code = 202

    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers


def test_c19_quotas_are_announced_else_the_maps() -> None:
    from dvclab.load.check_needs import MissingLimit, rate_limit
    from dvclab.load.portal_map import load_map, parse_map

    reference = load_map("reference")
    announced = _Answered(
        {"RateLimit-Policy": '"citizen";q=600;w=60, "otp_phone";q=3;w=600, "otp_ip";q=9;w=600'}
    )
    phone = rate_limit(reference, "phone_code", [announced], "otp_phone", "otp_per_phone")
    address = rate_limit(reference, "phone_code", [announced], "otp_ip", "otp_per_address")
    assert (phone.limit, phone.window_s, address.limit) == (3, 600.0, 9)
    declared = rate_limit(reference, "phone_code", [_Answered({})], "otp_phone", "otp_per_phone")
    assert (declared.limit, declared.window_s, declared.source) == (5, 3600.0, "the map")
    raw = reference.model_dump(by_alias=True, exclude_none=True)
    del raw["limits"]["otp_per_phone"]
    with pytest.raises(
        MissingLimit, match=r"no otp_per_phone: declare limits.otp_per_phone \(\{limit, window\}\)"
    ):
        rate_limit(parse_map(raw, "r.yaml"), "phone_code", [_Answered({})], "otp_phone", "otp_per_phone")
