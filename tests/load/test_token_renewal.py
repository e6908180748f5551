"""Long-lived clients (the officer's desk, the national sync) outlive their bearer tokens in a soak: the
portal's tokens last 30 minutes. They log in again before a token runs out, never meeting a 401 halfway
through a dossier; found by an hour's soak (two officer decisions refused at minute 31)."""

from __future__ import annotations

from dvclab.load import data


def test_token_lifetime_from_the_login_answer() -> None:
    assert data.token_expires_at({"access_token": "t", "expires_in": 1800}, now=100.0) == 1900.0
    assert data.token_expires_at({"access_token": "t"}, now=100.0) == float("inf")
    assert data.token_expires_at(None, now=100.0) == float("inf")
    assert data.session_lasts(1900.0, now=1000.0, journey_s=60)
    assert not data.session_lasts(1900.0, now=1850.0, journey_s=60)  # would expire mid-journey


# Under load, end to end (tokens of 8 s, 4 portal workers): test_portal_workers.py.
