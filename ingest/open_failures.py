"""The open-failure state (`ingest_open_failure`): kept by the batch statement, rebuilt from raw.

A reference is an order id (else a waybill) on one endpoint. Its state is a function of its
stored calls ordered by (ts, id): the latest call decides (a failure opens it, a success or a
benign code closes it); the streak is the failures after the latest closing call.

`SUMMARY` computes that function over any set of calls. The batch statement applies it to the
batch's new rows alone and merges the result into the stored row inside `ON CONFLICT DO UPDATE`,
where the row is read at its latest committed version under its lock (so two concurrent batches
of one reference are serialized on the row, and the merge never uses a stale snapshot of it).
The merge is exact when the batch's calls are all newer than the stored decision, when the
batch holds a closing call newer than it, when they extend an open streak, or when they all
precede the latest close. In the remaining cases (a late success inside an open streak splits
it; failures straddling a close) it marks the row `stale`, and `recompute_stale`, the next
statement of the same transaction, rebuilds those rows from the raw events: a fresh statement
sees every batch that committed before the row lock was taken, and a batch still waiting on
the lock merges its own calls after this commit. The batch statement names the rows it marked
(their keys, and the oldest call the rebuild needs), so the rebuild touches no other row and
probes only the partitions from that call on.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

# Every call that names a reference, from a relation `{source}` with the event columns.
_CALLS = """
{name} AS (
    SELECT s.endpoint,
           CASE WHEN s.order_id <> '' THEN 'order' ELSE 'waybill' END AS ref_kind,
           CASE WHEN s.order_id <> '' THEN s.order_id ELSE s.waybill END AS ref,
           s.ts, s.id, s.is_error AND NOT coalesce(c.benign, false) AS failed, s.code,
           coalesce(s.cp_id, 0) AS cp_id, s.courier, s.account_code, s.order_id, s.waybill
      FROM {source} s LEFT JOIN ingest_codeentry c ON c.code = s.code
     WHERE {where}
)"""

# The state of each reference from its calls in `{calls}` alone. `closes_from_here` counts the
# closing calls at or after a call (newest first), so the streak is the calls where it is 0.
_SUMMARY = """
{name}_ranked AS (
    SELECT k.*, row_number() OVER newest AS newest,
           count(*) FILTER (WHERE NOT failed) OVER newest AS closes_from_here
      FROM {calls} k
    WINDOW newest AS (PARTITION BY endpoint, ref_kind, ref ORDER BY ts DESC, id DESC
                      ROWS UNBOUNDED PRECEDING)
),
{name} AS (
    SELECT endpoint, ref_kind, ref,
           max(ts) FILTER (WHERE newest = 1) AS last_ts,
           max(id) FILTER (WHERE newest = 1) AS last_id,
           bool_or(failed) FILTER (WHERE newest = 1) AS last_failed,
           max(ts) FILTER (WHERE NOT failed AND closes_from_here = 1) AS close_ts,
           max(id) FILTER (WHERE NOT failed AND closes_from_here = 1) AS close_id,
           count(*) FILTER (WHERE closes_from_here = 0) AS tail_n,
           min(ts) AS first_ts,
           min(ts) FILTER (WHERE closes_from_here = 0) AS tail_first,
           max(code) FILTER (WHERE newest = 1) AS code,
           max(cp_id) FILTER (WHERE newest = 1) AS cp_id,
           max(courier) FILTER (WHERE newest = 1) AS courier,
           max(account_code) FILTER (WHERE newest = 1) AS account_code,
           max(order_id) FILTER (WHERE newest = 1) AS order_id,
           max(waybill) FILTER (WHERE newest = 1) AS waybill
      FROM {name}_ranked
     GROUP BY endpoint, ref_kind, ref
)"""

_COLUMNS = (
    "endpoint, ref_kind, ref, is_open, decided_ts, decided_id, closed_ts, closed_id, "
    "first_failed_at, attempts, code, cp_id, courier, account_code, order_id, waybill, stale"
)
# A summary row as the state of a reference with no other calls.
_FROM_SUMMARY = """
    SELECT endpoint, ref_kind, ref, last_failed, last_ts, last_id, close_ts, close_id,
           tail_first, tail_n, code, cp_id, courier, account_code, order_id, waybill, false
      FROM {name}
     ORDER BY endpoint, ref_kind, ref"""

# How the batch's summary (EXCLUDED: is_open = its latest call failed, decided = its latest
# call, closed = its latest close, first_failed_at / attempts = its failures after that close)
# merges into the stored row `r` (see the module's doc). With no close in the batch, its
# failures are all its calls; their oldest is compared by timestamp alone, strictly, and a tie
# is left to the recomputation.
_HOW = """CASE
    WHEN EXCLUDED.closed_id IS NOT NULL
         AND (EXCLUDED.closed_ts, EXCLUDED.closed_id) > (r.decided_ts, r.decided_id)
        THEN 'closed_newer'
    WHEN NOT r.is_open
         AND (EXCLUDED.decided_ts, EXCLUDED.decided_id) < (r.decided_ts, r.decided_id)
        THEN 'keep'
    WHEN r.is_open AND r.closed_id IS NOT NULL
         AND (EXCLUDED.decided_ts, EXCLUDED.decided_id) < (r.closed_ts, r.closed_id) THEN 'keep'
    WHEN r.is_open AND EXCLUDED.closed_id IS NULL
         AND (r.closed_id IS NULL OR EXCLUDED.first_failed_at > r.closed_ts) THEN 'extend'
    WHEN NOT r.is_open AND EXCLUDED.closed_id IS NULL AND EXCLUDED.first_failed_at > r.decided_ts
        THEN 'reopen'
    ELSE 'stale' END"""


_NEWER = "(EXCLUDED.decided_ts, EXCLUDED.decided_id) > (r.decided_ts, r.decided_id)"


def _newer(column: str) -> str:
    return f"CASE WHEN {_NEWER} THEN EXCLUDED.{column} ELSE r.{column} END"


def _by_case(cases: dict[str, str], otherwise: str) -> str:
    """`CASE how WHEN ... END` with the merge's case written out: SET expressions, not a
    sub-select per row (a subplan per conflicting row costs more than the CASE)."""
    whens = " ".join(f"WHEN '{how}' THEN {value}" for how, value in cases.items())
    return f"CASE {_HOW} {whens} ELSE {otherwise} END"


# The batch statement's part: CTEs reading `inserted` (which returns id, ts, endpoint, code,
# is_error, cp_id, courier, account_code, order_id, waybill).
BATCH_CTES = (
    _CALLS.format(name="of_calls", source="inserted", where="s.order_id <> '' OR s.waybill <> ''")
    + ","
    + _SUMMARY.format(name="of_batch", calls="of_calls")
    + f""",
open_failures AS (
    INSERT INTO ingest_open_failure AS r ({_COLUMNS})
    {_FROM_SUMMARY.format(name="of_batch")}
    ON CONFLICT (endpoint, ref_kind, ref) DO UPDATE SET
        is_open = {_by_case({"closed_newer": "EXCLUDED.is_open", "reopen": "true"}, "r.is_open")},
        decided_ts = {_newer("decided_ts")},
        decided_id = {_newer("decided_id")},
        closed_ts = {_by_case({"closed_newer": "EXCLUDED.closed_ts"}, "r.closed_ts")},
        closed_id = {_by_case({"closed_newer": "EXCLUDED.closed_id"}, "r.closed_id")},
        first_failed_at = {
        _by_case(
            {
                "closed_newer": "EXCLUDED.first_failed_at",
                "reopen": "EXCLUDED.first_failed_at",
                "extend": "least(r.first_failed_at, EXCLUDED.first_failed_at)",
            },
            "r.first_failed_at",
        )
    },
        attempts = {
        _by_case(
            {
                "closed_newer": "EXCLUDED.attempts",
                "reopen": "EXCLUDED.attempts",
                "extend": "r.attempts + EXCLUDED.attempts",
            },
            "r.attempts",
        )
    },
        code = {_newer("code")}, cp_id = {_newer("cp_id")}, courier = {_newer("courier")},
        account_code = {_newer("account_code")}, order_id = {_newer("order_id")},
        waybill = {_newer("waybill")},
        stale = {_by_case({"stale": "true"}, "false")}
    RETURNING endpoint, ref_kind, ref, stale
),
open_failures_stale AS (
    -- `since`, the batch's oldest call of the reference: the rebuild needs no call before it.
    -- What it needs is the latest close and the calls after it. A row goes stale only when
    -- the batch's calls interleave with what is stored: either the batch holds a close, and
    -- the latest close is that one or a newer one; or it holds none, and then (see _HOW) its
    -- oldest call is at or before the stored close, which stays the latest.
    SELECT o.endpoint, o.ref_kind, o.ref, b.first_ts AS since
      FROM open_failures o JOIN of_batch b USING (endpoint, ref_kind, ref)
     WHERE o.stale
)"""
)
# The CTE of the rows `recompute_stale` must rebuild, and the two values the batch statement
# selects of it, its last: their keys ([endpoint, ref_kind, ref] each, one two-dimensional text
# array) and the oldest call the rebuild needs (both NULL when no row is stale).
STALE = "open_failures_stale"
STALE_OUTPUT = (
    f"(SELECT array_agg(ARRAY[endpoint, ref_kind, ref]) FROM {STALE}), "
    f"(SELECT min(since) FROM {STALE})"
)

# Each reference's calls are found by index probes, one reference at a time: the LATERAL
# subqueries with OFFSET 0 are not flattened into a join, so the plan does not depend on the
# planner's guess of how many references are stale (with no statistics yet it guesses half the
# table, and then hashes every raw event). `<> ''` repeats the partial indexes' predicates:
# without it the planner cannot prove a join key is never '' and cannot use them.
_RAW_CALLS_OF_REFS = """
refs AS (SELECT DISTINCT endpoint, ref_kind, ref FROM {refs}),
raw AS (
    SELECT e.* FROM refs CROSS JOIN LATERAL (
        SELECT * FROM ingest_event e
         WHERE refs.ref_kind = 'order' AND e.order_id <> '' AND e.order_id = refs.ref
           AND e.endpoint = refs.endpoint AND e.ts >= {since} OFFSET 0) AS e
    UNION ALL
    SELECT e.* FROM refs CROSS JOIN LATERAL (
        SELECT * FROM ingest_event e
         WHERE refs.ref_kind = 'waybill' AND e.order_id = '' AND e.waybill <> ''
           AND e.waybill = refs.ref AND e.endpoint = refs.endpoint AND e.ts >= {since}
        OFFSET 0) AS e
),"""

_REBUILD = (
    "WITH {prefix}"
    + _CALLS.format(name="calls", source="{source}", where="{where}")
    + ","
    + _SUMMARY.format(name="rebuilt", calls="calls")
    + f""",
written AS (
    INSERT INTO ingest_open_failure AS r ({_COLUMNS})
    {_FROM_SUMMARY.format(name="rebuilt")}
    ON CONFLICT (endpoint, ref_kind, ref) DO UPDATE SET
        ({_COLUMNS}) = (SELECT {", ".join(f"EXCLUDED.{c.strip()}" for c in _COLUMNS.split(","))})
    RETURNING 1
),
gone AS (
    -- References of the set whose calls are all gone (pruned) have no state.
    DELETE FROM ingest_open_failure o USING {{refs}} g
     WHERE (o.endpoint, o.ref_kind, o.ref) = (g.endpoint, g.ref_kind, g.ref)
       AND NOT EXISTS (SELECT 1 FROM rebuilt n WHERE (n.endpoint, n.ref_kind, n.ref)
                                                    = (o.endpoint, o.ref_kind, o.ref))
    RETURNING 1
)
SELECT (SELECT count(*) FROM written), (SELECT count(*) FROM gone)"""
)

# The batch's own stale rows, by key: its upsert holds their locks until the commit, so this
# waits on no other batch (a `WHERE stale ... FOR UPDATE` also waited on rows that batches still
# in flight had marked, and serialized batches whose times overlap), and the planner knows the
# set's size instead of guessing it from a boolean column.
_RECOMPUTE_STALE = _REBUILD.format(
    prefix="stale_refs AS (SELECT * FROM unnest(%(endpoints)s::text[], %(kinds)s::text[], "
    "%(refs)s::text[]) AS k(endpoint, ref_kind, ref)),"
    # A parameter, not a column: partitions before it are pruned before the plan even starts.
    + _RAW_CALLS_OF_REFS.format(refs="stale_refs", since="%(since)s"),
    source="raw",
    where="true",
    refs="stale_refs",
)


# The state as of a moment, from the calls stored with a timestamp in [since, at): the CTEs
# `as_of_calls` and `as_of` (one row per reference, as `SUMMARY`), for a caller's SELECT.
STATE_AS_OF = (
    "WITH "
    + _CALLS.format(
        name="as_of_calls",
        source="(SELECT * FROM ingest_event WHERE ts >= %(since)s AND ts < %(at)s)",
        where="s.order_id <> '' OR s.waybill <> ''",
    )
    + ","
    + _SUMMARY.format(name="as_of", calls="as_of_calls")
)


def recompute_stale(cursor: psycopg.Cursor, keys: list[list[str]], *, since: datetime) -> None:
    """Rebuild from raw events the rows this transaction's batch could not merge exactly, as the
    batch statement named them (STALE_OUTPUT): `keys`, each [endpoint, ref_kind, ref], and the
    oldest call the rebuild needs. Prepared: the plan is made once per session, not per batch."""
    endpoints, kinds, refs = zip(*keys, strict=True)
    cursor.execute(
        _RECOMPUTE_STALE,
        {"endpoints": list(endpoints), "kinds": list(kinds), "refs": list(refs), "since": since},
        prepare=True,
    )


_REBUILD_ALL = (
    "LOCK TABLE ingest_open_failure IN SHARE ROW EXCLUSIVE MODE;DELETE FROM ingest_open_failure;"
)


def rebuild_all(cursor: psycopg.Cursor) -> int:
    """Build the whole state from the raw events (the backfill). Call inside a transaction:
    the lock makes batches wait at their state upsert, and those batches merge their own calls
    after the commit, while every batch committed before is in this statement's snapshot."""
    cursor.execute(_REBUILD_ALL)
    cursor.execute(
        _REBUILD.format(
            prefix="",
            source="ingest_event",
            where="s.order_id <> '' OR s.waybill <> ''",
            refs="(SELECT NULL::text AS endpoint, NULL::text AS ref_kind, NULL::text AS ref "
            "WHERE false)",
        )
    )
    row = cursor.fetchone()
    return int(row[0]) if row else 0


def prune(cursor: psycopg.Cursor, *, keep_from: datetime) -> None:
    """Keep the state equal to the events left after retention dropped those before
    `keep_from`: references decided before it go, streaks begun before it are rebuilt, and
    dismissals through a call before it go too (they can hide no row left: every row left was
    decided at or after `keep_from`), so the audit is kept as long as the calls it is about."""
    cursor.execute(
        "DELETE FROM ingest_open_failure WHERE decided_ts < %(keep_from)s",
        {"keep_from": keep_from},
    )
    cursor.execute(
        "DELETE FROM ingest_open_failure_dismissal WHERE through_ts < %(keep_from)s",
        {"keep_from": keep_from},
    )
    cursor.execute(
        _REBUILD.format(
            prefix="cut AS (SELECT endpoint, ref_kind, ref FROM ingest_open_failure "
            "WHERE (is_open AND first_failed_at < %(keep_from)s) OR closed_ts < %(keep_from)s "
            "ORDER BY 1, 2, 3 FOR UPDATE),"
            + _RAW_CALLS_OF_REFS.format(refs="cut", since="'-infinity'"),
            source="raw",
            where="true",
            refs="cut",
        ),
        {"keep_from": keep_from},
    )
