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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from operator import attrgetter
from weakref import WeakSet

import psycopg
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from ingest import open_failures, partitions
from ingest.events import CleanEvent
from ingest.latency import COUNT_BITS, COUNT_MASK
from ingest.times import MAX_FUTURE


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


def delete_all_events() -> None:
    """Empty the raw events, every rollup and the open failures (`generate_demo_data --reset`).
    TRUNCATE, not DELETE: the raw table is partitioned and may be large; the partitions
    themselves stay."""
    tables = [
        "ingest_event",
        *(rollup.table for rollup in ROLLUP_TABLES),
        *(rollup.table for rollup in LATENCY_TABLES),
        # The open-failure state is a function of the events, and dismissals name its rows.
        "ingest_open_failure",
        "ingest_open_failure_dismissal",
    ]
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE " + ", ".join(tables))  # names from this module, not input


# ---------------------------------------------------------------- the batch

# Every rollup row is keyed by a stripe too (`part`): a batch adds to the rows of its
# connection's stripe. Rows of one bucket are shared by every batch of that quarter hour or
# day, and an upserted row stays locked until its batch commits, so without stripes concurrent
# batches queued behind each other at the rollups (6 writers in-process: 0.7x of the events/s
# with striped rows, bench: docs/PERFORMANCE.md). Reads add the stripes up (they sum rows
# already), and `ingest.rollups.compact` folds the stripes of past buckets into stripe 0.
ROLLUP_STRIPES = 8


def stripe_by_backend(session: psycopg.Connection) -> int:
    """Connections live for many batches, and PostgreSQL numbers their backends one after the
    other: concurrent writers mostly fall in different stripes, each writer keeps to one."""
    return session.info.backend_pid % ROLLUP_STRIPES


# The stripe of a batch's rows (the tests set one that changes each batch, so that every read
# they make sums several stripes).
stripe_of: Callable[[psycopg.Connection], int] = stripe_by_backend


def merged_histogram(stored: str, added: str) -> str:
    """SQL: the histogram `stored` (a rollup row's) with the calls of histogram `added` (a batch's)
    added to it: what `latency_hist_merge(stored, added)` returns, array for array
    (tests/ingest/test_latency_buckets.py compares them).

    That PL/pgSQL function walks both arrays, ~10 µs for a row of 40 buckets, and a batch of a
    few events adds one or two calls to each rollup row it touches: the merge was a third of
    PostgreSQL's CPU for a 10-event batch (bench.batch_sql, docs/PERFORMANCE.md). So a batch
    histogram of one element is put in by C functions instead: the elements are sorted by
    bucket and so by value, and `width_bucket` (a binary search) counts the stored elements of
    its bucket or a lower one, which is where it goes: added to the element there if that is
    its bucket (subscript 0 is NULL, never equal), else inserted after it, by slices. An empty
    batch histogram (calls without a latency) leaves the row's as it is."""
    one = f"{added}[1]"
    at = f"width_bucket({one} | {COUNT_MASK}, {stored})"
    return f"""CASE cardinality({added})
           WHEN 0 THEN {stored}
           WHEN 1 THEN
               CASE WHEN {stored}[{at}] >> {COUNT_BITS} = {one} >> {COUNT_BITS}
                    THEN {stored}[:{at} - 1] || ({stored}[{at}] + ({one} & {COUNT_MASK}))
                         || {stored}[{at} + 1:]
                    ELSE {stored}[:{at}] || {one} || {stored}[{at} + 1:] END
           ELSE latency_hist_merge({stored}, {added}) END"""


_MERGED = merged_histogram("r.latency_hist", "EXCLUDED.latency_hist")

_ROLLUP_UPSERT = """
{name} AS (
    INSERT INTO {table} AS r (bucket, {keys}, events, errors, latency_sum_ms, latency_count,
                              latency_hist, part)
    -- Grouped twice: by latency bucket first, then each row's buckets into its histogram.
    SELECT bucket, {keys}, sum(n), sum(e), sum(s), sum(c),
           coalesce(array_agg((lb::bigint << 40) | c ORDER BY lb) FILTER (WHERE c > 0), '{{}}'),
           %(part)s::smallint
      FROM (SELECT date_bin('{grain}', ts, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
                   {keys}, lb, count(*) AS n,
                   count(*) FILTER (WHERE is_error) AS e, coalesce(sum(latency_ms), 0) AS s,
                   count(latency_ms) AS c
              FROM inserted
             GROUP BY 1, {keys}, lb) AS by_latency
     GROUP BY bucket, {keys}
     ORDER BY bucket, {keys}
    ON CONFLICT (bucket, {keys}, part) DO UPDATE
       SET events = r.events + EXCLUDED.events,
           errors = r.errors + EXCLUDED.errors,
           latency_sum_ms = r.latency_sum_ms + EXCLUDED.latency_sum_ms,
           latency_count = r.latency_count + EXCLUDED.latency_count,
           latency_hist = {merged}
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

# The hourly latency rollups: a histogram per UTC hour and one dimension, from the new rows
# that carry a latency (a row without one would hold an empty histogram: none is written).
_LATENCY_UPSERT = """
{name} AS (
    INSERT INTO {table} AS r (bucket, {key}, latency_hist, part)
    SELECT bucket, {key}, array_agg((lb::bigint << 40) | c ORDER BY lb), %(part)s::smallint
      FROM (SELECT date_bin('1 hour', ts, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
                   {key}, lb, count(*) AS c
              FROM inserted
             WHERE latency_ms IS NOT NULL
             GROUP BY 1, {key}, lb) AS by_latency
     GROUP BY bucket, {key}
     ORDER BY bucket, {key}
    ON CONFLICT (bucket, {key}, part) DO UPDATE
       SET latency_hist = {merged}
    RETURNING 1
)"""


@dataclass(frozen=True, slots=True)
class LatencyTable:
    """An hourly latency rollup: its CTE name, table and its one key column after `bucket`."""

    name: str
    table: str
    key: str


# Upserted after ROLLUP_TABLES, in this order (the same lock order for every batch).
LATENCY_TABLES = (
    LatencyTable("latency_by_endpoint", "ingest_rollup_latency_endpoint", "endpoint"),
    LatencyTable("latency_by_courier", "ingest_rollup_latency_courier", "cp_id"),
)

# The staged batch: one row per clean event, as `_staged_row` orders it. A temporary table, one
# per connection (made on its first batch), emptied by every commit: a batch reaches it by one
# binary COPY, and the statement below reads it once.
STAGING = "ingest_staging"
_STAGING_COLUMNS = (
    ("ts", "timestamptz"),
    ("event_key", "text"),
    ("endpoint", "text"),
    ("http_status", "smallint"),
    ("code", "integer"),
    ("category", "text"),
    ("is_error", "boolean"),
    ("cp_id", "integer"),
    ("courier", "text"),
    ("waybill", "text"),
    ("order_id", "text"),
    ("account_code", "text"),
    ("message", "text"),
    ("latency_ms", "double precision"),
    ("request", "text"),  # JSON texts: cast to jsonb by the INSERT, as they are in the table
    ("response", "text"),
    ("extra", "text"),
    ("legacy_key", "text"),  # the first key version's, for an event it may be stored under
)
_CREATE_STAGING = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGING} ("
    + ", ".join(f"{name} {kind}" for name, kind in _STAGING_COLUMNS)
    + ") ON COMMIT DELETE ROWS"
)
_COPY_STAGING = (
    f"COPY {STAGING} ({', '.join(name for name, _ in _STAGING_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
)
_STAGING_TYPES = [kind for _, kind in _STAGING_COLUMNS]

# Each data-modifying CTE of the batch statement after `inserted`, in the order they run; a
# table kept from the new rows adds its CTE here (it reads `inserted`) and so joins the same
# statement, the same transaction and the same lock order.
_INSERTED = f"""
inserted AS (
    INSERT INTO ingest_event (ts, received_at, event_key, endpoint, http_status, code, category,
                              is_error, cp_id, courier, waybill, order_id, account_code, message,
                              latency_ms, request, response, extra, token_id)
    SELECT ts, %(received_at)s, event_key, endpoint, http_status, code, category, is_error,
           cp_id, courier, waybill, order_id, account_code, message, latency_ms,
           request::jsonb, response::jsonb, extra::jsonb, %(token_id)s
      FROM {STAGING} s{{legacy}}
     -- One key order for every batch: overlapping batches wait for each other, never deadlock.
     ORDER BY event_key, ts
    ON CONFLICT (event_key, ts) DO NOTHING
    RETURNING ts, endpoint, category, code, is_error, coalesce(cp_id, 0) AS cp_id,
              account_code, latency_ms, id, order_id, waybill, courier,
              -- Each row's latency bucket, once for every rollup that reads it.
              latency_bucket(latency_ms) AS lb
)"""
# Only in a batch with an event that may be stored under the first content-key version: a
# subquery over every partition makes the statement several times dearer to plan.
_LEGACY_DUPLICATES = """
     -- Stored before under the first key version: a duplicate too.
     WHERE s.legacy_key IS NULL
        OR NOT EXISTS (SELECT 1 FROM ingest_event e WHERE e.event_key = s.legacy_key
                                                      AND e.ts = s.ts)"""

# Rollups key "not given" as cp_id 0 and account_code '' (unique keys without NULLs).
_ROLLUPS = [
    (
        r.name,
        _ROLLUP_UPSERT.format(
            name=r.name, table=r.table, keys=r.keys, grain=r.grain, merged=_MERGED
        ),
    )
    for r in ROLLUP_TABLES
]
_LATENCY_ROLLUPS = [
    (r.name, _LATENCY_UPSERT.format(name=r.name, table=r.table, key=r.key, merged=_MERGED))
    for r in LATENCY_TABLES
]

_COURIER_NAMES = f"""
courier_names AS (
    -- Only names that changed are written: an unchanged row is not even locked.
    INSERT INTO ingest_courier AS c (cp_id, name)
    SELECT DISTINCT ON (cp_id) cp_id, courier FROM {STAGING} i
     WHERE cp_id IS NOT NULL AND courier <> ''
       AND NOT EXISTS (SELECT 1 FROM ingest_courier k WHERE k.cp_id = i.cp_id
                                                       AND k.name = i.courier)
     ORDER BY cp_id, ts DESC
    ON CONFLICT (cp_id) DO UPDATE SET name = EXCLUDED.name
    RETURNING 1
)"""

_TOKEN_COUNTS = f"""
token_counts AS (
    -- The token's counts, in the batch's own statement and so its transaction. Read last in
    -- the SELECT below, it runs after the inserts and upserts: the token's row is locked from
    -- here to the commit, not for the length of the batch. A NULL token id updates nothing.
    UPDATE ingest_apitoken
       SET accepted = accepted + (SELECT count(*) FROM inserted),
           duplicates = duplicates + (SELECT count(*) FROM {STAGING})
                                   - (SELECT count(*) FROM inserted),
           rejected = rejected + %(rejected)s, last_used_at = %(received_at)s,
           last_error = CASE WHEN %(error)s <> '' THEN %(error)s ELSE last_error END,
           last_error_at = CASE WHEN %(error)s <> '' THEN %(received_at)s
                                ELSE last_error_at END
     WHERE id = %(use_token_id)s
    RETURNING 1
)"""


def _batch_statement(after_inserted: list[tuple[str, str]], *, legacy: bool) -> str:
    """WITH inserted, then each (name, CTE) in order; the SELECT reads every CTE, so each
    runs (PostgreSQL runs a data-modifying CTE anyway; reading it orders the token's last).
    `legacy`: look the first key version up too. Last in the row: the open failures' stale
    rows, which `recompute_stale` rebuilds."""
    inserted = _INSERTED.format(legacy=_LEGACY_DUPLICATES if legacy else "")
    ctes = [inserted, *(cte for _, cte in after_inserted)]
    counts = ", ".join(f"(SELECT count(*) FROM {name})" for name, _ in after_inserted)
    return (
        "WITH "
        + ",".join(ctes)
        + f"\nSELECT (SELECT count(*) FROM inserted), {counts}, {open_failures.STALE_OUTPUT}\n"
    )


_AFTER_INSERTED = [
    *_ROLLUPS,
    *_LATENCY_ROLLUPS,
    (open_failures.STALE, open_failures.BATCH_CTES),
    ("courier_names", _COURIER_NAMES),
    ("token_counts", _TOKEN_COUNTS),
]
_WRITE_BATCH = _batch_statement(_AFTER_INSERTED, legacy=False)
_WRITE_BATCH_LEGACY = _batch_statement(_AFTER_INSERTED, legacy=True)

# The batch statement's parameters, in the order of its `$n` placeholders.
_BATCH_PARAMETERS = ("received_at", "part", "token_id", "rejected", "error", "use_token_id")


@lru_cache(maxsize=8)
def _numbered(statement: str) -> bytes:
    """`statement` with PostgreSQL's own placeholders ($1 ...), for a RawCursor: psycopg
    rewrites `%(name)s` placeholders on every execute of a query longer than 4 KB (it caches
    only shorter ones), ~0.1 ms of the worker's CPU per batch for this one (23 KB)."""
    for number, name in enumerate(_BATCH_PARAMETERS, 1):
        statement = statement.replace(f"%({name})s", f"${number}")
    assert "%(" not in statement, "a parameter missing from _BATCH_PARAMETERS"
    return statement.replace("%%", "%").encode()


# The columns of a CleanEvent in staging order, read in C.
_staged_fields = attrgetter(*(name for name, _ in _STAGING_COLUMNS[:-4]))


def _json_or_none(value: object) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _staged_row(event: CleanEvent) -> tuple:
    # The JSON texts clean_event made; serialized here only for an event built by hand.
    request, response, extra = event.request_json, event.response_json, event.extra_json
    if request is None and event.request is not None:
        request = _json_or_none(event.request)
    if response is None and event.response is not None:
        response = _json_or_none(event.response)
    if extra is None:
        extra = _json_or_none(event.extra)
    return (*_staged_fields(event), request, response, extra, event.legacy_key)


# Content keys of the first version may be stored for events before this time (None: none
# can be): read once per process from `ingest_keyversion`, which the migration that
# introduced the second version filled, and which never changes after.
_legacy_before: list[datetime | None] = []


def legacy_keys_before() -> datetime | None:
    """Events before this time may be stored under the first content-key version (a time up
    to 5 minutes ahead of the switch was accepted then); None when no event can be."""
    if not _legacy_before:
        with connection.cursor() as cursor:
            cursor.execute("SELECT since FROM ingest_keyversion WHERE version = 2")
            row = cursor.fetchone()
        since = row[0] if row else None
        _legacy_before.append(None if since is None else since + MAX_FUTURE)
    return _legacy_before[0]


def forget_key_version() -> None:
    _legacy_before.clear()


# The psycopg connections that have the staging table (it lives as long as its session).
_staged_sessions: WeakSet[psycopg.Connection] = WeakSet()


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
        partitions.forget_known_partitions()
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
    partitions.ensure_partitions(e.ts.astimezone(UTC).date() for e in events)
    if not events:  # only the token's counts: a request whose events were all rejected
        assert token_use is not None
        with connection.wrap_database_errors, psycopg.Cursor(_session()) as cursor:
            _count_on_token(cursor, token_use, BatchResult(0, 0), now=received_at)
        return BatchResult(0, 0)
    use = token_use or TokenUse(token_id=None)
    rows = [_staged_row(event) for event in events]
    # COPY and the statement share one transaction (the staged rows live until its commit);
    # inside a caller's transaction, a savepoint, so that a failed write (and the retry above)
    # leaves that transaction usable.
    outer = connection.in_atomic_block
    session = _session()
    try:
        with (
            transaction.atomic(),
            connection.wrap_database_errors,
            psycopg.Cursor(session) as cursor,
        ):
            if outer:  # the caller's commit may come later, or never (a rolled-back test)
                cursor.execute(_CREATE_STAGING)
                cursor.execute(f"TRUNCATE {STAGING}")
            elif session not in _staged_sessions:
                cursor.execute(_CREATE_STAGING)
            with cursor.copy(_COPY_STAGING) as copy:
                copy.set_types(_STAGING_TYPES)
                for row in rows:
                    copy.write_row(row)
            # Server-side binding: the parameters travel apart from the SQL text. Prepared:
            # parsing and planning the statement (13 CTEs over a partitioned table) cost the
            # server ~5 ms, more than the work of a 10-event batch; a session does it once.
            with psycopg.RawCursor(session) as batch:
                batch.execute(
                    _numbered(
                        _WRITE_BATCH_LEGACY if any(row[-1] for row in rows) else _WRITE_BATCH
                    ),
                    (
                        received_at,
                        stripe_of(session),
                        token_id,
                        use.rejected,
                        use.error[:2000],
                        use.token_id,
                    ),
                    prepare=True,
                )
                counts = batch.fetchone()
            # The open-failure rows the statement could not merge exactly, rebuilt from the
            # raw events before the commit.
            if counts is not None and counts[-2]:
                open_failures.recompute_stale(cursor, counts[-2], since=counts[-1])
    except BaseException:
        _staged_sessions.discard(session)  # a rolled-back CREATE leaves no table
        raise
    if not outer:  # committed: the table stays for the session's next batches
        _staged_sessions.add(session)
    assert counts is not None  # an aggregate SELECT always returns its row
    return BatchResult(accepted=counts[0], duplicates=len(events) - counts[0])


# Django turns psycopg's prepared statements off (prepare_threshold None: safe behind a pooler
# in transaction mode, which this deployment has not). The store's statements ask for it one by
# one (`prepare=True`), so the threshold is one that no other query reaches.
_PREPARED_ONLY_WHEN_ASKED = 2**31


def _session() -> psycopg.Connection:
    with connection.wrap_database_errors:
        connection.ensure_connection()
    session = connection.connection
    if session.prepare_threshold is None:
        session.prepare_threshold = _PREPARED_ONLY_WHEN_ASKED
    return session


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
    """Add to a token's counts and last use outside any batch: a request refused whole. The
    same UPDATE as a batch whose events were all rejected, so this module is the counts' one
    writer."""
    with connection.cursor() as cursor:
        cursor.execute(
            _COUNT_ON_TOKEN,
            {
                "accepted": accepted,
                "duplicates": duplicates,
                "rejected": rejected,
                "now": timezone.now(),
                "error": error[:2000],
                "token_id": token_id,
            },
        )
