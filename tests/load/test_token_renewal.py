"""Long-lived clients (the officer's desk, the national sync) outlive their bearer tokens in a soak: the
portal's tokens last 30 minutes. They log in again before a token runs out, never meeting a 401 halfway
through a dossier; found by an hour's soak (two officer decisions refused at minute 31)."""

from __future__ import annotations

import json
from pathlib import Path

from loadtests import data
from tests.load.conftest import dvclab, write_profile


def test_token_lifetime_from_the_login_answer() -> None:
    assert data.token_expires_at({"access_token": "t", "expires_in": 1800}, now=100.0) == 1900.0
    assert data.token_expires_at({"access_token": "t"}, now=100.0) == float("inf")
    assert data.token_expires_at(None, now=100.0) == float("inf")
    assert data.session_lasts(1900.0, now=1000.0, journey_s=60)
    assert not data.session_lasts(1900.0, now=1850.0, journey_s=60)  # would expire mid-journey


def test_officer_and_sync_renew_their_tokens_under_load(tmp_path: Path) -> None:
    # Tokens of 8 s against journeys of ~1 s for 16 s: each desk needs several tokens in one run.
    profile = write_profile(
        tmp_path,
        name="renewal",
        shape={"kind": "step", "steps": [{"rate": 3, "duration": "16s"}]},
        mix={"citizen_online": 0.3, "assisted": 0, "officer": 0.5, "tracker": 0, "sync": 0.2},
        think_time={"min": "50ms", "max": "100ms"},
        pool=16,
        drain="3s",
        security={"checks": []},
        portal={"env": {"DVCLAB_PORTAL_TOKEN_TTL_S": "8"}},
    )
    result = dvclab("load", "run", str(profile), "--results", str(tmp_path / "load"), timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = next((tmp_path / "load").iterdir())
    summary = json.loads((folder / "summary.json").read_text())
    endpoints = summary["endpoints"]
    assert summary["total"]["failures"] == 0, {k: v["failures"] for k, v in endpoints.items()}
    # Renewed before they ran out: not one 401, not even at the first request of a journey.
    for name in ("GET /api/v1/officer/queue", "GET /api/v1/sync/status-changes"):
        assert endpoints[name]["requests"] > 5 and endpoints[name]["expected_refusals"] == 0, endpoints[name]
