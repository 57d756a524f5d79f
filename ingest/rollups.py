"""Folding the rollups' stripes (`ingest.store`: ROLLUP_STRIPES) of past buckets into stripe 0.

Batches write a bucket's rows in the stripe of their connection, so a busy key has up to
ROLLUP_STRIPES rows per bucket while its bucket is current. Reads add the stripes up, so folding
changes no answer; it keeps the tables (and the reads over months) the size of one row per key.
A bucket is folded once no batch of the present writes to it: the 15-minute and hourly ones an
hour after they end, the daily ones a day after. A late event written to a folded bucket makes a
new stripe row there, folded by the next pass.

Each table is folded in a transaction of its own. The rows are locked in key order before they
are deleted, and a batch takes its stripe's rows in key order too, so the two wait for each
other (rarely: only a late event meets a fold) but cannot deadlock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction

from ingest.latency import COUNT_BITS, COUNT_MASK
from ingest.store import LATENCY_TABLES, ROLLUP_TABLES

_COUNTS = ("events", "errors", "latency_sum_ms", "latency_count")


@dataclass(frozen=True, slots=True)
class Folding:
    table: str
    keys: str  # the key columns after `bucket`
    counts: tuple[str, ...]  # summed; the histogram `latency_hist` is merged
    settled: timedelta  # how long after its start no batch of the present writes to a bucket


FOLDINGS = (
    *(
        Folding(
            r.table,
            r.keys,
            _COUNTS,
            timedelta(days=2) if r.grain == "1 day" else timedelta(hours=1, minutes=15),
        )
        for r in ROLLUP_TABLES
    ),
    *(Folding(r.table, r.key, (), timedelta(hours=2)) for r in LATENCY_TABLES),
)


def _fold_sql(f: Folding) -> str:
    counts = "".join(f", sum({c}) AS {c}" for c in f.counts)
    count_columns = "".join(f", {c}" for c in f.counts)
    added = "".join(f", {c} = r.{c} + EXCLUDED.{c}" for c in f.counts)
    return f"""
WITH locked AS (
    SELECT ctid FROM {f.table} WHERE part <> 0 AND bucket < %(before)s
     ORDER BY bucket, {f.keys}, part FOR UPDATE
),
moved AS (
    DELETE FROM {f.table} t USING locked WHERE t.ctid = locked.ctid
    RETURNING t.bucket, {", ".join(f"t.{k.strip()}" for k in f.keys.split(","))},
              t.latency_hist{"".join(f", t.{c}" for c in f.counts)}
),
summed AS (
    SELECT bucket, {f.keys}{counts} FROM moved GROUP BY bucket, {f.keys}
),
calls AS (
    SELECT bucket, {f.keys}, v >> {COUNT_BITS} AS lb, sum(v & {COUNT_MASK})::bigint AS n
      FROM moved CROSS JOIN LATERAL unnest(latency_hist) AS h(v)
     GROUP BY bucket, {f.keys}, lb
),
merged AS (
    SELECT bucket, {f.keys}, array_agg((lb << {COUNT_BITS}) | n ORDER BY lb) AS latency_hist
      FROM calls GROUP BY bucket, {f.keys}
),
folded AS (
    INSERT INTO {f.table} AS r (bucket, {f.keys}{count_columns}, latency_hist, part)
    SELECT bucket, {f.keys}{count_columns}, coalesce(merged.latency_hist, '{{}}'), 0
      FROM summed LEFT JOIN merged USING (bucket, {f.keys})
     ORDER BY bucket, {f.keys}
    ON CONFLICT (bucket, {f.keys}, part) DO UPDATE
       SET latency_hist = latency_hist_merge(r.latency_hist, EXCLUDED.latency_hist){added}
    RETURNING 1
)
SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM folded)"""


def compact(*, now: datetime) -> dict[str, int]:
    """Fold the stripes of every settled bucket into stripe 0; the rows folded per table."""
    folded: dict[str, int] = {}
    for f in FOLDINGS:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_fold_sql(f), {"before": now - f.settled})
            moved, _ = cursor.fetchone()
        folded[f.table] = moved
    return folded
