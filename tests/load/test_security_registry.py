"""Each security check is one object (id, name, invariant, probe, verdict); the registry, the ids a profile
may name and the order of security.json are derived from those objects. No swarm, no portal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dvclab.load import check_registry, data, harness, profiles
from dvclab.load.check_registry import CHECK_IDS, CHECKS
from dvclab.load.ground_truth import PortalDatabase
from dvclab.load.profiles import ProfileError, load_profile
from dvclab.load.rate_checks import C08
from dvclab.load.security_checks import SecurityCheck
from dvclab.load.shapes import build_segments
from dvclab.load.verdicts import finalise
from tests.load.conftest import REPO, write_profile


def _run(profile: profiles.Profile | None = None) -> harness.Run:
    profile = profile or load_profile("smoke")
    return harness.Run(profile, build_segments(profile), data.ProcedureMix.from_catalog())


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.id)
def test_each_check_carries_id_name_invariant_probe_and_verdict(check: SecurityCheck) -> None:
    assert check.id in CHECK_IDS and check_registry.by_id(check.id) is check
    assert check.name.strip() and check.invariant.strip()
    assert callable(check.verdict)
    if check.probed:
        assert type(check).probe is not SecurityCheck.probe  # its own probe
    else:
        with pytest.raises(NotImplementedError, match=check.id):
            check.probe(object())  # type: ignore[arg-type]
    # The verdict is a plain call: a probed check that never reported did not run (neither pass nor fail).
    holds, _ = check.verdict(None, _run(), None)
    if check.probed:
        assert holds is None


def test_registry_is_derived_from_the_checks() -> None:
    assert profiles.CHECK_IDS is CHECK_IDS == tuple(sorted(c.id for c in CHECKS))
    assert len(set(CHECK_IDS)) == len(CHECKS)
    order = [c.id for c in CHECKS]
    for check in CHECKS:  # a check reading another's probe runs after it (C08 reads C01's and C15's 429s)
        assert all(order.index(needed) < order.index(check.id) for needed in check.after)
    assert [c.id for c in check_registry.probed(CHECK_IDS)] == [c.id for c in CHECKS if c.probed]
    assert {c.id for c in CHECKS if not c.probed} == {"C07", "L01"}


def test_registry_refuses_duplicates_and_a_check_before_what_it_reads() -> None:
    c01, c08 = check_registry.by_id("C01"), check_registry.by_id("C08")
    with pytest.raises(TypeError, match="C01 is registered twice"):
        check_registry._in_order((c01, c01))
    with pytest.raises(TypeError, match="C08 must run after C01, C15"):
        check_registry._in_order((c08, c01))


def test_a_check_class_without_its_parts_is_refused() -> None:
    with pytest.raises(TypeError, match="needs a non-empty invariant"):

        class NoInvariant(SecurityCheck):
            id, name = "C90", "nameless invariant"

    with pytest.raises(TypeError, match="C91: a probed check implements probe"):

        class NoProbe(SecurityCheck):
            id, name, invariant = "C91", "n", "i"

    with pytest.raises(TypeError, match="not like C01"):

        class BadId(SecurityCheck):
            id, name, invariant, probed = "rule-1", "n", "i", False


def test_unknown_check_id_is_refused_with_the_known_ids(tmp_path: Path) -> None:
    path = write_profile(
        tmp_path,
        name="bad",
        shape={"kind": "soak", "rate": 1, "duration": 5},
        security={"checks": ["C01", "C99"]},
    )
    with pytest.raises(ProfileError) as error:
        load_profile(path)
    message = str(error.value)
    assert "security.checks.1" in message and "unknown security check 'C99'" in message
    assert f"known: {', '.join(CHECK_IDS)}" in message
    with pytest.raises(check_registry.UnknownCheck, match="known: C01, C02"):
        check_registry.by_id("C99")


def test_security_json_follows_the_registry_order_not_the_profile(tmp_path: Path) -> None:
    chosen = ["L01", "C17", "C07", "C08", "C01", "C14"]
    path = write_profile(
        tmp_path,
        name="reversed",
        shape={"kind": "soak", "rate": 1, "duration": 5},
        security={"checks": chosen},
    )
    run = _run(load_profile(path))
    run.observations = [{"id": "C14", "observed": {"pass": True}}, {"id": "C01", "observed": {"error": "x"}}]
    ids = [v["id"] for v in finalise(run, "", None)]
    assert ids == [c.id for c in CHECKS if c.id in chosen] == ["C01", "C08", "C14", "C17", "C07", "L01"]


class _Response:
    def __init__(self, status: int) -> None:
        self.status_code = status


class _FakeClient:
    """Just what C08's probe touches: the 429s seen so far, the checks' addresses, a clock, one request."""

    def __init__(self, shapes: list[dict[str, Any]], addresses: dict[str, str]) -> None:
        self.shapes_of_429 = shapes
        self.addresses = addresses
        self.slept: list[float] = []
        self.sent: list[tuple[str, dict[str, str]]] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def track(self, check: str, headers: dict[str, str]) -> _Response:
        self.sent.append((check, headers))
        return _Response(404)


def _shape(ok: bool = True, retry_after: str = "2", at: float = 0.0) -> dict[str, Any]:
    return {
        "ok": ok,
        "why": "" if ok else "no Retry-After",
        "retry_after": retry_after,
        "policy": "q=30",
        "at": at,
    }


def test_a_probe_runs_against_a_fake_client_and_its_verdict_without_a_swarm() -> None:
    client = _FakeClient([_shape(), _shape()], {"C01": "10.255.1.7"})
    observed = C08.probe(client)  # type: ignore[arg-type]
    assert observed["pass"] and observed["served_again"] is True and observed["429s_inspected"] == 2
    assert client.sent == [("C08", {"X-Forwarded-For": "10.255.1.7"})]  # back on C01's own key
    assert client.slept and client.slept[0] == 0.0  # Retry-After passed long ago (at=0): no wait
    holds, shown = C08.verdict(observed, _run(), None)
    assert holds and "pass" not in shown
    bad = C08.probe(_FakeClient([_shape(ok=False, retry_after="")], {}))  # type: ignore[arg-type]
    assert not C08.verdict(bad, _run(), None)[0] and bad["bad"][0]["why"] == "no Retry-After"
    assert not C08.verdict(C08.probe(_FakeClient([], {})), _run(), None)[0]  # type: ignore[arg-type]


def test_a_crashing_probe_is_a_failed_check_named() -> None:
    observed = C08.attack(object())  # type: ignore[arg-type]
    assert observed["error"].startswith("AttributeError")
    holds, shown = C08.verdict(observed, _run(), None)
    assert not holds and shown["error"] == observed["error"]


def test_every_ground_truth_query_runs_on_the_portal_schema_read_only(tmp_path: Path) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    from dvclab.portal.models import Base

    file = tmp_path / "portal.db"
    engine = create_engine(f"sqlite:///{file}")
    Base.metadata.create_all(engine)
    engine.dispose()
    db = PortalDatabase(f"sqlite:///{file}")
    account, ids = data.citizen_id(200), ["evt_a", "evt_b"]
    assert db.bad_password_rows(account) == db.sessions_of(account) == db.foreign_dossier_audits(account) == 0
    assert db.bad_password_client_ips(account) == [] and db.payments_of(1) == []
    assert db.files_of(1) == db.dossiers_with_key("k") == db.submitted_transitions(1) == 0
    assert db.payment_event_rows(ids) == db.payment_events_of(1) == db.rejected_callbacks(ids) == 0
    assert db.receipt_codes_found(["HS" + "A" * 16]) == set() and db.dossier_paid(1) is False
    with pytest.raises(OperationalError, match="readonly"), db.engine.begin() as conn:
        conn.execute(text("DELETE FROM dossiers"))  # the checks never change what they judge
    # A check's database verdict on an empty portal: the figures are shown, the check fails.
    c14 = check_registry.by_id("C14")
    holds, shown = c14.confirm({"idempotency_key": "k", "dossier": 1}, db, profiles.Limits())
    assert not holds and shown == {"db_dossiers": 0, "db_submitted_transitions": 0}


def test_the_portal_tables_are_read_in_one_module_only() -> None:
    loadtests = REPO / "loadtests"
    readers = sorted(p.name for p in loadtests.glob("*.py") if "SELECT " in p.read_text(encoding="utf-8"))
    assert readers == ["ground_truth.py"]


def test_the_registry_imports_neither_locust_nor_gevent() -> None:
    """Profiles validate against it in `dvclab load run`'s own process, which must not be monkey-patched."""
    code = (
        "import sys, dvclab.load.profiles, dvclab.load.verdicts\n"
        "heavy = {'locust', 'gevent', 'sqlalchemy', 'requests'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
