"""The one writer of events: partitions, bulk insert with dedupe, rollups, courier names.

A batch is written by one SQL statement inside one transaction. Its data-modifying CTEs insert
the raw rows (`ON CONFLICT (event_key, ts) DO NOTHING` drops retries and in-batch repeats) and
upsert each rollup from the rows that insert *returned*, so a duplicate never reaches a count
and the rollups always equal a count over the raw rows. Raw rows are inserted and rollup rows
upserted in key order, so concurrent batches of the same events take their locks in the same
order and cannot deadlock each other.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import psycopg
from django.db import connection, transaction
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


# ---------------------------------------------------------------- partitions


def partition_name(day: date) -> str:
    return f"{PARTITION_PREFIX}{day:%Y%m%d}"


def ensure_partitions(days: Iterable[date]) -> None:
    """Create the daily partitions (UTC days) that do not exist yet; cheap when all do."""
    wanted = sorted(set(days))
    if not wanted:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT d FROM unnest(%s::text[]) AS d WHERE to_regclass(d) IS NULL",
            [[partition_name(day) for day in wanted]],
        )
        missing = {name for (name,) in cursor.fetchall()}
    if missing:
        _create_partitions([day for day in wanted if partition_name(day) in missing])


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


def ensure_partitions_ahead(*, days_ahead: int, days_back: int = 1) -> None:
    """Partitions around today, so the ingest path rarely has to run DDL itself."""
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
        name = partition_name(old)
        with connection.cursor() as cursor:
            if state != "detached":
                finish = " FINALIZE" if state == "pending" else how
                cursor.execute(f"ALTER TABLE ingest_event DETACH PARTITION {name}{finish}")
            cursor.execute(f"DROP TABLE {name}")
    return [d for d, _ in dropped]


# ---------------------------------------------------------------- the batch

_ROLLUP_UPSERT = """
{name} AS (
    INSERT INTO {table} AS r (bucket, {keys}, events, errors, latency_sum_ms, latency_count)
    SELECT date_bin('{grain}', ts, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
           {keys}, count(*), count(*) FILTER (WHERE is_error),
           coalesce(sum(latency_ms), 0), count(latency_ms)
      FROM inserted
     GROUP BY 1, {keys}
     ORDER BY 1, {keys}
    ON CONFLICT (bucket, {keys}) DO UPDATE
       SET events = r.events + EXCLUDED.events,
           errors = r.errors + EXCLUDED.errors,
           latency_sum_ms = r.latency_sum_ms + EXCLUDED.latency_sum_ms,
           latency_count = r.latency_count + EXCLUDED.latency_count
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
)
SELECT (SELECT count(*) FROM inserted), """
    + ", ".join(f"(SELECT count(*) FROM {r.name})" for r in ROLLUP_TABLES)
    + """, (SELECT count(*) FROM courier_names)
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
    events: Sequence[CleanEvent], *, token_id: int | None, received_at: datetime | None = None
) -> BatchResult:
    """Store a batch of clean events atomically: all of them (less duplicates) or none.

    Returns how many were new and how many were already stored (same event_key and ts).
    """
    if not events:
        return BatchResult(0, 0)
    ensure_partitions(e.ts.astimezone(UTC).date() for e in events)
    params = [*_columns(events), received_at or timezone.now(), token_id]
    with transaction.atomic(), connection.wrap_database_errors:  # psycopg -> django.db errors
        connection.ensure_connection()
        # Server-side binding: the arrays travel as parameters. Django's default client-side
        # cursor would render 1,000 events into SQL text first (half the batch's CPU time).
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(_WRITE_BATCH, params)
            counts = cursor.fetchone()
    assert counts is not None  # an aggregate SELECT always returns its row
    accepted = counts[0]
    return BatchResult(accepted=accepted, duplicates=len(events) - accepted)


def record_token_use(
    token_id: int, *, accepted: int, duplicates: int, rejected: int, error: str = ""
) -> None:
    """Keep a token's counts and last use for the ingest-health view (its own short statement:
    one hot row per shipper must not be locked for the length of a batch)."""
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
