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

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation

from ingest.latency import COUNT_BITS, bucket_value, decode
from stats.sql import choose_source, fetch, latency_query
from stats.window import Filters, Window

Histogram = dict[int, int]  # latency bucket (ingest.latency) -> calls
PERCENTILE_MIN = Decimal("1")
PERCENTILE_MAX = Decimal("99.9")


def rank(p: float, calls: int) -> int:
    """The nearest rank of percentile `p` (0 < p <= 100, at most 1 decimal) among `calls`,
    in integers: 99.9 % of 1,000 calls is rank 999, not 1,000 by a float's rounding."""
    tenths = round(p * 10)
    return max(1, -(-tenths * calls // 1000))


def percentile(histogram: Mapping[int, int], p: float) -> float | None:
    """The nearest-rank `p` percentile in ms (rounded to 0.1 ms), None without calls."""
    return percentiles(histogram, (p,))[0]


def percentiles(histogram: Mapping[int, int], ps: Sequence[float]) -> list[float | None]:
    """`percentile` of each of `ps`, in one walk up the buckets (a month of hourly points by
    endpoint asks 26,000 of them)."""
    calls = sum(histogram.values())
    if not calls:
        return [None] * len(ps)
    wanted = sorted((rank(p, calls), i) for i, p in enumerate(ps))
    found: list[float | None] = [None] * len(ps)
    seen, next_one = 0, 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        while next_one < len(wanted) and seen >= wanted[next_one][0]:
            found[wanted[next_one][1]] = round(bucket_value(bucket), 1)
            next_one += 1
        if next_one == len(wanted):
            break
    return found


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


def parse_percentile(text: str) -> float:
    """A percentile from its text: a number from 1 to 99.9 with at most one decimal
    (ValueError saying what is wrong)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError("must be a number from 1 to 99.9.") from None
    if not value.is_finite() or not PERCENTILE_MIN <= value <= PERCENTILE_MAX:
        raise ValueError("must be a number from 1 to 99.9.")
    if value != value.quantize(Decimal("0.1")):
        raise ValueError("at most one decimal.")
    return float(value)


def format_ms(value: float | None) -> str:
    """A latency as people read it: "2,450 ms", "4.2 ms" under 10 ms; None -> a dash."""
    if value is None:
        return "—"
    return f"{value:,.1f} ms" if value < 10 else f"{value:,.0f} ms"


def percentile_key(p: float) -> str:
    """A percentile's name in answers: p50, p95, p99.9."""
    return f"p{p:g}"


# ---------------------------------------------------------------- the questions


def merged_sql(sql: str, params: list, *, keys: int) -> tuple[str, list]:
    """`sql`'s `*keys, lb, calls` rows merged into one stored histogram per key tuple."""
    names = ", ".join(f"k{n}" for n in range(keys))
    aliases = ", ".join([*(f"k{n}" for n in range(keys)), "lb", "calls"])
    grouped = f"GROUP BY {names}" if keys else ""
    return (
        f"SELECT {names + ', ' if keys else ''}"
        f"array_agg((lb::bigint << {COUNT_BITS}) | calls ORDER BY lb) "
        f"FROM (SELECT {aliases} FROM ({sql}) AS rows({aliases})) AS h {grouped}",
        params,
    )


def histograms_by(
    *, window: Window, filters: Filters, by: Sequence[str] = (), interval: str | None = None
) -> dict[tuple, Histogram]:
    """The merged latency histogram of the window's calls per value of `by` (a tuple key;
    () without `by`), from the narrowest source, as `stats.sql.counts` reads counts. Groups
    without a call with a latency are absent."""
    source = choose_source(dims=filters.dims() | set(by), interval=interval)
    sql, params = latency_query(source=source, window=window, filters=filters, group=list(by))
    rows = fetch(*merged_sql(sql, params, keys=len(by)))
    return {tuple(row[:-1]): decode(row[-1]) for row in rows if row[-1]}
