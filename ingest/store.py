"""The one writer of events: partitions, bulk insert with dedupe, rollups, courier names.

A batch is written by one SQL statement inside one transaction, and the token's counts by one
short UPDATE last in that same transaction (so a 503 means nothing was stored, and the counts
equal the rows). Its data-modifying CTEs insert
the raw rows (`ON CONFLICT (event_key, ts) DO NOTHING` drops retries and in-batch repeats) and
upsert each rollup from the rows that insert *returned*, so a duplicate never reaches a count
and the rollups always equal a count over the raw rows. Raw rows are inserted and rollup rows
upserted in key order, so concurrent batches of the same events take their locks in the same
order and cannot deadlock each other.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import psycopg
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from ingest.events import CleanEvent
from ingest.models import ApiToken

PARTITION_PREFIX = "ingest_event_p"
_PARTITION_LOCK = 7_140_001  # pg_advisory_xact_lock key: one partition creator at a time


@dataclass(frozen=True, slots=True)
class BatchResult:
    accepted: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class TokenUse:
    """What a request adds to its token besides the batch's own accepted and duplicate counts."""

    token_id: int | None
    rejected: int = 0
    error: str = ""


# Days known to have a partition, per process: partitions are only dropped by retention (which
# forgets what it drops here) and, in another process, only beyond the horizon; a write that
# meets a missing one anyway forgets them all and tries once more (`write_events`).
_known_days: set[date] = set()


# ---------------------------------------------------------------- partitions


def partition_name(day: date) -> str:
    return f"{PARTITION_PREFIX}{day:%Y%m%d}"


def days_without_partition(days: Iterable[date]) -> set[date]:
    """The days among `days` that have no partition yet (no query when all are known)."""
    unknown = sorted(set(days) - _known_days)
    if not unknown:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT d FROM unnest(%s::text[]) AS d WHERE to_regclass(d) IS NULL",
            [[partition_name(day) for day in unknown]],
        )
        missing = {name for (name,) in cursor.fetchall()}
    found = {day for day in unknown if partition_name(day) not in missing}
    _known_days.update(found)
    return set(unknown) - found


def ensure_partitions(days: Iterable[date]) -> None:
    """Create the daily partitions (UTC days) that do not exist yet; cheap when all do."""
    missing = days_without_partition(days)
    if missing:
        _create_partitions(sorted(missing))
        _known_days.update(missing)


def forget_known_partitions() -> None:
    _known_days.clear()


def _create_partitions(days: list[date]) -> None:
    # Serialized by an advisory lock so that two workers meeting the same new day don't race.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PARTITION_LOCK])
        for day in days:
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {partition_name(day)} PARTITION OF ingest_event "
                "FOR VALUES FROM (%s) TO (%s)",
                [start, start + timedelta(days=1)],
            )


def ensure_partitions_ahead(*, days_ahead: int, days_back: int | None = None) -> None:
    """Partitions from `days_back` (default: the retention horizon, RETENTION_DAYS) before
    today to `days_ahead` after it, so the ingest path rarely has to run DDL itself, and any
    day inside the horizon is accepted whatever a batch spans (SPEC): the per-request limit on
    new partitions (pipeline) then only meets days this never made."""
    if days_back is None:
        days_back = settings.RETENTION_DAYS
    today = timezone.now().date()
    ensure_partitions(today + timedelta(days=n) for n in range(-days_back, days_ahead + 1))


def partition_days() -> list[date]:
    """The days that have a raw-event partition, oldest first."""
    return sorted(d for d, state in _partitions().items() if state == "attached")


def _partitions() -> dict[date, str]:
    """Each partition's day -> 'attached', 'pending' (an interrupted concurrent detach) or
    'detached' (a table left behind by a drop that did not finish)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, CASE WHEN i.inhdetachpending THEN 'pending' "
            "WHEN i.inhrelid IS NULL THEN 'detached' ELSE 'attached' END "
            "FROM pg_class c LEFT JOIN pg_inherits i ON i.inhrelid = c.oid "
            "WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace "
            "AND c.relname ~ %s",
            [f"^{PARTITION_PREFIX}[0-9]{{8}}$"],
        )
        rows = cursor.fetchall()
    return {
        datetime.strptime(name.removeprefix(PARTITION_PREFIX), "%Y%m%d").date(): state
        for name, state in rows
    }


def drop_partitions_before(day: date) -> list[date]:
    """Drop whole partitions of raw events older than `day` (UTC); rollups are kept.

    Outside a transaction a partition is detached CONCURRENTLY: that takes only a SHARE UPDATE
    EXCLUSIVE lock on `ingest_event`, so ingest and reads go on, and none of them queues behind
    the detach while it waits for a long query. Inside one (tests), a plain short DETACH.
    """
    how = "" if connection.in_atomic_block else " CONCURRENTLY"
    dropped = sorted((d, state) for d, state in _partitions().items() if d < day)
    for old, state in dropped:
        _known_days.discard(old)
        name = partition_name(old)
        with connection.cursor() as cursor:
            if state != "detached":
                finish = " FINALIZE" if state == "pending" else how
                cursor.execute(f"ALTER TABLE ingest_event DETACH PARTITION {name}{finish}")
            cursor.execute(f"DROP TABLE {name}")
    return [d for d, _ in dropped]


def delete_all_events() -> None:
    """Empty the raw events and every rollup (`generate_demo_data --reset`). TRUNCATE, not
    DELETE: the raw table is partitioned and may be large; the partitions themselves stay."""
    tables = ["ingest_event", *(rollup.table for rollup in ROLLUP_TABLES)]
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE " + ", ".join(tables))  # names from this module, not input


# ---------------------------------------------------------------- the batch

_ROLLUP_UPSERT = """
{name} AS (
    INSERT INTO {table} AS r (bucket, {keys}, events, errors, latency_sum_ms, latency_count,
                              latency_hist)
    -- Grouped twice: by latency bucket first, then each row's buckets into its histogram.
    SELECT bucket, {keys}, sum(n), sum(e), sum(s), sum(c),
           coalesce(array_agg((lb::bigint << 40) | c ORDER BY lb) FILTER (WHERE c > 0), '{{}}')
      FROM (SELECT date_bin('{grain}', ts, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
                   {keys}, latency_bucket(latency_ms) AS lb, count(*) AS n,
                   count(*) FILTER (WHERE is_error) AS e, coalesce(sum(latency_ms), 0) AS s,
                   count(latency_ms) AS c
              FROM inserted
             GROUP BY 1, {keys}, lb) AS by_latency
     GROUP BY bucket, {keys}
     ORDER BY bucket, {keys}
    ON CONFLICT (bucket, {keys}) DO UPDATE
       SET events = r.events + EXCLUDED.events,
           errors = r.errors + EXCLUDED.errors,
           latency_sum_ms = r.latency_sum_ms + EXCLUDED.latency_sum_ms,
           latency_count = r.latency_count + EXCLUDED.latency_count,
           latency_hist = latency_hist_merge(r.latency_hist, EXCLUDED.latency_hist)
    RETURNING 1
)"""


@dataclass(frozen=True, slots=True)
class RollupTable:
    """One rollup the batch statement upserts: its CTE name, table, key columns after `bucket`
    and bucket width (date_bin from 2000-01-01 UTC: 15-minute buckets, or UTC days)."""

    name: str
    table: str
    keys: str
    grain: str


# Upserted in this order by every batch (tables in this order, rows in key order within each),
# so concurrent batches take their row locks in one order and cannot deadlock each other.
ROLLUP_TABLES = (
    RollupTable("by_category", "ingest_rollup_category", "category", "15 minutes"),
    RollupTable("by_code", "ingest_rollup_code", "endpoint, category, code", "15 minutes"),
    RollupTable("by_courier", "ingest_rollup_courier", "cp_id, category, code", "15 minutes"),
    RollupTable(
        "by_account", "ingest_rollup_account", "account_code, category, code", "15 minutes"
    ),
    RollupTable("by_code_daily", "ingest_rollup_code_daily", "endpoint, category, code", "1 day"),
    RollupTable(
        "by_courier_daily", "ingest_rollup_courier_daily", "cp_id, category, code", "1 day"
    ),
    RollupTable(
        "by_account_daily", "ingest_rollup_account_daily", "account_code, category, code", "1 day"
    ),
)

# Rollups key "not given" as cp_id 0 and account_code '' (unique keys without NULLs).
_WRITE_BATCH = (
    """
WITH incoming AS (
    SELECT * FROM unnest(
        %s::timestamptz[], %s::text[], %s::text[], %s::smallint[], %s::integer[], %s::text[],
        %s::boolean[], %s::integer[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],
        %s::double precision[], %s::text[], %s::text[], %s::text[]
    ) AS t(ts, event_key, endpoint, http_status, code, category, is_error, cp_id, courier,
           waybill, order_id, account_code, message, latency_ms, request, response, extra)
),
inserted AS (
    INSERT INTO ingest_event (ts, received_at, event_key, endpoint, http_status, code, category,
                              is_error, cp_id, courier, waybill, order_id, account_code, message,
                              latency_ms, request, response, extra, token_id)
    SELECT ts, %s, event_key, endpoint, http_status, code, category, is_error, cp_id, courier,
           waybill, order_id, account_code, message, latency_ms, request::jsonb,
           response::jsonb, extra::jsonb, %s
      FROM incoming
     -- One key order for every batch: overlapping batches wait for each other, never deadlock.
     ORDER BY event_key, ts
    ON CONFLICT (event_key, ts) DO NOTHING
    RETURNING ts, endpoint, category, code, is_error, coalesce(cp_id, 0) AS cp_id,
              account_code, latency_ms
),"""
    + ",".join(
        _ROLLUP_UPSERT.format(name=r.name, table=r.table, keys=r.keys, grain=r.grain)
        for r in ROLLUP_TABLES
    )
    + """,
courier_names AS (
    -- Only names that changed are written: an unchanged row is not even locked.
    INSERT INTO ingest_courier AS c (cp_id, name)
    SELECT DISTINCT ON (cp_id) cp_id, courier FROM incoming i
     WHERE cp_id IS NOT NULL AND courier <> ''
       AND NOT EXISTS (SELECT 1 FROM ingest_courier k WHERE k.cp_id = i.cp_id
                                                       AND k.name = i.courier)
     ORDER BY cp_id, ts DESC
    ON CONFLICT (cp_id) DO UPDATE SET name = EXCLUDED.name
    RETURNING 1
),
token_counts AS (
    -- The token's counts, in the batch's own statement and so its transaction. Read last in
    -- the SELECT below, it runs after the inserts and upserts: the token's row is locked from
    -- here to the commit, not for the length of the batch. A NULL token id updates nothing.
    UPDATE ingest_apitoken
       SET accepted = accepted + (SELECT count(*) FROM inserted),
           duplicates = duplicates + (SELECT count(*) FROM incoming)
                                   - (SELECT count(*) FROM inserted),
           rejected = rejected + %s, last_used_at = received.at,
           last_error = CASE WHEN problem.text <> '' THEN problem.text ELSE last_error END,
           last_error_at = CASE WHEN problem.text <> '' THEN received.at ELSE last_error_at END
      FROM (SELECT %s::timestamptz AS at) AS received, (SELECT %s::text AS text) AS problem
     WHERE id = %s
    RETURNING 1
)
SELECT (SELECT count(*) FROM inserted), """
    + ", ".join(f"(SELECT count(*) FROM {r.name})" for r in ROLLUP_TABLES)
    + """, (SELECT count(*) FROM courier_names), (SELECT count(*) FROM token_counts)
"""
)


def _json_or_none(value: object) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _columns(events: Sequence[CleanEvent]) -> list[list]:
    return [
        [e.ts for e in events],
        [e.event_key for e in events],
        [e.endpoint for e in events],
        [e.http_status for e in events],
        [e.code for e in events],
        [e.category for e in events],
        [e.is_error for e in events],
        [e.cp_id for e in events],
        [e.courier for e in events],
        [e.waybill for e in events],
        [e.order_id for e in events],
        [e.account_code for e in events],
        [e.message for e in events],
        [e.latency_ms for e in events],
        # The JSON text clean_event made; serialized here only for an event built by hand.
        [_json_or_none(e.request) if e.request_json is None else e.request_json for e in events],
        [_json_or_none(e.response) if e.response_json is None else e.response_json for e in events],
        [_json_or_none(e.extra) if e.extra_json is None else e.extra_json for e in events],
    ]


def write_events(
    events: Sequence[CleanEvent],
    *,
    token_id: int | None,
    received_at: datetime | None = None,
    token_use: TokenUse | None = None,
) -> BatchResult:
    """Store a batch of clean events atomically: all of them (less duplicates) or none, and,
    given `token_use`, the token's counts in the same transaction.

    Returns how many were new and how many were already stored (same event_key and ts).
    """
    if not events and token_use is None:
        return BatchResult(0, 0)
    when = received_at or timezone.now()
    try:
        return _write_events(events, token_id=token_id, received_at=when, token_use=token_use)
    except IntegrityError as error:
        if not _is_missing_partition(error):
            raise
        # Another process dropped a day this one thought it knew (retention with a short age).
        forget_known_partitions()
        return _write_events(events, token_id=token_id, received_at=when, token_use=token_use)


def _is_missing_partition(error: IntegrityError) -> bool:
    return "no partition of relation" in str(error)


def _write_events(
    events: Sequence[CleanEvent],
    *,
    token_id: int | None,
    received_at: datetime,
    token_use: TokenUse | None,
) -> BatchResult:
    ensure_partitions(e.ts.astimezone(UTC).date() for e in events)
    # One statement is a transaction of its own: in autocommit it is one round trip, no BEGIN
    # and COMMIT. Inside a caller's transaction, a savepoint, so that a failed write (and the
    # retry above) leaves that transaction usable.
    atomic = transaction.atomic() if connection.in_atomic_block else nullcontext()
    with atomic, connection.wrap_database_errors:  # psycopg -> django.db errors
        connection.ensure_connection()
        # Server-side binding: the arrays travel as parameters. Django's default client-side
        # cursor would render 1,000 events into SQL text first (half the batch's CPU time).
        with psycopg.Cursor(connection.connection) as cursor:
            if not events:  # only the token's counts: a request whose events were all rejected
                assert token_use is not None
                _count_on_token(cursor, token_use, BatchResult(0, 0), now=received_at)
                return BatchResult(0, 0)
            use = token_use or TokenUse(token_id=None)
            cursor.execute(
                _WRITE_BATCH,
                [
                    *_columns(events),
                    received_at,
                    token_id,
                    use.rejected,
                    received_at,
                    use.error[:2000],
                    use.token_id,
                ],
            )
            counts = cursor.fetchone()
    assert counts is not None  # an aggregate SELECT always returns its row
    return BatchResult(accepted=counts[0], duplicates=len(events) - counts[0])


_COUNT_ON_TOKEN = """
UPDATE ingest_apitoken
   SET accepted = accepted + %(accepted)s, duplicates = duplicates + %(duplicates)s,
       rejected = rejected + %(rejected)s, last_used_at = %(now)s,
       last_error = CASE WHEN %(error)s <> '' THEN %(error)s ELSE last_error END,
       last_error_at = CASE WHEN %(error)s <> '' THEN %(now)s ELSE last_error_at END
 WHERE id = %(token_id)s
"""


def _count_on_token(
    cursor: psycopg.Cursor, use: TokenUse, result: BatchResult, *, now: datetime
) -> None:
    cursor.execute(
        _COUNT_ON_TOKEN,
        {
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "rejected": use.rejected,
            "now": now,
            "error": use.error[:2000],
            "token_id": use.token_id,
        },
    )


def record_token_use(
    token_id: int, *, accepted: int, duplicates: int, rejected: int, error: str = ""
) -> None:
    """Add to a token's counts and last use outside any batch: a request refused whole."""
    now = timezone.now()
    changes = {
        "accepted": F("accepted") + accepted,
        "duplicates": F("duplicates") + duplicates,
        "rejected": F("rejected") + rejected,
        "last_used_at": now,
    }
    if error:
        changes.update(last_error=error[:2000], last_error_at=now)
    ApiToken.objects.filter(pk=token_id).update(**changes)
