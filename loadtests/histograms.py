"""Exact latency percentiles: one HDR histogram per endpoint, merged across Locust workers.

Locust rounds response times into buckets for its own percentiles; HDR keeps 3 significant digits
over 1 µs .. 1 h. Workers send encoded deltas with each stats report; the master adds them up.
"""

from __future__ import annotations

from hdrh.histogram import HdrHistogram

LOWEST_US, HIGHEST_US, DIGITS = 1, 3_600_000_000, 3
PERCENTILES = {"p50_ms": 50.0, "p90_ms": 90.0, "p95_ms": 95.0, "p99_ms": 99.0, "p999_ms": 99.9}
TOTAL = "total"


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS)


class Recorder:
    """Histograms by endpoint name, plus one for every response (``total``)."""

    def __init__(self) -> None:
        self.histograms: dict[str, HdrHistogram] = {}

    def record(self, name: str, millis: float) -> None:
        micros = min(HIGHEST_US, max(LOWEST_US, int(round(millis * 1000))))
        for key in (name, TOTAL):
            histogram = self.histograms.get(key)
            if histogram is None:
                histogram = self.histograms[key] = new_histogram()
            histogram.record_value(micros)

    def encode_and_reset(self) -> dict[str, str]:
        """Deltas for the master (base64 text, JSON-safe); the local histograms start again empty."""
        encoded = {
            name: h.encode().decode("ascii") for name, h in self.histograms.items() if h.get_total_count()
        }
        self.histograms = {}
        return encoded

    def merge_encoded(self, encoded: dict[str, str]) -> None:
        for name, text in encoded.items():
            incoming = HdrHistogram.decode(text.encode("ascii"))
            histogram = self.histograms.get(name)
            if histogram is None:
                histogram = self.histograms[name] = new_histogram()
            histogram.add(incoming)

    def count(self, name: str) -> int:
        histogram = self.histograms.get(name)
        return int(histogram.get_total_count()) if histogram else 0

    def percentiles(self, name: str) -> dict[str, float | None]:
        histogram = self.histograms.get(name)
        if histogram is None or histogram.get_total_count() == 0:
            return {key: None for key in (*PERCENTILES, "max_ms")}
        # One pass over the counts for all percentiles (the pure-Python walk is the costly part).
        found = histogram.get_percentile_to_value_dict(list(PERCENTILES.values()))
        values: dict[str, float | None] = {key: round(found[p] / 1000, 3) for key, p in PERCENTILES.items()}
        values["max_ms"] = round(histogram.get_max_value() / 1000, 3)
        return values
