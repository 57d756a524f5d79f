"""A quick, reproducible ingest figure: events/s through gunicorn for 1,000-event gzip NDJSON.

    python -m bench.ingest_quick [--batches 60] [--runs 3] [--workers 3] [--clients 4]

gunicorn with the deploy config (clickpost_monitor/gunicorn_conf.py, WEB_CONCURRENCY
`--workers`) serves a fresh migrated database `bench_ingest_quick` on the app's PostgreSQL
server; `--clients` threads with keep-alive connections POST `--batches` pre-encoded bodies
(DemoTraffic records with a fixed seed, evenly spaced distinct timestamps over the last two
hours, no event_id) from one shared queue. Each run starts from empty tables; events/s is
accepted events / wall time from the first request to the last answer. One warm-up round is
not counted. It prints one line (the median of the runs first) and leaves nothing behind: the
server's log goes nowhere and the database is dropped at the end. `bench.ingest` is the full
version (a COPY baseline, CPU accounting, figures saved for docs/PERFORMANCE.md).
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import itertools
import json
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

from bench import common

DB = "bench_ingest_quick"
BATCH = 1000
SEED = 20_261_129
SPAN = timedelta(hours=2)
INGEST_PATH = "/api/v1/events/"


def encode_batches(batches: int, *, now: datetime) -> list[bytes]:
    """`batches` gzip NDJSON bodies of BATCH demo records, the same for the same `now`."""
    from demo.traffic import DemoTraffic

    traffic = DemoTraffic(now=now, days=1, per_day=batches * BATCH, seed=SEED)
    total = batches * BATCH
    step = (SPAN - timedelta(minutes=1)) / total
    lines = [
        json.dumps(traffic.record(now - SPAN + n * step), separators=(",", ":")) + "\n"
        for n in range(total)
    ]
    return [
        gzip.compress("".join(lines[i : i + BATCH]).encode(), 6) for i in range(0, total, BATCH)
    ]


def start_server(
    *, workers: int, db: str = DB, config: str = "clickpost_monitor/gunicorn_conf.py"
) -> tuple[subprocess.Popen, int]:
    port = common.free_port()
    server = subprocess.Popen(
        [
            str(common.BIN / "gunicorn"),
            "clickpost_monitor.asgi:application",
            "-c",
            config,
            "-b",
            f"127.0.0.1:{port}",
        ],
        cwd=common.ROOT,
        env=common.django_env(db, WEB_CONCURRENCY=str(workers)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    for _ in range(600):
        if server.poll() is not None:
            raise RuntimeError("gunicorn exited at start-up")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", INGEST_PATH)
            conn.getresponse().read()
            conn.close()
            return server, port
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("gunicorn did not answer within a minute")


def stop_server(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def post_all(port: int, token: str, bodies: list[bytes], *, clients: int) -> tuple[float, int]:
    """POST every body from `clients` threads taking them from one queue; (wall seconds,
    accepted events)."""
    queue = itertools.count()  # next() on a count is atomic under the GIL

    def taken() -> Iterator[bytes]:
        while (index := next(queue)) < len(bodies):
            yield bodies[index]

    return post_streams(port, token, [taken() for _ in range(clients)])


def post_streams(port: int, token: str, streams: list[Iterable[bytes]]) -> tuple[float, int]:
    """POST each stream's bodies in order, a thread and a connection per stream; (wall seconds,
    accepted events)."""
    accepted: list[int] = []
    failures: list[str] = []
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/x-ndjson",
        "Content-Encoding": "gzip",
    }

    def client(stream: Iterable[bytes]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for body in stream:
            conn.request("POST", INGEST_PATH, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read()
            if response.status == 200:
                accepted.append(json.loads(text)["accepted"])
            else:
                failures.append(f"{response.status} {text[:200]!r}")
        conn.close()

    threads = [threading.Thread(target=client, args=(stream,)) for stream in streams]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} batches failed, e.g. {failures[0]}")
    return seconds, sum(accepted)


def empty_tables(db: str = DB) -> None:
    """Every table a batch writes, so each run starts where the first did."""
    with common.connect(db) as conn:
        conn.execute(
            "TRUNCATE ingest_event, ingest_rollup_category, ingest_rollup_code, "
            "ingest_rollup_courier, ingest_rollup_account, ingest_rollup_code_daily, "
            "ingest_rollup_courier_daily, ingest_rollup_account_daily, "
            "ingest_rollup_latency_endpoint, ingest_rollup_latency_courier, "
            "ingest_open_failure, ingest_courier"
        )


def measure(*, batches: int, runs: int, workers: int, clients: int) -> list[float]:
    """events/s of each run."""
    now = datetime.now(UTC)
    bodies = encode_batches(batches, now=now)
    warmup = encode_batches(min(batches, 2 * clients), now=now - SPAN)
    common.recreate_database(DB)
    token = common.create_token(DB, scope="ingest")
    server, port = start_server(workers=workers)
    try:
        post_all(port, token, warmup, clients=clients)
        figures = []
        for _ in range(runs):
            empty_tables()
            seconds, accepted = post_all(port, token, bodies, clients=clients)
            if accepted != batches * BATCH:
                raise RuntimeError(f"{accepted} of {batches * BATCH} events were accepted")
            figures.append(accepted / seconds)
        return figures
    finally:
        stop_server(server)
        common.drop_database(DB)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=60, help="1,000-event batches a run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn WEB_CONCURRENCY")
    parser.add_argument("--clients", type=int, default=4, help="client threads")
    args = parser.parse_args()
    figures = measure(
        batches=args.batches, runs=args.runs, workers=args.workers, clients=args.clients
    )
    each = " / ".join(f"{f:,.0f}" for f in figures)
    print(
        f"{statistics.median(figures):,.0f} events/s (median of {args.runs} runs: {each}; "
        f"{args.batches} gzip NDJSON batches of {BATCH:,} events, {args.clients} clients, "
        f"{args.workers} gunicorn workers)"
    )


if __name__ == "__main__":
    sys.exit(main())
