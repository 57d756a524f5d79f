"""The latency histogram kept in every rollup row: its buckets, fixed for the life of the data.

Bucket 0 holds calls under 1 ms; bucket i (1..TOP) holds [2^((i-1)/8), 2^(i/8)) ms, eight per
doubling; TOP also holds everything slower than its lower bound (about 9.6 minutes), so 10
minutes and beyond are clamped into it. `bucket_of` is the Python twin of the SQL function
`latency_bucket(double precision)` (migration 0007): both count the bounds at or below a value
(`bisect_right` here, `width_bucket` there) over the same double constants, so they agree on
every input (tests/ingest/test_latency_buckets.py). Changing a bound would silently mix two
scales in stored rows: a new scale needs a new column.

A histogram is stored sparse, as a `bigint[]` of `bucket << 40 | calls`, one element per
non-empty bucket in bucket order (8 bytes each; 40 bits of calls is a trillion per bucket).
Calls without a latency are in no bucket: a histogram counts only calls that carry one.

A bucket's value is its geometric middle: an exact latency anywhere in the bucket is within
2^(1/16) - 1 = 4.4 % of it (under 1 ms: within 1 ms), which is what bounds a percentile's error.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable

PER_DOUBLING = 8
TOP = 154  # the last bound, 2^(153/8) ms ~ 574 s, is the last below 10 minutes
BOUNDS: tuple[float, ...] = tuple(2.0 ** (i / PER_DOUBLING) for i in range(TOP))
COUNT_BITS = 40
COUNT_MASK = (1 << COUNT_BITS) - 1


def bucket_of(latency_ms: float) -> int:
    """The bucket (0..TOP) of one latency in milliseconds."""
    return bisect_right(BOUNDS, latency_ms)


def bucket_value(bucket: int) -> float:
    """The latency (ms) a bucket stands for: its geometric middle; 0.5 for bucket 0 [0, 1)."""
    if bucket <= 0:
        return 0.5
    return 2.0 ** ((bucket - 0.5) / PER_DOUBLING)


def encode(histogram: dict[int, int]) -> list[int]:
    """The stored form of {bucket: calls}: sorted, empty buckets left out."""
    return [(bucket << COUNT_BITS) | n for bucket, n in sorted(histogram.items()) if n]


def decode(stored: Iterable[int]) -> dict[int, int]:
    """{bucket: calls} of a stored histogram (elements of one bucket are added up)."""
    histogram: dict[int, int] = {}
    for element in stored:
        bucket, n = element >> COUNT_BITS, element & COUNT_MASK
        histogram[bucket] = histogram.get(bucket, 0) + n
    return histogram


def sql_bounds() -> str:
    """The bounds as a PostgreSQL array literal; repr() round-trips each double exactly."""
    return "{" + ",".join(repr(bound) for bound in BOUNDS) + "}"
