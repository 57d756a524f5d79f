"""Open failures: the list and the summary at scale, and ingest with and without the state.

    flock /tmp/bench.lock python -m bench.open_failures --events 10000000 [--runs 30]
    flock /tmp/bench.lock python -m bench.open_failures --ingest-only [--http] [--batches 40]
          [--streams own|dealt]
    flock /tmp/bench.lock python -m bench.open_failures --db bench_10m   # reads, loaded database

Reads: `bench.load` fills `bench_open_<events>` (its state built by the backfill's own
function), then this process asks the read room's functions directly (no HTTP: the figure is
the query's), `--runs` times each after one warm-up: the list's first page with no filter and
with a courier filter, and the summary. Medians (p50) and p90 in milliseconds. `--db` reads
an already loaded database instead (nothing loaded or written; the ingest part is skipped),
and explains the stale rows' rebuild there (`recompute_plan`).

Ingest, side by side in one run, 1,000-event batches of shipments' lives (demo traffic: a
reference called again and again), sent as `--streams` says (`STREAMS`: each client its own
shipments, the usual case and the default; or one stream dealt batch by batch, the state's
worst case), rounds alternating between the batch statement as shipped
and the same statement without the open-failure CTEs, each round from empty tables:
- in-process (the default): `store.write_events` by `--clients` threads, each its own
  connection, into a fresh `bench_open_ingest`: the write alone, so the state's share is not
  hidden behind validation and HTTP; also how often and how long stale rows were rebuilt;
- `--http`: end to end, two gunicorn servers of the deploy config (one whose workers leave the
  state out: bench/gunicorn_without_state.py), `--clients` keep-alive clients.
Events/s per variant (medians) and the ratio, saved for the report and printed as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time

from bench import common, load

INGEST_DB = "bench_open_ingest"
HTTP_DB = "bench_open_http"
BATCH = 1000


def _ms(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p90_ms": round(ordered[int(len(ordered) * 0.9) - 1] * 1000, 2),
        "runs": len(ordered),
    }


def reads(name: str, runs: int) -> dict:
    from django.utils import timezone

    from stats import open_failures as of
    from stats.window import Filters

    now = timezone.now()
    with common.connect(name) as conn:
        opened = conn.execute("SELECT count(*) FROM ingest_open_failure WHERE is_open").fetchone()
        events = conn.execute("SELECT count(*) FROM ingest_event").fetchone()
        busiest = conn.execute(
            "SELECT cp_id FROM ingest_open_failure WHERE is_open GROUP BY 1 ORDER BY count(*) "
            "DESC LIMIT 1"
        ).fetchone()
    questions = {
        "list_first_page": lambda: of.open_page(where=of.OpenFilters(), now=now, limit=50),
        "list_first_page_courier": lambda: of.open_page(
            where=of.OpenFilters(filters=Filters(cp_id=(busiest[0],))), now=now, limit=50
        ),
        "summary": lambda: of.summary(where=of.OpenFilters(), now=now),
    }
    figures: dict = {"events": events[0], "open": opened[0], "courier": busiest[0]}
    for label, ask in questions.items():
        ask()  # warm-up
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            ask()
            samples.append(time.perf_counter() - started)
        figures[label] = _ms(samples)
    return figures


def recompute_plan(name: str, refs: int = 20) -> dict:
    """EXPLAIN ANALYZE of the stale rows' rebuild for the `refs` most recently decided
    references (in a transaction rolled back): it must probe the raw events by index in the
    partitions from the oldest call it needs on, never scan them, whatever the table's size."""
    import re

    from ingest import open_failures

    with common.connect(name) as conn:
        keys = conn.execute(
            "SELECT endpoint, ref_kind, ref, coalesce(closed_ts, first_failed_at) "
            "FROM ingest_open_failure ORDER BY decided_ts DESC LIMIT %s",
            (refs,),
        ).fetchall()
        params = {
            "endpoints": [k[0] for k in keys],
            "kinds": [k[1] for k in keys],
            "refs": [k[2] for k in keys],
            "since": min(k[3] for k in keys),
        }
        for _ in range(2):  # the second plan is the warm one
            plan = "\n".join(
                row[0]
                for row in conn.execute(
                    "EXPLAIN (ANALYZE) " + open_failures._RECOMPUTE_STALE, params
                ).fetchall()
            )
            conn.rollback()
        scanned = set(re.findall(r"Seq Scan on (ingest_event_p\d+)", plan))
        # An empty partition (the days ahead) is scanned at no cost; any other is a bug.
        nonempty = conn.execute(
            "SELECT relname FROM pg_class WHERE relname = ANY(%s) AND reltuples > 0",
            (sorted(scanned),),
        ).fetchall()
    probed = set(
        re.findall(
            r"Index Scan on (ingest_event_p\d+)|Index Scan using \w+ on "
            r"(ingest_event_p\d+)",
            plan,
        )
    )
    return {
        "refs": len(keys),
        "since": str(params["since"]),
        "planning_ms": float(re.search(r"Planning Time: ([0-9.]+)", plan).group(1)),
        "execution_ms": float(re.search(r"Execution Time: ([0-9.]+)", plan).group(1)),
        "raw_partitions_in_plan": len(set(re.findall(r"on (ingest_event_p\d+)", plan))),
        "raw_partitions_probed_by_index": len({a or b for a, b in probed}),
        "raw_partitions_seq_scanned": sorted(row[0] for row in nonempty),
    }


# How the shippers' traffic reaches the concurrent writers:
# - "own": each client sends the lives of shipments of its own (a shipper host posting its own
#   calls, the usual case): batches in flight at once share no reference;
# - "dealt": one stream of lives dealt to the clients batch by batch: batches in flight at once
#   are neighbours in time, so a failure and its retry often sit in two of them and the second
#   waits at the state's row for the first's commit (the worst case for the state).
STREAMS = ("own", "dealt")


def _streams(count: int, clients: int, how: str) -> list[list[dict]]:
    """`count` batches of BATCH records of shipments' lives in time order over the last day, as
    one list of batches per client ("own": each from shipments of its own) or one shared list
    ("dealt")."""
    from datetime import UTC, datetime

    from demo.traffic import DemoTraffic

    now = datetime.now(UTC)  # no Django here: the HTTP arm's process has none
    sources = 1 if how == "dealt" else clients
    per_source = -(-count // sources)
    out = []
    for source in range(sources):
        # Shipments' lives in time order: references called again and again, failures retried.
        records = DemoTraffic(
            now=now, days=1, per_day=per_source * BATCH, seed=11 + source,
            first_seq=source * 10_000_000,
        ).records()  # fmt: skip
        batch: list[dict] = []
        stream = []
        for record in records:
            batch.append(record)
            if len(batch) == BATCH:
                stream.append(batch)
                batch = []
                if len(stream) == per_source:
                    break
        out.append(stream)
    return out


def _batches(count: int, clients: int, how: str) -> list[list[list]]:
    """`_streams` as clean events."""
    from django.utils import timezone

    from ingest.catalog import current_catalog
    from ingest.events import clean_event

    now, catalog = timezone.now(), current_catalog()
    return [
        [[clean_event(record, now=now, catalog=catalog) for record in batch] for batch in stream]
        for stream in _streams(count, clients, how)
    ]


def _write_all(streams: list[list[list]], clients: int) -> None:
    """Every batch through `store.write_events`, by `clients` threads (each its own connection):
    one stream per client, each in order; or one stream, its batches taken in time order from one
    queue, so batches in flight at once overlap in time and share references."""
    from django.db import connection

    from ingest import store

    queues = [list(reversed(stream)) for stream in streams]
    errors: list[BaseException] = []

    def client(n: int) -> None:
        queue = queues[n % len(queues)]
        try:
            while True:
                try:
                    batch = queue.pop()
                except IndexError:
                    return
                store.write_events(batch, token_id=None)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def statement_without_state() -> str:
    """The batch statement with an empty stand-in for the state's CTEs (nothing to rebuild)."""
    from ingest import open_failures, store

    without = store._batch_statement(
        [
            *store._ROLLUPS,
            *store._LATENCY_ROLLUPS,
            (
                open_failures.STALE,
                f"{open_failures.STALE} AS (SELECT ''::text AS endpoint, ''::text AS ref_kind, "
                "''::text AS ref, now() AS since WHERE false)",
            ),
            ("courier_names", store._COURIER_NAMES),
            ("token_counts", store._TOKEN_COUNTS),
        ],
        legacy=False,
    )
    assert without != store._WRITE_BATCH and "ingest_open_failure" not in without
    return without


def leave_out_state() -> None:
    """This process's batches skip the state (a gunicorn worker's hook: bench/gunicorn_*)."""
    from ingest import store

    store._WRITE_BATCH = statement_without_state()


def ingest(batches: int, rounds: int, clients: int, streams: str) -> dict:
    from django.db import connection

    from ingest import open_failures, partitions, store

    shipped = store._WRITE_BATCH
    without = statement_without_state()
    # How often the batches' stale rows were rebuilt, and how long that took.
    recomputed: list[tuple[int, float]] = []
    recompute = open_failures.recompute_stale

    def timed_recompute(cursor, keys, *, since):
        started = time.perf_counter()
        recompute(cursor, keys, since=since)
        recomputed.append((len(keys), time.perf_counter() - started))

    open_failures.recompute_stale = timed_recompute
    work = _batches(batches, clients, streams)
    total = sum(len(b) for stream in work for b in stream)
    partitions.ensure_partitions_ahead(days_ahead=1, days_back=2)
    rates: dict[str, list[float]] = {"without_state": [], "with_state": []}
    rebuilds: list[float] = []
    for n in range(rounds * 2 + 1):
        variant = "without_state" if n % 2 else "with_state"
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE ingest_event, ingest_open_failure")
            for rollup in (*store.ROLLUP_TABLES, *store.LATENCY_TABLES):
                cursor.execute(f"TRUNCATE {rollup.table}")  # names from the store, not input
        store._WRITE_BATCH = shipped if variant == "with_state" else without
        recomputed.clear()
        started = time.perf_counter()
        _write_all(work, clients)
        elapsed = time.perf_counter() - started
        if n:  # the first round warms up
            rates[variant].append(total / elapsed)
        if variant == "with_state":
            rebuilds = [seconds for _, seconds in recomputed]
    store._WRITE_BATCH = shipped
    open_failures.recompute_stale = recompute
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), count(*) FILTER (WHERE is_open) FROM ingest_open_failure")
        references, opened = cursor.fetchone()
    medians = {k: round(statistics.median(v)) for k, v in rates.items()}
    return {
        "events": total,
        "batch": BATCH,
        "clients": clients,
        "streams": streams,
        "rounds": rounds,
        "events_per_s": medians,
        "all_events_per_s": {k: [round(r) for r in v] for k, v in rates.items()},
        "ratio_with_to_without": round(medians["with_state"] / medians["without_state"], 3),
        "references_after_a_round": references,
        "open_after_a_round": opened,
        "stale_rebuilds_in_a_round": {
            "batches": len(rebuilds),
            "total_ms": round(sum(rebuilds) * 1000, 1),
            "max_ms": round(max(rebuilds, default=0) * 1000, 1),
        },
    }


def _life_bodies(count: int, clients: int, how: str) -> list[list[bytes]]:
    """`_streams` as gzip NDJSON bodies."""
    import gzip

    def body(batch: list[dict]) -> bytes:
        lines = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in batch)
        return gzip.compress(lines.encode(), 6)

    return [[body(batch) for batch in stream] for stream in _streams(count, clients, how)]


def ingest_http(batches: int, rounds: int, clients: int, workers: int, streams: str) -> dict:
    """End to end, as shippers see it: the same gzip NDJSON bodies posted to two servers of
    the deploy config, one as shipped and one whose workers leave the state out
    (bench/gunicorn_without_state.py), each on a database of its own, rounds alternating, each
    round from empty tables. The bodies are shipments' lives (a reference called again and
    again), as in-process; `bench.ingest_quick`'s bodies, a new reference in every call, are
    the state's worst case."""
    import gzip
    from datetime import UTC, datetime

    from bench import ingest_quick as quick

    configs = {
        "with_state": "clickpost_monitor/gunicorn_conf.py",
        "without_state": "bench/gunicorn_without_state.py",
    }
    now = datetime.now(UTC)
    bodies = _life_bodies(batches, clients, streams)
    body_events = [len(gzip.decompress(b).splitlines()) for stream in bodies for b in stream]
    warmup = quick.encode_batches(2 * clients, now=now - quick.SPAN)
    servers = {}
    rates: dict[str, list[float]] = {variant: [] for variant in configs}
    try:
        for variant, config in configs.items():
            db = f"{HTTP_DB}_{variant}"
            common.recreate_database(db)
            token = common.create_token(db, scope="ingest")
            server, port = quick.start_server(workers=workers, db=db, config=config)
            servers[variant] = (server, port, token, db)
            quick.post_all(port, token, warmup, clients=clients)
        for n in range(rounds * 2):
            variant = "without_state" if n % 2 else "with_state"
            _, port, token, db = servers[variant]
            quick.empty_tables(db)
            seconds, accepted = (
                quick.post_all(port, token, bodies[0], clients=clients)
                if len(bodies) == 1
                else quick.post_streams(port, token, bodies)
            )
            if accepted != sum(body_events):
                raise RuntimeError(f"{variant}: {accepted} events accepted")
            rates[variant].append(accepted / seconds)
        with common.connect(servers["with_state"][3]) as conn:
            references = conn.execute("SELECT count(*) FROM ingest_open_failure").fetchone()[0]
        with common.connect(servers["without_state"][3]) as conn:
            none = conn.execute("SELECT count(*) FROM ingest_open_failure").fetchone()[0]
        assert references and not none, "the without-state server kept the state"
    finally:
        for server, _, _, db in servers.values():
            quick.stop_server(server)
            common.drop_database(db)
    medians = {k: round(statistics.median(v)) for k, v in rates.items()}
    return {
        "events": sum(body_events),
        "batch": quick.BATCH,
        "clients": clients,
        "workers": workers,
        "streams": streams,
        "rounds": rounds,
        "events_per_s": medians,
        "all_events_per_s": {k: [round(r) for r in v] for k, v in rates.items()},
        "ratio_with_to_without": round(medians["with_state"] / medians["without_state"], 3),
        "references_after_a_round": references,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=6, help="concurrent writers")
    parser.add_argument("--workers", type=int, default=5, help="gunicorn workers (--http)")
    parser.add_argument(
        "--http", action="store_true", help="ingest end to end through gunicorn, not in-process"
    )
    parser.add_argument("--in-process", dest="http", action="store_false", help="the default")
    parser.add_argument(
        "--streams", choices=STREAMS, default="own",
        help="own: each client sends shipments of its own; dealt: one stream dealt batch by batch",
    )  # fmt: skip
    parser.add_argument(
        "--events-per-order-id",
        type=int,
        default=load.EVENTS_PER_ORDER_ID,
        help="fewer: more references and more open failures at the same number of events",
    )
    parser.add_argument("--ingest-only", action="store_true")
    parser.add_argument("--reads-only", action="store_true")
    parser.add_argument("--db", help="an already loaded bench database: its reads only")
    args = parser.parse_args()
    out: dict = {}
    if args.db:  # read-only use of someone's database: no load, no ingest rounds
        os.environ["DATABASE_URL"] = common.database_url(args.db)
        common.setup_django()
        out["reads"] = reads(args.db, args.runs)
        out["recompute_plan"] = recompute_plan(args.db)
        common.save("open_failures", {"database": args.db, **out})
        print(json.dumps(out, indent=2, default=str))
        return
    if not args.ingest_only:
        name = f"bench_open_{args.events}_{args.events_per_order_id}"
        if load.reusable(name, events=args.events) is None:
            common.log(f"loading {args.events:,} events into {name}")
            out["load"] = load.load(
                name, events=args.events, events_per_order_id=args.events_per_order_id
            )
        os.environ["DATABASE_URL"] = common.database_url(name)
        common.setup_django()
        out["reads"] = reads(name, args.runs)
    if args.http:
        out["ingest_http"] = ingest_http(
            args.batches, args.rounds, args.clients, args.workers, args.streams
        )
        common.save(f"open_failures_ingest_http_{args.streams}", out["ingest_http"])
    elif not args.reads_only:
        common.recreate_database(INGEST_DB)
        if "reads" in out:  # Django runs on the read database: point it at this one
            from django.db import connections

            connections["default"].close()
            connections["default"].settings_dict["NAME"] = INGEST_DB
        else:
            os.environ["DATABASE_URL"] = common.database_url(INGEST_DB)
            common.setup_django()
        out["ingest"] = ingest(args.batches, args.rounds, args.clients, args.streams)
        common.save(f"open_failures_ingest_{args.streams}", out["ingest"])
        from django.db import connections

        connections["default"].close()
        common.drop_database(INGEST_DB)
    print(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
