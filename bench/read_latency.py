"""Latency of the overview's aggregate queries on a million events, in-process (no HTTP).

    python -m bench.read_latency [--db bench_read_latency] [--events 1000000] [--runs 15]

Loading: `bench.load` (the suite's loader): each UTC day of raw events by one INSERT ... SELECT
FROM generate_series into the day's partition (every index of `ingest_event` built on attach),
then every rollup by one INSERT ... SELECT ... GROUP BY over those rows, the aggregation
`store.write_events` runs on what a batch inserted. A database loaded earlier with the same
size, loader and migrations is reused.

Measuring (a Django process on that database): the three overview queries over the loaded
30 days, each asked twice to warm up and then `--runs` times, by
- `stats.questions` itself (the SQL and the Python that shapes the answer), and
- Django's test client with a `read` token (adds parameter parsing, auth and JSON rendering),
and prints p50 and p90 in milliseconds. bench.reads times the same paths over HTTP/gunicorn.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlencode

from bench import common

DEFAULT_DB = "bench_read_latency"


def _timed(call: Callable[[], object], *, runs: int) -> dict:
    for _ in range(2):
        call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": round(common.median(times), 1),
        "p90_ms": round(common.percentile(times, 0.9), 1),
    }


def _queries(note: dict) -> dict[str, tuple[Callable[[], object], str]]:
    """name -> (the stats call, the API path asking the same question)."""
    from zoneinfo import ZoneInfo

    from stats import questions as stats
    from stats.window import Filters, Window

    window = Window(
        start=datetime.fromisoformat(note["begin"]),
        end=datetime.fromisoformat(note["end"]),
        tz=ZoneInfo("UTC"),
    )
    span = {"start": note["begin"], "end": note["end"], "tz": "UTC"}
    none = Filters()
    return {
        "timeseries 30 d hourly by category": (
            lambda: stats.timeseries(
                window=window, interval="hour", group_by="category", filters=none
            ),
            "/api/v1/stats/timeseries/?"
            + urlencode(span | {"interval": "hour", "group_by": "category"}),
        ),
        "breakdown by code, 30 d": (
            lambda: stats.breakdown(window=window, by="code", limit=10, filters=none),
            "/api/v1/stats/breakdown/?" + urlencode(span | {"by": "code"}),
        ),
        "breakdown by courier, 30 d": (
            lambda: stats.breakdown(window=window, by="cp_id", limit=10, filters=none),
            "/api/v1/stats/breakdown/?" + urlencode(span | {"by": "cp_id"}),
        ),
    }


def measure(note: dict, *, runs: int) -> dict:
    """In a Django process on the loaded database: p50/p90 per query, both ways."""
    common.setup_django()
    from django.test import Client

    from tokens.auth import create_token

    _, secret = create_token(name=f"bench-read-latency-{time.time_ns()}", scopes=["read"])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    def get(path: str) -> None:
        response = client.get(path)
        assert response.status_code == 200, response.content[:300]

    results = {}
    for name, (call, path) in _queries(note).items():
        results[name] = {
            "stats": _timed(call, runs=runs),
            "test_client": _timed(lambda path=path: get(path), runs=runs),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=DEFAULT_DB)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # the child process: the note
    args = parser.parse_args()
    if args.measure:
        results = measure(json.loads(args.measure), runs=args.runs)
        for name, ways in results.items():
            cells = "  ".join(
                f"{way}: p50 {t['p50_ms']} ms, p90 {t['p90_ms']} ms" for way, t in ways.items()
            )
            print(f"{name:<38} {cells}")
        print(json.dumps(results))
        return
    from bench import load

    note = load.reusable(args.db, events=args.events)
    if note is None:
        common.log(f"loading {args.events} events into {args.db}")
        note = load.load(args.db, events=args.events)
    common.log(f"{args.db}: {note['stored']} events, {note['begin']} .. {note['end']}")
    common.run_step(
        "read_latency", args.db, "--measure", json.dumps(note), "--runs", str(args.runs)
    )


if __name__ == "__main__":
    main()
