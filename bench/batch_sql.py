"""PostgreSQL's CPU per batch of `store.write_events`, variants of the write side by side.

    flock /tmp/bench.lock python -m bench.batch_sql [--batch 10 1000] [--batches 20]
          [--rounds 3] [--variants shipped,without_state,...]

One process, one connection, a fresh migrated database `bench_batch_sql`. The batches are
DemoTraffic calls of new shipments (each event its own reference, as `bench.ingest_cpu` sends),
1 ms apart, cleaned once; `--batches` of `--batch` events are written by `store.write_events`
per variant and round, each round from empty tables (identities restarted, one fixed
`received_at` and stripe), so every variant writes the same rows. The figure is the backend's
CPU (utime + stime from /proc, the same machine) per batch: COPY into staging, the batch
statement, the commit; beside it the process's own CPU per batch (the store's share of a
worker's). Rounds alternate who goes first; the first round warms up (prepared statements,
caches) and is not counted; medians of the rest.

A variant patches the store for its rounds (VARIANTS). After its first counted round the tables'
contents are compared with the first variant's (rollups with their stripes added up and the
latency sums to 6 decimals, float addition being order-dependent): "same" or the tables that
differ. The share variants leave a part out on purpose, to measure what it costs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bench import common

DB = "bench_batch_sql"
SEED = 5


def _without_state() -> None:
    import bench.open_failures
    from ingest import store

    store._WRITE_BATCH = bench.open_failures.statement_without_state()


def _rows_only() -> None:
    """The raw insert and the token's counts: no rollup, no state, no courier names."""
    from ingest import open_failures, store

    store._WRITE_BATCH = store._batch_statement(
        [
            (
                open_failures.STALE,
                f"{open_failures.STALE} AS (SELECT ''::text AS endpoint, ''::text AS ref_kind, "
                "''::text AS ref, now() AS since WHERE false)",
            ),
            ("token_counts", store._TOKEN_COUNTS),
        ],
        legacy=False,
    )


def _histogram_merge(replacement: str) -> None:
    from ingest import store

    assert store._MERGED in store._WRITE_BATCH
    store._WRITE_BATCH = store._WRITE_BATCH.replace(store._MERGED, replacement)


def _merge_function_always() -> None:
    """Every conflicting rollup row merged by `latency_hist_merge` (the store before 12-08)."""
    _histogram_merge("latency_hist_merge(r.latency_hist, EXCLUDED.latency_hist)")


def _without_histogram_merge() -> None:
    """Rollup rows keep their stored histogram on conflict: the merge's share (wrong rows)."""
    _histogram_merge("r.latency_hist")


# The rollups' journal (not built; measured for the note on issue 22): a batch appends its new
# rows' rollup columns to an unindexed table instead of upserting nine rollups, and a folder
# empties it into the rollups every second or so, each quarter hour's rows once for many
# batches. Reads would add the journal's rows (a view per rollup); not written here.
_JOURNAL = "bench_rollup_journal"
_JOURNAL_CTE = f"""
journal AS (
    INSERT INTO {_JOURNAL}
    SELECT ts, endpoint, category, code, is_error, cp_id, account_code, latency_ms, lb
      FROM inserted
    RETURNING 1
)"""


def _journal() -> None:
    """The batch appends to the journal; `_fold_journal` runs after the round, its CPU in it."""
    from django.db import connection

    from ingest import open_failures, store

    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {_JOURNAL} (ts timestamptz, endpoint text, "
            "category text, code integer, is_error boolean, cp_id integer, account_code text, "
            "latency_ms double precision, lb integer)"
        )
    store._WRITE_BATCH = store._batch_statement(
        [
            ("journal", _JOURNAL_CTE),
            (open_failures.STALE, open_failures.BATCH_CTES),
            ("courier_names", store._COURIER_NAMES),
            ("token_counts", store._TOKEN_COUNTS),
        ],
        legacy=False,
    )


def _fold_journal() -> None:
    """Every journal row into the nine rollups by the store's own upserts, in one statement
    (`inserted` is the journal's deleted rows here), as one fold of the round's batches."""
    import psycopg
    from django.db import transaction

    from ingest import store

    upserts = [*store._ROLLUPS, *store._LATENCY_ROLLUPS]
    statement = (
        f"WITH inserted AS (DELETE FROM {_JOURNAL} RETURNING *),"
        + ",".join(cte for _, cte in upserts)
        + "\nSELECT "
        + ", ".join(f"(SELECT count(*) FROM {name})" for name, _ in upserts)
    )
    with transaction.atomic(), psycopg.RawCursor(store._session()) as cursor:
        cursor.execute(statement.replace("%(part)s", "3").replace("%%", "%"))


# What runs after a variant's batches, inside its timed round.
AFTER_ROUND: dict[str, Callable[[], None]] = {"journal": _fold_journal}

# name -> what it patches in ingest.store (restored after each of its rounds).
VARIANTS: dict[str, Callable[[], None]] = {
    "journal": _journal,
    "shipped": lambda: None,
    "without_state": _without_state,
    "rows_only": _rows_only,
    "without_histogram_merge": _without_histogram_merge,
    "merge_function_always": _merge_function_always,
}


def _batches(batch: int, count: int) -> list[list]:
    from django.utils import timezone

    from demo.traffic import DemoTraffic
    from ingest.catalog import current_catalog
    from ingest.events import clean_event

    now, catalog = timezone.now(), current_catalog()
    traffic = DemoTraffic(now=datetime.now(UTC), days=1, per_day=count * batch, seed=SEED)
    start = now - timedelta(hours=20)
    step = timedelta(milliseconds=1)
    return [
        [
            clean_event(traffic.record(start + step * (n * batch + k)), now=now, catalog=catalog)
            for k in range(batch)
        ]
        for n in range(count)
    ]


def _tables() -> list[str]:
    from ingest import store

    return [
        "ingest_event",
        "ingest_open_failure",
        "ingest_courier",
        *(r.table for r in (*store.ROLLUP_TABLES, *store.LATENCY_TABLES)),
    ]


def _contents() -> dict[str, str]:
    """An md5 of each table's rows (rollups: stripes added up; latency sums rounded)."""
    from django.db import connection

    from ingest import store

    queries = {
        r.table: f"SELECT bucket, {r.keys}, sum(events), sum(errors), "
        f"round(sum(latency_sum_ms)::numeric, 6), sum(latency_count), latency_hist "
        f"FROM {r.table} GROUP BY bucket, {r.keys}, latency_hist"
        for r in store.ROLLUP_TABLES
    }
    for r in store.LATENCY_TABLES:
        queries[r.table] = f"SELECT bucket, {r.key}, latency_hist FROM {r.table}"
    for table in ("ingest_event", "ingest_open_failure", "ingest_courier"):
        queries[table] = f"SELECT * FROM {table}"
    out = {}
    with connection.cursor() as cursor:
        for table, query in queries.items():
            cursor.execute(
                f"SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) FROM ({query}) x"
            )  # noqa: E501
            out[table] = cursor.fetchone()[0]
    return out


def _backend_cpu(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(batch: int, count: int, rounds: int, names: list[str]) -> dict:
    from django.db import connection
    from django.utils import timezone

    from ingest import partitions, store

    batches = _batches(batch, count)
    # The variants patch the statement of batches without first-version keys, the only kind.
    assert not any(e.legacy_key for events in batches for e in events)
    partitions.ensure_partitions_ahead(days_ahead=1, days_back=2)
    received_at = timezone.now()
    saved = {name: getattr(store, name) for name in ("_WRITE_BATCH", "_write_events", "stripe_of")}
    store.stripe_of = lambda session: 3  # one stripe whatever the backend
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    db: dict[str, list[float]] = {name: [] for name in names}
    worker: dict[str, list[float]] = {name: [] for name in names}
    contents: dict[str, dict[str, str]] = {}
    for n in range(rounds + 1):
        for name in names if n % 2 == 0 else reversed(names):
            VARIANTS[name]()
            with connection.cursor() as cursor:
                cursor.execute(f"TRUNCATE {', '.join(_tables())} RESTART IDENTITY")
            started_db, started = _backend_cpu(pid), time.process_time()
            for events in batches:
                store.write_events(events, token_id=None, received_at=received_at)
            AFTER_ROUND.get(name, lambda: None)()
            if n:
                db[name].append((_backend_cpu(pid) - started_db) * 1000 / count)
                worker[name].append((time.process_time() - started) * 1000 / count)
                contents.setdefault(name, _contents())
            for attribute, value in saved.items():
                if attribute != "stripe_of":
                    setattr(store, attribute, value)
    store.stripe_of = saved["stripe_of"]
    first = contents[names[0]]
    result = {}
    for name in names:
        differ = [t for t in first if contents[name][t] != first[t]]
        result[name] = {
            "db_backend_cpu_ms_per_batch": round(statistics.median(db[name]), 3),
            "worker_cpu_ms_per_batch": round(statistics.median(worker[name]), 3),
            "db_rounds_ms": [round(x, 2) for x in db[name]],
            "contents": "same" if not differ else f"differ: {', '.join(differ)}",
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, nargs="+", default=[10, 1000])
    parser.add_argument("--batches", type=int, default=20, help="batches a round (x20 for 10)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", default="shipped,merge_function_always")
    args = parser.parse_args()
    names = args.variants.split(",")
    unknown = set(names) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}; known: {sorted(VARIANTS)}")
    common.recreate_database(DB)
    os.environ["DATABASE_URL"] = common.database_url(DB)
    common.setup_django()
    result: dict = {"load_average": os.getloadavg(), "rounds": args.rounds}
    for batch in args.batch:
        # Small batches: more of them, so that a round is long enough for /proc's clock ticks.
        count = args.batches * (20 if batch < 100 else 1)
        result[f"batch_{batch}"] = measure(batch, count, args.rounds, names)
        common.log(f"batch {batch}: {json.dumps(result[f'batch_{batch}'])}")
    result["load_average_end"] = os.getloadavg()
    from django.db import connections

    connections["default"].close()
    common.drop_database(DB)
    common.save("batch_sql", result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
