"""The one latency formula: a nearest-rank percentile from a merged histogram.

Every latency figure the product shows (the API, the pages, the alerts, the CSV) is
`percentile(histogram, p)` of a histogram merged in SQL from the rollups' `latency_hist`
(ingest.latency) and, for exact minute windows, raw rows bucketed by the same function. Calls
without a latency are in no histogram, so they are never counted as 0 ms.

The nearest-rank percentile p of n calls is the smallest latency L such that at least p % of
them took <= L: the call of rank ceil(p * n / 100). Its bucket is the bucket of that exact call
(bucketing keeps order), so the answer, the bucket's value, is within 4.4 % of the exact one
(or within 1 ms under 1 ms; latencies past the top bound, ~9.6 min, read as that bucket).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ingest.latency import bucket_value, decode

Histogram = dict[int, int]  # latency bucket (ingest.latency) -> calls
PERCENTILE_MIN = 1.0
PERCENTILE_MAX = 99.9


def rank(p: float, calls: int) -> int:
    """The nearest rank of percentile `p` (0 < p <= 100, at most 1 decimal) among `calls`,
    in integers: 99.9 % of 1,000 calls is rank 999, not 1,000 by a float's rounding."""
    tenths = round(p * 10)
    return max(1, -(-tenths * calls // 1000))


def percentile(histogram: Mapping[int, int], p: float) -> float | None:
    """The nearest-rank `p` percentile in ms (rounded to 0.1 ms), None without calls."""
    calls = sum(histogram.values())
    if not calls:
        return None
    wanted, seen = rank(p, calls), 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= wanted:
            return round(bucket_value(bucket), 1)
    raise AssertionError("unreachable: the last bucket holds rank `calls`")


def merged(stored: Iterable[Iterable[int]]) -> Histogram:
    """One histogram of several stored ones (each a `bigint[]` of ingest.latency's form)."""
    total: Histogram = {}
    for histogram in stored:
        for bucket, n in decode(histogram).items():
            total[bucket] = total.get(bucket, 0) + n
    return total


def add(into: Histogram, histogram: Mapping[int, int]) -> None:
    """Add `histogram`'s calls into `into`, bucket by bucket."""
    for bucket, n in histogram.items():
        into[bucket] = into.get(bucket, 0) + n
