"""The open model's arrival process, admission rule and counters; HDR merging; plain data functions."""

from __future__ import annotations

import random

import pytest

from dvclab.load import data
from dvclab.load.histograms import Recorder
from dvclab.load.open_model import Counters, admit, arrival_times
from dvclab.load.shapes import Segment


def test_poisson_arrivals_follow_the_segments() -> None:
    segments = [Segment(0, 100, 5.0, {"a": 0.8, "b": 0.2}), Segment(100, 200, 20.0, {"a": 0.5, "b": 0.5})]
    times = list(arrival_times(segments, "a", random.Random(1)))
    assert times == sorted(times) and all(0 < t < 200 for t in times)
    first, second = sum(t < 100 for t in times), sum(t >= 100 for t in times)
    assert first == pytest.approx(400, rel=0.15) and second == pytest.approx(1000, rel=0.1)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False) if a >= 100]
    mean = sum(gaps) / len(gaps)  # exponential gaps: sd == mean
    sd = (sum((g - mean) ** 2 for g in gaps) / len(gaps)) ** 0.5
    assert mean == pytest.approx(0.1, rel=0.1) and sd == pytest.approx(mean, rel=0.15)
    half = list(arrival_times(segments, "a", random.Random(1), share=0.5))
    assert len(half) == pytest.approx(len(times) / 2, rel=0.1)
    assert list(arrival_times(segments, "c", random.Random(1))) == []


def test_arrivals_are_reproducible() -> None:
    segments = [Segment(0, 10, 3.0, {"a": 1.0})]
    assert list(arrival_times(segments, "a", random.Random(7))) == list(
        arrival_times(segments, "a", random.Random(7))
    )


def test_admission_and_counters() -> None:
    assert admit(10.0, 10.9, 1.0) and not admit(10.0, 11.2, 1.0)
    total = Counters()
    total.add({"scheduled": {"a": 3}, "dropped": {"a": 1}, "lag_max_s": 0.2})
    total.add(
        {"scheduled": {"a": 2, "b": 1}, "started": {"b": 1}, "lag_max_s": 0.1, "start_delay_max_s": 0.5}
    )
    assert total.scheduled == {"a": 5, "b": 1} and total.dropped == {"a": 1}
    assert total.lag_max_s == 0.2 and total.start_delay_max_s == 0.5


def test_hdr_merge_across_workers_is_exact() -> None:
    workers = [Recorder() for _ in range(3)]
    single = Recorder()
    rng = random.Random(3)
    for i in range(3000):
        value = rng.expovariate(1 / 20)
        workers[i % 3].record("GET /x", value)
        single.record("GET /x", value)
    master = Recorder()
    for worker in workers:
        master.merge_encoded(worker.encode_and_reset())
        assert worker.count("GET /x") == 0  # deltas: a worker starts again empty
    assert master.count("GET /x") == 3000 == master.count("total")
    assert master.percentiles("GET /x") == single.percentiles("GET /x")
    p = master.percentiles("GET /x")
    assert p["p50_ms"] < p["p90_ms"] < p["p99_ms"] <= p["p999_ms"] <= p["max_ms"]
    assert Recorder().percentiles("GET /none")["p95_ms"] is None


def test_hdr_precision_three_digits() -> None:
    recorder = Recorder()
    for ms in range(1, 1001):
        recorder.record("e", float(ms))
    p = recorder.percentiles("e")
    assert p["p50_ms"] == pytest.approx(500, rel=0.001) and p["p99_ms"] == pytest.approx(990, rel=0.001)


def test_classify_keeps_refusals_apart() -> None:
    assert data.classify(201, (200, 201), (429,)) == data.OK
    assert data.classify(429, (200,), (429,)) == data.REFUSED
    assert data.classify(500, (200,), (429,)) == data.ERROR
    assert data.classify(0, (200,), (429,)) == data.ERROR  # no answer at all


def test_callback_signature_matches_the_portal() -> None:
    from dvclab.portal.signing import verify  # the test may look inside; the harness talks HTTP only

    body = data.callback_body("PAY1", 50_000)
    headers = data.sign_callback("s3cret", "evt_1", body)
    verify(
        "s3cret", headers["webhook-id"], headers["webhook-timestamp"], headers["webhook-signature"], body, 300
    )
    with pytest.raises(ValueError):
        verify(
            "other",
            headers["webhook-id"],
            headers["webhook-timestamp"],
            headers["webhook-signature"],
            body,
            300,
        )


def test_upload_payloads_and_sniffing() -> None:
    from dvclab.portal.uploads import sniff

    pdf = data.pdf_bytes(5000)
    assert len(pdf) == 5000 and sniff(pdf[:16], "a.pdf") == "application/pdf"
    assert sniff(data.PNG_HEAD + b"x" * 8, "scan.pdf") is None
    body, content_type = data.multipart("a.pdf", pdf, "application/pdf")
    assert content_type.startswith("multipart/form-data; boundary=") and pdf in body


def test_rate_limit_headers_and_429_shape() -> None:
    assert data.parse_ratelimit('"track";r=0;t=30') == {"r": 0, "t": 30}
    assert data.retry_after_ok({"retry-after": "30", "ratelimit": '"track";r=0;t=30'}) == (True, "")
    assert not data.retry_after_ok({"retry-after": "10", "ratelimit": '"track";r=0;t=30'})[0]
    assert not data.retry_after_ok({"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"})[0]
    assert not data.retry_after_ok({})[0]
    assert data.leaks_internals(b'Traceback (most recent call last):\n  File "/app/x.py"')
    assert not data.leaks_internals(b'{"title": "Not found"}')


def test_procedure_mix_and_identities() -> None:
    mix = data.ProcedureMix.from_catalog()
    rng = random.Random(5)
    picks = [mix.pick(rng).code for _ in range(2000)]
    top = max(set(picks), key=picks.count)
    weights = dict(zip((p.code for p in mix.procedures), mix.cumulative, strict=False))
    assert top in weights and len(set(picks)) > 50
    assert mix.with_fee().fee_vnd > 0
    assert data.citizen_id(7) == "036090000007"
    assert data.RECEIPT_RE.match(data.random_receipt(rng)) and data.code_entropy_bits("HS" + "A" * 16) == 80
    assert data.strip_accents("Đăng ký khai sinh") == "Dang ky khai sinh"
    assert set(data.ATTACKERS.values()).isdisjoint(range(1, 181))
