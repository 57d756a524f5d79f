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

import numpy as np
import psycopg
from psycopg.adapt import Loader
from psycopg.pq import Format

from ingest.latency import COUNT_BITS, COUNT_MASK, TOP, bucket_value, decode
from stats.replica import read_connection
from stats.sql import choose_source, fetch, hourly_latency_query, latency_query
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


# ---------------------------------------------------------------- many points at once (numpy)

BUCKETS = TOP + 1  # latency buckets 0..TOP: the columns of a dense histogram
# Each bucket's answer as `percentiles` gives it (the same floats, so the two agree exactly).
_VALUES = np.array([round(bucket_value(bucket), 1) for bucket in range(BUCKETS)])
_INT4_ARRAY_OID = 1007
_NO_ELEMENTS = np.zeros(0, dtype=np.int64)


class IntArrayLoader(Loader):
    """A binary `integer[]` as a numpy array, without a Python int per element. The binary
    layout of an array: ndim, has-nulls flag and element oid (int32 each), then (size, lower
    bound) per dimension, then (int32 length, value) per element; these are one-dimensional
    (or empty: ndim 0) and hold no NULL."""

    format = Format.BINARY
    element = np.dtype([("length", ">i4"), ("value", ">i4")])

    def load(self, data: bytes | bytearray | memoryview) -> np.ndarray:
        if len(data) <= 12:  # ndim 0: '{}'
            return _NO_ELEMENTS
        return np.frombuffer(data, dtype=self.element, offset=20)["value"].astype(np.int64)


# A stored histogram as sent (`latency_hist_sent`, migration 0013): its elements, each its int32
# length (8: a histogram holds no NULL) and its int64 value.
_ELEMENT = np.dtype([("length", ">i4"), ("value", ">i8")])


def stored_elements(blob: bytes) -> np.ndarray:
    """The elements of stored histograms sent one after another (`stacked_sql`), read in
    place."""
    return np.frombuffer(blob, dtype=_ELEMENT)["value"].astype(np.int64)


def stacked_sql(sql: str, params: list, *, keys: int, slotted: bool) -> tuple[str, list]:
    """`sql`'s `[slot,] *keys, sent` rows (`sent`: a histogram as `latency_hist_sent` gives it)
    as one row per key tuple: the keys, the rows' slots (int4[]; 0s without slots), their
    histograms' element counts (int4[]) and the histograms' elements one after another
    (bytea): a few rows to fetch, not one per hour. The three aggregates read the group's rows
    in one pass, so in the same order."""
    names = [f"k{n}" for n in range(keys)]
    columns = ", ".join([*(["slot"] if slotted else []), *names, "h"])
    aggregates = [
        "array_agg(slot)" if slotted else "array_agg(0)",
        f"array_agg(length(h) / {_ELEMENT.itemsize})",
        "string_agg(h, ''::bytea)",
    ]
    grouped = f" GROUP BY {', '.join(names)}" if keys else ""
    return (
        f"SELECT {', '.join([*names, *aggregates])} FROM ({sql}) AS r({columns}){grouped}",
        params,
    )


Stack = tuple[tuple, np.ndarray, np.ndarray, np.ndarray]  # key, slots, counts, elements


def fetch_stacked(sql: str, params: list, *, keys: int, slotted: bool) -> list[Stack]:
    """Per key tuple of `sql`'s rows (`stacked_sql`): the key, each row's slot and element
    count, and every row's histogram elements concatenated (int64)."""
    database = read_connection()
    with database.wrap_database_errors:
        database.ensure_connection()
        with psycopg.Cursor(database.connection) as cursor:
            cursor.adapters.register_loader(_INT4_ARRAY_OID, IntArrayLoader)
            cursor.execute(*stacked_sql(sql, params, keys=keys, slotted=slotted), binary=True)
            rows = cursor.fetchall()
    return [
        (tuple(key), slots, counts, stored_elements(blob or b""))
        for *key, slots, counts, blob in rows
        if counts is not None  # without keys, no rows at all is one row of NULLs
    ]


def dense(cells: np.ndarray, counts: np.ndarray, elements: np.ndarray, size: int) -> np.ndarray:
    """Stored histograms added up per cell: a (size x BUCKETS) matrix of calls. Histogram i
    has counts[i] elements (one after another in `elements`) and adds into row cells[i]."""
    where = np.repeat(np.asarray(cells, dtype=np.int64) * BUCKETS, counts)
    where += elements >> COUNT_BITS
    # float64 weights add integers exactly below 2^53 calls per cell.
    summed = np.bincount(where, weights=elements & COUNT_MASK, minlength=size * BUCKETS)
    return summed.astype(np.int64).reshape(size, BUCKETS)


def percentile_table(matrix: np.ndarray, ps: Sequence[float]) -> tuple[list[int], list[list]]:
    """Calls per row of a dense histogram matrix and, per percentile of `ps`, its value in
    every row (None without calls): `percentiles` of every row at once, the same ranks and
    the same values.

    One running sum over the rows laid end to end is each row's running sums raised by the
    calls of the rows before it: one non-decreasing sequence, so one `searchsorted` finds the
    bucket of every row's rank."""
    rows = matrix.shape[0]
    flat = np.cumsum(matrix, axis=None)
    ends = flat[BUCKETS - 1 :: BUCKETS]
    before = np.concatenate([np.zeros(1, dtype=flat.dtype), ends[:-1]])
    calls = ends - before
    starts = np.arange(rows) * BUCKETS
    empty = np.flatnonzero(calls == 0).tolist()
    found = []
    for p in ps:
        tenths = round(p * 10)
        wanted = np.maximum(1, -((-tenths * calls) // 1000))  # rank(p, calls), in integers
        at = np.searchsorted(flat, before + wanted, side="left") - starts
        values: list = _VALUES[np.clip(at, 0, TOP)].tolist()
        for row in empty:
            values[row] = None
        found.append(values)
    return calls.tolist(), found


def as_histogram(row: np.ndarray) -> Histogram:
    """A dense histogram row as {bucket: calls} (empty buckets left out)."""
    return {int(bucket): int(row[bucket]) for bucket in np.flatnonzero(row)}


def histograms_by(
    *, window: Window, filters: Filters, by: Sequence[str] = (), interval: str | None = None
) -> dict[tuple, Histogram]:
    """The merged latency histogram of the window's calls per value of `by` (a tuple key;
    () without `by`), from the narrowest source, as `stats.sql.counts` reads counts: the hourly
    latency rollups when the question fits them (`stats.sql.hourly_latency_query`). Groups
    without a call with a latency are absent."""
    hourly = hourly_latency_query(window=window, filters=filters, by=by, interval=interval)
    if hourly is not None:
        found = {}
        for key, _, counts, elements in fetch_stacked(*hourly, keys=len(by), slotted=False):
            total = dense(np.zeros(len(counts), dtype=np.int64), counts, elements, 1)[0]
            found[key] = as_histogram(total)
        return {key: histogram for key, histogram in found.items() if histogram}
    source = choose_source(dims=filters.dims() | set(by), interval=interval)
    sql, params = latency_query(source=source, window=window, filters=filters, group=list(by))
    rows = fetch(*merged_sql(sql, params, keys=len(by)))
    return {tuple(row[:-1]): decode(row[-1]) for row in rows if row[-1]}
