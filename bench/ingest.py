"""Ingest, end to end: gunicorn + concurrent HTTP clients posting gzip NDJSON batches, against
a plain psycopg 3 COPY of the same events into a bare table, in the same run.

    python -m bench.ingest --events 1000000 [--runs 3] [--workers 5 --clients 10 | --sweep 3x6,5x10]

What is timed, and what is not:
- Events are DemoTraffic records (demo.traffic) at evenly spaced, distinct millisecond
  timestamps over the last `--span-hours`, no `event_id` (the app derives the content hash),
  pre-encoded as 1,000-event gzip NDJSON bodies. Encoding is not timed.
- The app: gunicorn with the deploy config (clickpost_monitor/gunicorn_conf.py), WEB_CONCURRENCY
  `--workers` (or the fastest of the `--sweep` pairs, each timed once on the first
  `--sweep-events` events), on the fresh migrated database `bench_ingest`; `--clients` threads
  take the next batch from one shared queue (so concurrent batches are neighbours in time and
  meet on the same rollup rows, as live traffic does) and POST it (gunicorn's sync workers
  close the connection after each answer: one local TCP connection per batch).
  events/s = events / wall time from the first request to the last answer. A 429 or 503 would
  be retried after Retry-After, as shippers do, and counted. Each run starts from empty tables
  (the day partitions are created once, ahead, as `partitions.ensure_partitions_ahead` does in a
  deployment).
- The baseline: the same events as the app stores them (each record passed through
  `ingest.events.clean_event` beforehand, untimed: same event_key, endpoint, category,
  redacted JSON), rendered once as COPY text, then `COPY bare_events FROM STDIN` with psycopg 3
  over 1 and over 2 connections at once (2 cores). `bare_events` is `LIKE ingest_event`: the
  same columns, unpartitioned, logged, no key, no index, no rollups, no dedupe. The ratio is
  ours / the faster COPY of the same round, so both see the same machine noise.
- The issue's baseline too (`ratio_to_ingest_event_copy`): the same rows COPYed over one
  connection into `ingest_event` itself (partitioned, its key and indexes; no dedupe, no
  rollups), in the same round.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import itertools
import json
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing import Pool
from pathlib import Path

from bench import common
from ingest.latency import COUNT_BITS

# BENCH_INGEST_DB: another bench_* name, so that two checkouts on one server do not collide;
# BENCH_INGEST_BATCH: events per request (10 is how OTLP and Loki clients push).
DB = os.environ.get("BENCH_INGEST_DB", "bench_ingest")
BATCH = int(os.environ.get("BENCH_INGEST_BATCH", "1000"))
SEED = 20_261_129
INGEST_PATH = "/api/v1/events/"
COPY_COLUMNS = (
    "id",
    "ts",
    "received_at",
    "event_key",
    "endpoint",
    "http_status",
    "code",
    "category",
    "is_error",
    "cp_id",
    "courier",
    "waybill",
    "order_id",
    "account_code",
    "message",
    "latency_ms",
    "request",
    "response",
    "extra",
    "token_id",
)
MAX_RETRIES = 5
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


# ---------------------------------------------------------------- the events, pre-encoded


@dataclass(frozen=True)
class Plan:
    events: int
    now: datetime
    span: timedelta

    def at(self, n: int) -> datetime:
        step = (self.span - timedelta(minutes=5)) / self.events
        return self.now - self.span + n * step


def _encode_batch(job: tuple[Plan, int, int]) -> tuple[bytes, bytes, int]:
    """Batch `index`: its gzip NDJSON body, its rows as COPY text, its NDJSON size."""
    from demo.traffic import DemoTraffic
    from ingest.catalog import SEED_BY_CODE
    from ingest.events import clean_event

    plan, index, seed = job
    traffic = DemoTraffic(now=plan.now, days=2, per_day=plan.events, seed=seed + index)
    first = index * BATCH
    records = [traffic.record(plan.at(n)) for n in range(first, min(first + BATCH, plan.events))]
    ndjson = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records).encode()
    horizon = plan.now - timedelta(days=90)  # a pool process has no Django settings to ask
    clean = [clean_event(r, now=plan.now, catalog=SEED_BY_CODE, horizon=horizon) for r in records]
    copy_text = "".join(
        _copy_line(first + k + 1, event, received_at=plan.now) for k, event in enumerate(clean)
    )
    return gzip.compress(ndjson, 6), copy_text.encode(), len(ndjson)


def _copy_line(event_id: int, event, *, received_at: datetime) -> str:
    values = (
        event_id,
        event.ts,
        received_at,
        event.event_key,
        event.endpoint,
        event.http_status,
        event.code,
        event.category,
        event.is_error,
        event.cp_id,
        event.courier,
        event.waybill,
        event.order_id,
        event.account_code,
        event.message,
        event.latency_ms,
        _json(event.request),
        _json(event.response),
        _json(event.extra),
        None,
    )
    return "\t".join(_copy_text(v) for v in values) + "\n"


def _json(value: object) -> str | None:
    # As store.py sends it: compact JSON text, cast to jsonb by the server.
    return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _copy_text(value: object) -> str:
    """One value in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    if isinstance(value, str):
        text = text.translate(_COPY_ESCAPES)
    return text


def encode_all(plan: Plan, *, seed: int) -> tuple[list[bytes], list[bytes], int]:
    batches = -(-plan.events // BATCH)
    with Pool(os.cpu_count()) as pool:
        parts = pool.map(_encode_batch, [(plan, i, seed) for i in range(batches)], chunksize=8)
    return [p[0] for p in parts], [p[1] for p in parts], sum(p[2] for p in parts)


# ---------------------------------------------------------------- the app over HTTP


@dataclass
class PostTotals:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    retries: int = 0
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, answer: dict) -> None:
        with self.lock:
            self.accepted += answer["accepted"]
            self.duplicates += answer["duplicates"]
            self.rejected += answer["rejected"]


def _post(conn_box: list, port: int, token: str, body: bytes, totals: PostTotals) -> None:
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/x-ndjson",
        "Content-Encoding": "gzip",
    }
    for attempt in range(MAX_RETRIES + 1):
        try:
            conn_box[0].request("POST", INGEST_PATH, body=body, headers=headers)
            response = conn_box[0].getresponse()
            text = response.read()
        except (OSError, http.client.HTTPException):
            # A connection the server closed early: reconnect and send again (a retry
            # of a batch that did get stored would show as duplicates, and fail the checks).
            conn_box[0].close()
            conn_box[0] = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            continue
        if response.status == 200:
            totals.add(json.loads(text))
            return
        if response.status in (429, 503) and attempt < MAX_RETRIES:
            with totals.lock:
                totals.retries += 1
            time.sleep(float(response.getheader("Retry-After") or 1))
            continue
        with totals.lock:
            totals.failures.append(f"{response.status}: {text[:300]!r}")
        return
    with totals.lock:
        totals.failures.append("gave up after retries")


def post_all(port: int, token: str, bodies: list[bytes], *, clients: int) -> tuple[float, dict]:
    """POST every body with `clients` threads; returns (wall seconds, totals)."""
    queue = itertools.count()  # next(count) is atomic under the GIL: one shared queue
    totals = PostTotals()
    connections = [
        [http.client.HTTPConnection("127.0.0.1", port, timeout=120)] for _ in range(clients)
    ]
    for box in connections:
        box[0].connect()

    def client(box: list) -> None:
        while (index := next(queue)) < len(bodies):
            _post(box, port, token, bodies[index], totals)

    threads = [threading.Thread(target=client, args=(box,)) for box in connections]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    for box in connections:
        box[0].close()
    summary = {k: getattr(totals, k) for k in ("accepted", "duplicates", "rejected", "retries")}
    summary["failures"] = totals.failures[:5]
    return seconds, summary


# ---------------------------------------------------------------- the COPY baseline


def copy_all(chunks: list[bytes], *, streams: int, table: str = "bare_events") -> float:
    """COPY the pre-rendered rows into `table` over `streams` connections at once; seconds."""
    columns = ", ".join(COPY_COLUMNS)
    size = -(-len(chunks) // streams)
    parts = [chunks[i : i + size] for i in range(0, len(chunks), size)]
    connections = [common.connect(DB) for _ in parts]

    def copy(conn, part: list[bytes]) -> None:
        with conn.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as cp:
            for chunk in part:
                cp.write(chunk)

    threads = [
        threading.Thread(target=copy, args=pair) for pair in zip(connections, parts, strict=True)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    for conn in connections:
        conn.close()
    return seconds


# ---------------------------------------------------------------- the database


def _written_tables(conn) -> list[str]:
    """Every table the ingest path writes: raw events, each rollup, courier names."""
    rows = conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
        "AND (tablename LIKE 'ingest\\_rollup%' OR tablename = 'ingest_courier') "
        "ORDER BY tablename"
    ).fetchall()
    return ["ingest_event", *(name for (name,) in rows)]


def truncate_app_tables() -> None:
    with common.connect(DB) as conn:
        conn.execute(f"TRUNCATE {', '.join(_written_tables(conn))}")


LATENCY_ONLY = "ingest_rollup_latency_"  # hourly rollups counting calls with a latency only


def stored_counts() -> dict:
    """Raw rows, and the events each rollup counts: all must equal the events posted, but the
    latency-only rollups', which must equal the raw rows with a latency (`with_latency`)."""
    with common.connect(DB) as conn:
        raw, timed = conn.execute("SELECT count(*), count(latency_ms) FROM ingest_event").fetchone()
        counts = {"ingest_event": raw}
        for table in _written_tables(conn):
            if table.startswith(LATENCY_ONLY):
                total = conn.execute(
                    f"SELECT coalesce(sum(e & ((1::bigint << {COUNT_BITS}) - 1)), 0) "
                    f"FROM {table}, unnest(latency_hist) AS e"
                ).fetchone()
                counts[table] = int(total[0])
            elif table.startswith("ingest_rollup"):
                total = conn.execute(f"SELECT coalesce(sum(events), 0) FROM {table}").fetchone()
                counts[table] = int(total[0])
    return {**counts, "with_latency": timed}


def counts_agree(counts: dict, expected: int) -> bool:
    """Every table counts every event posted (the latency-only ones, those with a latency)."""
    timed = counts["with_latency"]
    return all(
        n == (timed if table.startswith(LATENCY_ONLY) else expected)
        for table, n in counts.items()
        if table != "with_latency"
    )


def prepare_database(plan: Plan) -> str:
    """A fresh migrated `bench_ingest` with the partitions of the span, `bare_events`, a token."""
    common.recreate_database(DB)
    first, last = plan.at(0).date(), plan.now.date()
    common.manage(
        DB,
        "shell",
        "-c",
        "from datetime import date, timedelta\n"
        "try:\n    from ingest import partitions as store\n"  # the tree before them: in store
        "except ImportError:\n    from ingest import store\n"
        f"first, last = date.fromisoformat('{first}'), date.fromisoformat('{last}'); "
        "store.ensure_partitions(first + timedelta(days=n) "
        "for n in range((last - first).days + 2))",
    )
    with common.connect(DB) as conn:
        conn.execute("CREATE TABLE bare_events (LIKE ingest_event)")
    return common.create_token(DB, scope="ingest")


# ---------------------------------------------------------------- CPU accounting


def _stat(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def _cpu_seconds(pid: int) -> float:
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") if fields else 0.0


def _reaped_cpu_seconds(pid: int) -> float:
    """The CPU of `pid`'s children that ended and were waited for (cutime + cstime)."""
    fields = _stat(pid)
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK") if fields else 0.0


def _postgres_pids() -> list[int]:
    with common.connect(DB) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() OR datname IS NULL"
        ).fetchall()
        return [pid for (pid,) in rows]


def _postmaster(pids: list[int]) -> int | None:
    """PostgreSQL's postmaster: the parent of its backends (None when it is not local)."""
    for pid in pids:
        fields = _stat(pid)
        if fields:
            return int(fields[1])
    return None


class _ProcessGroup:
    """The CPU used by a parent's children over a span, those that ended in it too: gunicorn
    recycles a worker after `max_requests` (a 10-event run ends several), and a backend ends
    with its connection; an ended child's CPU moves to its parent's cutime + cstime."""

    def __init__(self, parent: int | None, children: list[int]) -> None:
        self.parent = parent
        self.reaped = _reaped_cpu_seconds(parent) if parent else 0.0
        self.before = {pid: _cpu_seconds(pid) for pid in children}

    def used(self, children: list[int]) -> float:
        alive = set(children)
        reaped = _reaped_cpu_seconds(self.parent) - self.reaped if self.parent else 0.0
        running = sum(_cpu_seconds(pid) - self.before.get(pid, 0.0) for pid in alive)
        # An ended child's whole life is in `reaped`: what it had used before the span is not.
        ended = sum(cpu for pid, cpu in self.before.items() if pid not in alive)
        return reaped + running - ended


class CpuMeter:
    """CPU seconds used by the gunicorn workers, by PostgreSQL and by this client process.

    Each counts its processes alive at the end (PostgreSQL's: persistent web connections, WAL
    writer, checkpointer...) and those that ended in the span (a recycled worker, a closed
    connection: through their parent). PostgreSQL's reads 0 when the server is on another
    machine; its ended processes are any database's (the machine is quiet for a bench).
    """

    def __init__(self, server: common.Gunicorn) -> None:
        self.server = server

    def __enter__(self) -> CpuMeter:
        postgres = _postgres_pids()
        self.workers = _ProcessGroup(self.server.process.pid, self.server.worker_pids())
        self.postgres = _ProcessGroup(_postmaster(postgres), postgres)
        self.client_before = sum(os.times()[:2])
        return self

    def __exit__(self, *exc: object) -> None:
        workers = self.server.worker_pids()
        postgres = [pid for pid in _postgres_pids() if pid not in workers]
        self.result = {
            "app_workers": round(self.workers.used(workers), 1),
            "postgresql": round(self.postgres.used(postgres), 1),
            "client": round(sum(os.times()[:2]) - self.client_before, 1),
        }


# ---------------------------------------------------------------- the run


def run(
    *,
    events: int,
    runs: int,
    workers: int,
    clients: int,
    span_hours: float,
    sweep: list[tuple[int, int]],
    sweep_events: int,
) -> dict:
    plan = Plan(events=events, now=datetime.now(UTC), span=timedelta(hours=span_hours))
    common.log(f"ingest: encoding {events:,} events into {BATCH:,}-event gzip NDJSON batches")
    bodies, copy_chunks, ndjson_bytes = encode_all(plan, seed=SEED)
    most_workers = max([workers, *(w for w, _ in sweep)])
    warmup_plan = Plan(events=min(events, 4 * BATCH * most_workers), now=plan.now, span=plan.span)
    warmup, _, _ = encode_all(warmup_plan, seed=SEED + 10**6)
    token = prepare_database(plan)
    swept = []
    if sweep:
        swept = sweep_configs(token, bodies[: -(-sweep_events // BATCH)], warmup, sweep)
        best = max(swept, key=lambda r: r["events_per_s"])
        workers, clients = best["workers"], best["clients"]
        common.log(f"ingest: the fastest configuration is {workers} workers, {clients} clients")
    rounds = []
    with common.Gunicorn(DB, workers=workers, tag="ingest") as server:
        post_all(server.port, token, warmup, clients=clients)
        for round_no in range(1, runs + 1):
            rounds.append(
                _round(server, token, bodies, copy_chunks, clients=clients, events=events)
            )
            _log_round(round_no, rounds[-1])
    result = {
        "events": events,
        "batch": BATCH,
        "batches": len(bodies),
        "workers": workers,
        "clients": clients,
        "runs": runs,
        "span_hours": span_hours,
        "ndjson_bytes": ndjson_bytes,
        "gzip_bytes": sum(map(len, bodies)),
        "copy_bytes": sum(map(len, copy_chunks)),
        "rounds": rounds,
        "app_events_per_s": common.median(r["app_events_per_s"] for r in rounds),
        "copy_events_per_s": {
            s: common.median(r["copy"][s]["events_per_s"] for r in rounds) for s in ("1", "2")
        },
        "copy_into_ingest_event_per_s": common.median(
            r["copy_into_ingest_event"]["events_per_s"] for r in rounds
        ),
        "ratio": common.median(r["ratio"] for r in rounds),
        "ratio_to_ingest_event_copy": common.median(
            r["ratio_to_ingest_event_copy"] for r in rounds
        ),
    }
    result["sweep"] = swept
    result["checks_passed"] = all(r["checks_passed"] for r in rounds)
    return result


def sweep_configs(token: str, bodies, warmup, configs: list[tuple[int, int]]) -> list[dict]:
    """One short timed run per (workers, clients): which deployment to measure."""
    out = []
    for workers, clients in configs:
        with common.Gunicorn(DB, workers=workers, tag=f"ingest-{workers}x{clients}") as server:
            post_all(server.port, token, warmup, clients=clients)
            truncate_app_tables()
            seconds, answers = post_all(server.port, token, bodies, clients=clients)
        out.append(
            {
                "workers": workers,
                "clients": clients,
                "events": answers["accepted"],
                "events_per_s": round(answers["accepted"] / seconds),
                "failures": answers["failures"],
            }
        )
        common.log(f"ingest sweep: {out[-1]}")
    truncate_app_tables()
    return out


def parse_sweep(text: str) -> list[tuple[int, int]]:
    """ "3x6,4x8" -> [(3, 6), (4, 8)]: gunicorn workers x concurrent clients."""
    pairs = [item.strip().lower().split("x") for item in text.split(",") if item.strip()]
    return [(int(w), int(c)) for w, c in pairs]


def _round(server, token: str, bodies, copy_chunks, *, clients: int, events: int) -> dict:
    truncate_app_tables()
    with CpuMeter(server) as meter:
        seconds, answers = post_all(server.port, token, bodies, clients=clients)
    counts = stored_counts()
    expected = answers["accepted"] + answers["duplicates"] + answers["rejected"]
    copy = {}
    for streams in (1, 2):
        with common.connect(DB) as conn:
            conn.execute("TRUNCATE bare_events")
        copy_seconds = copy_all(copy_chunks, streams=streams)
        with common.connect(DB) as conn:
            copied = conn.execute("SELECT count(*) FROM bare_events").fetchone()[0]
        copy[str(streams)] = {
            "seconds": round(copy_seconds, 3),
            "events_per_s": round(copied / copy_seconds),
            "rows": copied,
        }
    # Not the baseline, a diagnosis: the same COPY into the app's own table (partitioned, with
    # its key and indexes, no dedupe, no rollups) tells the indexes' cost from the rest.
    truncate_app_tables()
    indexed_seconds = copy_all(copy_chunks, streams=1, table="ingest_event")
    indexed_rows = stored_counts()["ingest_event"]
    truncate_app_tables()
    best = max(copy.values(), key=lambda c: c["events_per_s"])
    app_eps = round(answers["accepted"] / seconds)
    checks = (
        expected == events
        and not answers["failures"]
        and answers["duplicates"] == 0
        and answers["rejected"] == 0
        and counts_agree(counts, expected)
        and all(c["rows"] == expected for c in copy.values())
        and indexed_rows == expected
    )
    return {
        "app_seconds": round(seconds, 3),
        "app_events_per_s": app_eps,
        "answers": answers,
        "stored": counts,
        "cpu_seconds": meter.result,
        "copy": copy,
        "copy_into_ingest_event": {
            "seconds": round(indexed_seconds, 3),
            "events_per_s": round(indexed_rows / indexed_seconds),
            "rows": indexed_rows,
        },
        "ratio": round(app_eps / best["events_per_s"], 4),
        # The issue's own baseline: COPY of the same rows into ingest_event.
        "ratio_to_ingest_event_copy": round(app_eps * indexed_seconds / indexed_rows, 4),
        "checks_passed": bool(checks),
    }


def _log_round(round_no: int, r: dict) -> None:
    common.log(
        f"ingest round {round_no}: app {r['app_events_per_s']:,} events/s "
        f"({r['app_seconds']} s; cpu {r['cpu_seconds']}), "
        f"COPY x1 {r['copy']['1']['events_per_s']:,}/s, x2 {r['copy']['2']['events_per_s']:,}/s,"
        f" COPY into ingest_event {r['copy_into_ingest_event']['events_per_s']:,}/s,"
        f" ratio {r['ratio']:.3f}, checks {'ok' if r['checks_passed'] else 'FAILED'}"
    )
    if not r["checks_passed"]:
        common.log(f"  answers {r['answers']}; stored {r['stored']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=5, help="gunicorn WEB_CONCURRENCY")
    parser.add_argument("--clients", type=int, default=10, help="concurrent HTTP clients")
    parser.add_argument(
        "--sweep",
        default="",
        help="first time WORKERSxCLIENTS pairs (e.g. 3x6,4x8,5x10) on --sweep-events events and "
        "measure the fastest (instead of --workers and --clients)",
    )
    parser.add_argument("--sweep-events", type=int, default=100_000)
    parser.add_argument("--span-hours", type=float, default=48)
    args = parser.parse_args()
    result = run(
        events=args.events,
        runs=args.runs,
        workers=args.workers,
        clients=args.clients,
        span_hours=args.span_hours,
        sweep=parse_sweep(args.sweep),
        sweep_events=min(args.sweep_events, args.events),
    )
    common.save(os.environ.get("BENCH_INGEST_FIGURES", "ingest"), result)
    common.log(
        f"ingest: {result['app_events_per_s']:,} events/s through the app, COPY "
        f"{max(result['copy_events_per_s'].values()):,}/s, ratio {result['ratio']:.3f} "
        f"(median of {args.runs}); checks {'ok' if result['checks_passed'] else 'FAILED'}"
    )


if __name__ == "__main__":
    main()
