"""Security checks bound to the portal map: each check's declared steps, limits and ground truth; limits
read from the portal's headers (any of the header families) or the map's `limits:`; a need unmet is
"not run: <reason>", never pass and never fail. No swarm, no portal (test_second_portal runs them)."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from dvclab.load import check_needs, check_registry, data, harness, profiles, runner
from dvclab.load.check_needs import MissingLimit, announced, rate_limit, value_limit
from dvclab.load.portal_map import CHECK_STEPS, MAP_DIR, STEPS, MapError, load_map, parse_map
from dvclab.load.profiles import load_profile
from dvclab.load.security_checks import NOT_RUN_KEY, UNMET_KEY
from dvclab.load.shapes import build_segments
from dvclab.load.store_checks import C06, CONTROL_ENV, STORE_ABSENT_ENV
from dvclab.load.verdicts import finalise, unbound
from tests.load.conftest import write_profile

SECOND = Path(__file__).parent / "second_portal" / "map.yaml"
BOUND = {"C01", "C02", "C03", "C04", "C05", "C06", "C08", "C09", "C10", "C11", "C13", "C15", "C20", "C21"}
BOUND |= {"C22", "C07", "L01", "C12", "C14", "C16", "C17", "C18", "C19"}  # every check: none reference-only
# What the second portal's map lacks (no phone verification, no idempotency key, no gateway callback)
SECOND_LACKS = {"C14", "C16", "C17", "C19"}


def _run(profile: profiles.Profile | None = None, portal_map: Any = None) -> harness.Run:
    profile = profile or load_profile("smoke")
    return harness.Run(profile, build_segments(profile), data.ProcedureMix.from_catalog(), portal_map)


def _second(**changes: Any) -> Any:
    raw = yaml.safe_load(SECOND.read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    return parse_map(raw, "second.yaml")


class _Answer:
    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers
        self.status_code = 404


# --- declarations ---------------------------------------------------------------------------------


@pytest.mark.parametrize("check", check_registry.CHECKS, ids=lambda c: c.id)
def test_each_check_declares_what_it_needs(check: Any) -> None:
    needs = check_registry.NEEDS[check.id]
    assert set(needs.steps) <= set(STEPS) | set(CHECK_STEPS)
    assert {s for s, _ in (*needs.captures, *needs.sends)} | set(needs.signs) <= set(needs.steps)
    for limit in needs.limits:
        assert limit.startswith(("rate:", "drafts_", "otp_")) or limit in check_needs.VALUE_LIMITS
    assert needs.truth in ("none", "confirms", "required")
    assert (check.id in BOUND) == (not needs.reference_only), "a bound check has no reference-only reason"


def test_the_reference_map_meets_every_checks_needs() -> None:
    reference, profile = load_map("reference"), load_profile("security")
    assert {c.id: check_registry.cannot_run(c, reference, profile) for c in check_registry.CHECKS} == {
        c.id: "" for c in check_registry.CHECKS
    }


def test_on_the_second_portals_map_only_the_unported_checks_are_unbound() -> None:
    second, profile = load_map(str(SECOND)), load_profile("security")
    reasons = {c.id: check_registry.cannot_run(c, second, profile) for c in check_registry.CHECKS}
    assert {i for i, r in reasons.items() if not r} == BOUND - SECOND_LACKS
    assert reasons["C19"] == "the portal map 'second-portal' has no step 'phone_code'"
    assert reasons["C14"].startswith("the portal map's create step sends no {{ idempotency_key }}: ")
    assert "Idempotency-Key" in reasons["C14"]
    assert reasons["C16"] == reasons["C17"] == "the portal map 'second-portal' has no step 'callback'"


def test_what_a_paged_list_or_a_payment_lacks_is_named() -> None:
    raw = yaml.safe_load(SECOND.read_text(encoding="utf-8"))
    del raw["steps"]["pay"]["capture"]["amount"]
    del raw["limits"]["max_page_size"]
    second, smoke = parse_map(raw, "second.yaml"), load_profile("smoke")
    assert check_registry.cannot_run(check_registry.by_id("C18"), second, smoke) == (
        "the portal map's pay step captures no 'amount' (add it to steps.pay.capture)"
    )
    assert check_registry.cannot_run(check_registry.by_id("C12"), second, smoke).startswith(
        "no max_page_size: declare limits.max_page_size in the portal map"
    )
    reference = yaml.safe_load((MAP_DIR / "reference.yaml").read_text(encoding="utf-8"))
    del reference["steps"]["callback"]["sign"]
    unsigned = parse_map(reference, "reference.yaml")
    assert check_registry.cannot_run(check_registry.by_id("C17"), unsigned, smoke).startswith(
        "the portal map's callback step is not signed: the test cannot sign the gateway's callback"
    )
    reference["steps"]["callback"]["json"]["data"]["amount_vnd"] = 5000
    assert check_registry.cannot_run(check_registry.by_id("C16"), parse_map(reference, "r.yaml"), smoke) == (
        "the portal map's callback step sends no {{ amount }}: the portal takes no amount in its gateway's "
        "callback"
    )


def test_a_check_step_must_carry_what_its_check_varies() -> None:
    steps = yaml.safe_load(SECOND.read_text(encoding="utf-8"))["steps"]
    unpaged = {"method": "GET", "path": "/thu-tuc", "query": {"tu_khoa": "{{ query }}"}}
    with pytest.raises(MapError) as error:
        _second(
            steps={**steps, "search_page": {**unpaged, "capture": {"items": {"json": "length(ket_qua)"}}}}
        )
    message = str(error.value)
    assert "steps.search_page: its request must carry {{ page }} (the check varies it" in message
    assert "steps.search_page: its request must carry {{ page_size }}" in message
    with pytest.raises(MapError, match=r"steps.search_page.capture: needs 'items'"):
        _second(steps={**steps, "search_page": {**unpaged, "query": {"p": "{{ page }}{{ page_size }}"}}})
    with pytest.raises(MapError, match=r"steps.phone_code: its request must carry {{ phone }}"):
        _second(steps={**steps, "phone_code": {"method": "POST", "path": "/otp", "form": {"so": "0900"}}})
    with pytest.raises(MapError, match=r"steps.phone_cod: unknown step \(did you mean 'phone_code'\?\)"):
        _second(
            steps={**steps, "phone_cod": {"method": "POST", "path": "/otp", "form": {"so": "{{ phone }}"}}}
        )


@pytest.mark.parametrize(
    ("changes", "check", "reason"),
    [
        ({"limits": {}}, "C02", "no lockout_threshold: declare limits.lockout_threshold in the portal map"),
        ({"limits": {"lockout_threshold": 5}}, "C10", "no max_file_bytes: declare limits.max_file_bytes"),
        ({}, "C20", ""),
    ],
)
def test_a_missing_limit_is_named_with_the_field_to_declare(changes: dict, check: str, reason: str) -> None:
    second = _second(**changes)
    found = check_registry.cannot_run(check_registry.by_id(check), second, load_profile("smoke"))
    assert found.startswith(reason) if reason else found == ""


def test_a_missing_step_or_proxy_is_named() -> None:
    raw = yaml.safe_load(SECOND.read_text(encoding="utf-8"))
    del raw["steps"]["logout"]
    second = parse_map(raw, "second.yaml")
    c20 = check_registry.by_id("C20")
    assert check_registry.cannot_run(c20, second, load_profile("smoke")) == (
        "the portal map 'second-portal' has no step 'logout'"
    )
    profile = load_profile("smoke").model_copy(update={"forwarded_clients": False})
    assert check_registry.cannot_run(check_registry.by_id("C04"), second, profile) == check_needs.NO_PROXY


# --- limits: announced, else declared ------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "policy", "expected"),
    [
        ({"ratelimit-policy": '"track";q=30;w=10'}, None, (30, 10.0)),  # the structured draft (reference)
        ({"ratelimit-policy": '"a";q=60;w=3600, "b";q=120;w=3600'}, "b", (120, 3600.0)),
        ({"ratelimit-policy": "30;w=60", "ratelimit-limit": "30"}, "login_ip", (30, 60.0)),  # older draft
        ({"x-ratelimit-limit": "20"}, None, (20, None)),  # no window said
        ({"x-ratelimit-limit": "20", "x-ratelimit-window": "10"}, None, (20, 10.0)),
        ({"retry-after": "3"}, None, (None, None)),
    ],
)
def test_announced_limits_in_every_header_family(headers: dict, policy: str | None, expected: tuple) -> None:
    assert announced(headers, policy) == expected


def test_an_announced_limit_wins_and_the_map_gives_a_missing_window() -> None:
    second = load_map(str(SECOND))  # declares track: 30 per 10 s
    found = rate_limit(second, "track", [_Answer({"X-RateLimit-Limit": "25"})])
    assert (found.limit, found.window_s, found.source) == (25, 10.0, check_needs.ANNOUNCED)
    found = rate_limit(second, "track", [_Answer({})])
    assert (found.limit, found.window_s, found.source) == (30, 10.0, "the map")
    with pytest.raises(MissingLimit, match=r"step 'login' announces a limit of 30 but no window: declare "):
        rate_limit(second, "login", [_Answer({"RateLimit-Limit": "30"})])
    with pytest.raises(MissingLimit, match=r"no rate limit for step 'create': declare limits.rate_limits"):
        rate_limit(second, "create", [_Answer({})])
    with pytest.raises(MissingLimit, match=r"no drafts_per_citizen: declare limits.drafts_per_citizen"):
        rate_limit(second, "create", [_Answer({})], quota="drafts_per_citizen")


def test_a_profiles_limits_hold_for_the_reference_portal_only() -> None:
    smoke = load_profile("smoke")  # max_file_bytes: 1 MiB, for the embedded portal it configures
    assert value_limit(load_map("reference"), smoke, "max_file_bytes") == 1048576
    assert value_limit(load_map("reference"), smoke, "max_files_per_dossier") == 20  # the map's
    assert value_limit(load_map(str(SECOND)), smoke, "max_files_per_dossier") == 10


def test_the_maps_limits_are_validated_with_field_paths() -> None:
    with pytest.raises(MapError) as error:
        _second(limits={"lockout_threshold": 0, "rate_limits": {"trak": {"limit": 3, "window": "10s"}}})
    message = str(error.value)
    assert "second.yaml: limits.lockout_threshold: Input should be greater than or equal to 1" in message
    with pytest.raises(MapError) as error:
        _second(limits={"rate_limits": {"trak": {"limit": 3, "window": "10s"}}})
    assert "limits.rate_limits.trak: the map has no step 'trak' (did you mean 'track'?)" in str(error.value)
    with pytest.raises(MapError, match=r"limits.rate_limits.track.per: .*\(got 'ip'\)"):
        _second(limits={"rate_limits": {"track": {"limit": 3, "window": 10, "per": "ip"}}})
    with pytest.raises(MapError, match=r"limits.drafts_per_citizen.windw: unknown field 'windw'"):
        _second(limits={"drafts_per_citizen": {"limit": 3, "windw": 10}})
    assert _second(limits={"lockout_window": "15m"}).limits.lockout_window == 900.0


# --- verdicts -------------------------------------------------------------------------------------


def test_an_unmet_need_is_not_run_and_does_not_count_as_cut_short() -> None:
    run = _run(portal_map=load_map(str(SECOND)))
    run.observations = [
        {"id": "C01", "observed": {NOT_RUN_KEY: "no rate limit for step 'track'", UNMET_KEY: True}},
        {"id": "C02", "observed": {"pass": True, "T": 5}},
    ]
    verdicts = {v["id"]: v for v in finalise(run, "", None)}
    assert verdicts["C01"]["verdict"] == "not run" and unbound(verdicts["C01"])
    assert verdicts["C02"]["verdict"] == "pass"
    assert verdicts["C14"]["verdict"] == "not run" and unbound(verdicts["C14"])
    assert verdicts["C15"]["verdict"] == "not run" and not unbound(verdicts["C15"])  # never reached


def test_a_check_of_stored_state_without_the_database_is_not_run_unless_the_answers_failed(
    tmp_path: Path,
) -> None:
    path = write_profile(
        tmp_path, name="pay", shape={"kind": "soak", "rate": 1, "duration": 5}, security={"checks": ["C16"]}
    )
    run = _run(load_profile(path))
    run.observations = [{"id": "C16", "observed": {"pass": True, "applied": 1}}]
    (verdict,) = finalise(run, "http://127.0.0.1:9", None)
    assert verdict["verdict"] == "not run" and verdict["reason"].startswith("no database ground truth")
    assert "--db-url" in verdict["reason"] and verdict["observed"]["applied"] == 1  # what was seen, shown
    run.observations = [{"id": "C16", "observed": {"pass": False, "applied": 2}}]
    assert finalise(run, "http://127.0.0.1:9", None)[0]["verdict"] == "fail"  # the answers showed it


def test_receipt_code_entropy_of_any_format() -> None:
    rng = random.Random(3)
    assert data.codes_entropy_bits([data.random_receipt(rng) for _ in range(5)]) == 80.0
    sequential = [f"BN{n:06d}{rng.getrandbits(32):08X}" for n in range(1, 60)]
    assert data.codes_entropy_bits(sequential) < 64  # a counter and 32 random bits
    strong = [f"BN{rng.getrandbits(80):020X}" for _ in range(60)]
    assert data.codes_entropy_bits(strong) == 80.0
    assert data.codes_entropy_bits(["HSABC"]) < 64 and data.codes_entropy_bits([]) is None


# --- C06's proxy, started by the runner --------------------------------------------------------------


class _Portal:
    redis_url: str | None = None


def test_the_runner_says_why_it_starts_no_store_proxy(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    security = load_profile("security")
    assert runner.store_proxy(load_profile("smoke"), _Portal(), None, tmp_path) == (None, None, {})
    proxy, started, env = runner.store_proxy(security, None, None, tmp_path)
    assert proxy is None and "--host" in env[STORE_ABSENT_ENV]

    def missing(_folder: Path) -> None:
        raise runner.services.ServiceMissing("redis-server is not installed")

    monkeypatch.setattr(runner.services, "start_redis", missing)
    proxy, started, env = runner.store_proxy(security, _Portal(), None, tmp_path)
    assert proxy is None and "no Redis" in env[STORE_ABSENT_ENV]
    monkeypatch.delenv(CONTROL_ENV, raising=False)
    monkeypatch.setenv(STORE_ABSENT_ENV, env[STORE_ABSENT_ENV])
    observed = C06.probe(type("Client", (), {"run": _run(security)})())  # type: ignore[arg-type]
    assert "no Redis" in observed[NOT_RUN_KEY] and observed[UNMET_KEY]


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_the_runner_puts_the_proxy_between_the_portal_and_redis(tmp_path: Path) -> None:
    import redis

    portal = _Portal()
    proxy, started, env = runner.store_proxy(load_profile("security"), portal, None, tmp_path)
    assert proxy is not None and started is not None
    try:
        assert portal.redis_url == f"redis://127.0.0.1:{proxy.port}/0"
        assert env[CONTROL_ENV] == f"127.0.0.1:{proxy.control_port}"
        assert redis.Redis.from_url(portal.redis_url, socket_timeout=5).ping()
    finally:
        proxy.stop()
        started.stop()
    assert CONTROL_ENV not in os.environ


def test_a_database_url_is_checked_before_the_run(tmp_path: Path) -> None:
    from dvclab.load.ground_truth import bad_url

    assert "not an SQLAlchemy URL" in bad_url("nope")
    assert "only sqlite and postgresql" in bad_url("mysql://u@h/db")
    assert "no SQLite database" in bad_url(f"sqlite:///{tmp_path}/none.db")
    (tmp_path / "p.db").write_bytes(b"")
    assert bad_url(f"sqlite:///{tmp_path}/p.db") == ""


# --- ground truth from another portal's database, through its map's queries -------------------------


def test_another_portals_database_answers_through_the_queries_its_map_declares(tmp_path: Path) -> None:
    import sqlite3

    file = tmp_path / "cong.db"
    with sqlite3.connect(file) as db:  # a vendor's schema, nothing like the reference portal's
        db.execute("CREATE TABLE nhat_ky (su_kien TEXT, tai_khoan TEXT)")
        db.execute("CREATE TABLE phien (tai_khoan TEXT)")
        db.executemany("INSERT INTO nhat_ky VALUES ('sai_mat_khau', ?)", [("036090000200",)] * 6)
    queries = {
        "bad_password_rows": "SELECT count(*) FROM nhat_ky WHERE su_kien = 'sai_mat_khau' AND tai_khoan = :a",
        "sessions_of": "SELECT count(*) FROM phien WHERE tai_khoan = :a",
    }
    second = _second(ground_truth={"queries": queries})
    run = _run(portal_map=second)
    run.observations = [
        {"id": "C02", "observed": {"pass": True, "T": 5, "account": "036090000200"}},
        {"id": "C10", "observed": {"pass": True, "dossier": 3, "file_count": 1}},
    ]
    verdicts = {v["id"]: v for v in finalise(run, "http://127.0.0.1:9", f"sqlite:///{file}")}
    # 6 wrong passwords evaluated where T is 5: the database shows what the answers did not
    assert verdicts["C02"]["verdict"] == "fail"
    assert verdicts["C02"]["observed"]["db_bad_password_rows"] == 6
    assert verdicts["C10"]["verdict"] == "pass"  # no files_of query declared: the answers alone, said so
    assert "ground_truth.queries.files_of" in verdicts["C10"]["observed"]["ground_truth"]
    bare = _run(portal_map=load_map(str(SECOND)))  # the same database, a map without queries
    bare.observations = run.observations[:1]
    (c02,) = [v for v in finalise(bare, "http://127.0.0.1:9", f"sqlite:///{file}") if v["id"] == "C02"]
    assert c02["verdict"] == "pass" and "declare ground_truth.queries" in c02["observed"]["ground_truth"]


def test_a_maps_ground_truth_queries_are_validated() -> None:
    with pytest.raises(MapError, match=r"ground_truth.queries: unknown query 'sesions_of' \(did you mean"):
        _second(ground_truth={"queries": {"sesions_of": "SELECT 1"}})
