"""Latency histograms: read time, page time, ingest cost and storage, side by side.

    python -m bench.latency [--events 1000000,10000000] [--db bench_10m] [--runs 15]
                            [--ingest-batches 20]

Per database (`bench.load`, which fills every rollup's histogram and the hourly latency
rollups; a database of the same size, loader and migrations is reused; names
`bench_latency_<size>`; `--db` names existing databases instead, migrated to this branch):
- the 30-day hourly latency series by endpoint (`stats.questions.latency_timeseries`, p50/p95/
  p99) from the hourly latency rollups, by courier and ungrouped too, and by endpoint from the
  15-minute rollups (the read before them, a few runs), and through Django's test client at
  /api/v1/stats/latency/, p50 and p90 ms;
- the overview page (30 days, grouped by endpoint) as it is (its latency chart asked after it
  loads) against the same view with `latency_timeseries` answering nothing, rounds interleaved
  so load on the machine hits both alike; and the chart's own request (/overview/latency/);
- storage per rollup row: the average row (`pg_column_size`) with its histogram and without
  it, and each rollup table's total size.
Then, on a fresh `bench_latency_ingest`: `store.write_events` of 1,000-event demo batches with
the batch statement without the hourly latency upserts and as it is, alternating (the tables
emptied before each round), events/s of the write step (medians, and the ratio per round).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from bench import common

ROLLUPS = (
    "ingest_rollup_category",
    "ingest_rollup_code",
    "ingest_rollup_courier",
    "ingest_rollup_account",
    "ingest_rollup_code_daily",
    "ingest_rollup_courier_daily",
    "ingest_rollup_account_daily",
    "ingest_rollup_latency_endpoint",
    "ingest_rollup_latency_courier",
)
INGEST_DB = "bench_latency_ingest"
ROUNDS = 6  # of each statement, alternated; the first of each warms up and is not counted


def _timed(call: Callable[[], object], *, runs: int) -> list[float]:
    for _ in range(2):
        call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def _summary(times: list[float]) -> dict:
    return {
        "p50_ms": round(common.median(times), 1),
        "p90_ms": round(common.percentile(times, 0.9), 1),
    }


# ---------------------------------------------------------------- reads (Django process)


def measure_reads(note: dict, *, runs: int) -> dict:
    common.setup_django()
    from unittest import mock
    from zoneinfo import ZoneInfo

    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client

    from stats import questions
    from stats.window import Filters, Window
    from tokens.auth import create_token

    window = Window(
        start=datetime.fromisoformat(note["begin"]),
        end=datetime.fromisoformat(note["end"]),
        tz=ZoneInfo("UTC"),
    )
    span = {"start": note["begin"], "end": note["end"], "tz": "UTC"}
    _, secret = create_token(name=f"bench-latency-{time.time_ns()}", scopes=["read"])
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    user, _ = User.objects.get_or_create(username="bench-latency")
    page = Client()
    page.force_login(user)

    def ok(client: Client, path: str) -> None:
        response = client.get(path)
        assert response.status_code == 200, response.content[:300]

    def series(group_by: str = "endpoint") -> object:
        return questions.latency_timeseries(
            window=window,
            interval="hour",
            group_by=group_by,
            filters=Filters(),
            percentiles=(50, 95, 99),
        )

    def quarter_hours() -> object:  # the read before the hourly rollups
        with mock.patch.object(questions, "hourly_latency_query", lambda **kwargs: None):
            return series()

    latency_path = "/api/v1/stats/latency/?" + urlencode(
        span | {"interval": "hour", "group_by": "endpoint", "percentiles": "50,95,99"}
    )
    overview = "/?" + urlencode(span | {"range": "custom", "group": "endpoint"})
    answer = series()
    assert answer == quarter_hours(), "the hourly rollups must answer what the quarter hours do"
    results: dict = {
        "series_stats": _summary(_timed(series, runs=runs)),
        "series_by_courier": _summary(_timed(lambda: series("cp_id"), runs=runs)),
        "series_ungrouped": _summary(_timed(lambda: series("none"), runs=runs)),
        "series_from_quarter_hours": _summary(_timed(quarter_hours, runs=max(3, runs // 5))),
        "series_api": _summary(_timed(lambda: ok(api, latency_path), runs=runs)),
        "series_points": len(answer["totals"]) * (1 + len(answer["series"])),  # type: ignore[index]
    }
    real = questions.latency_timeseries

    def nothing(**kwargs: object) -> dict:
        return {"totals": [], "series": []}

    with_chart, without_chart, chart = [], [], []
    chart_path = "/overview/latency/?" + urlencode(span | {"range": "custom", "group": "endpoint"})
    for round_ in range(runs + 2):
        for label, times in (("with", with_chart), ("without", without_chart)):
            patch = mock.patch.object(
                questions, "latency_timeseries", real if label == "with" else nothing
            )
            with patch:
                started = time.perf_counter()
                ok(page, overview)
                if round_ >= 2:
                    times.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        ok(page, chart_path)
        if round_ >= 2:
            chart.append((time.perf_counter() - started) * 1000)
    results["overview_with_chart"] = _summary(with_chart)
    results["overview_without_chart"] = _summary(without_chart)
    results["overview_ratio"] = round(common.median(with_chart) / common.median(without_chart), 3)
    results["overview_chart_request"] = _summary(chart)
    results["storage"] = _storage(connection)
    return results


def _storage(connection) -> dict:
    """Per rollup table: rows, the average row with and without its histogram (bytes), the
    average histogram's elements, and the table's total size (MB)."""
    out = {}
    with connection.cursor() as cursor:
        for table in ROLLUPS:
            cursor.execute(
                f"SELECT count(*), avg(pg_column_size(t.*)), avg(pg_column_size(t.latency_hist)),"
                f" avg(cardinality(t.latency_hist)), pg_total_relation_size(%s) FROM {table} t",
                [table],
            )
            rows, row_bytes, hist_bytes, elements, total = cursor.fetchone()
            out[table] = {
                "rows": rows,
                "row_bytes_with": round(float(row_bytes or 0), 1),
                # The empty array '{}' a row without the column would not hold at all.
                "row_bytes_without": round(float(row_bytes or 0) - float(hist_bytes or 0), 1),
                "hist_elements": round(float(elements or 0), 1),
                "table_mb": round(total / 2**20, 1),
            }
    return out


# ---------------------------------------------------------------- ingest (Django process)


def measure_ingest(*, batches: int) -> dict:
    common.setup_django()
    from django.db import connection
    from django.utils import timezone

    from demo.traffic import DemoTraffic
    from ingest import store
    from ingest.catalog import current_catalog
    from ingest.events import clean_event

    now = timezone.now()
    traffic = DemoTraffic(now=now, days=1, per_day=batches * 1000, seed=24)
    catalog = current_catalog()
    events = [
        clean_event(
            traffic.record(now - timedelta(minutes=90) + n * timedelta(seconds=0.25)),
            now=now,
            catalog=catalog,
        )  # fmt: skip
        for n in range(batches * 1000)
    ]
    chunks = [events[i : i + 1000] for i in range(0, len(events), 1000)]
    new = store._WRITE_BATCH
    hourly = {name for name, _ in store._LATENCY_ROLLUPS}
    old = store._batch_statement(
        [cte for cte in store._AFTER_INSERTED if cte[0] not in hourly], legacy=False
    )
    assert "ingest_rollup_latency" not in old and "ingest_rollup_latency" in new
    # The statement before this branch: no hourly upserts, each rollup bucketing every latency.
    once = ",\n              -- Each row's latency bucket, once for every rollup that reads it."
    once += "\n              latency_bucket(latency_ms) AS lb"
    branch = old.replace(once, "").replace(
        ", lb, count(*) AS n,", ", latency_bucket(latency_ms) AS lb, count(*) AS n,"
    )
    assert once in old and branch.count("latency_bucket(latency_ms)") == len(store.ROLLUP_TABLES)
    rates: dict[str, list[float]] = {"before": [], "after": [], "main": []}
    tables = ", ".join(["ingest_event", *ROLLUPS, "ingest_open_failure"])
    for round_ in range(ROUNDS):
        # Alternated, and which goes first alternates too: a round's order favours neither.
        order = (("before", old), ("after", new), ("main", branch))
        for label, statement in order if round_ % 2 else order[::-1]:
            with connection.cursor() as cursor:
                cursor.execute(f"TRUNCATE {tables}")
            store._WRITE_BATCH = statement
            started = time.perf_counter()
            for chunk in chunks:
                store.write_events(chunk, token_id=None)
            seconds = time.perf_counter() - started
            if round_:  # the first round warms caches and partitions
                rates[label].append(len(events) / seconds)
    store._WRITE_BATCH = new
    before, after = statistics.median(rates["before"]), statistics.median(rates["after"])
    return {
        "events": len(events),
        "before_events_per_s": round(before),
        "after_events_per_s": round(after),
        "ratio": round(after / before, 3),
        "runs": {k: [round(v) for v in values] for k, values in rates.items()},
        "main_events_per_s": round(statistics.median(rates["main"])),
        "after_vs_main": round(after / statistics.median(rates["main"]), 3),
        "paired_ratios": [
            round(a / b, 3) for a, b in zip(rates["after"], rates["before"], strict=True)
        ],
    }


# ---------------------------------------------------------------- driver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", default="1000000,10000000")
    parser.add_argument(
        "--db",
        default="",
        help="comma-separated existing databases to measure (as loaded; migrate them first)",
    )
    parser.add_argument("--no-ingest", action="store_true", help="skip the ingest step")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--ingest-batches", type=int, default=20)
    parser.add_argument("--reads", help=argparse.SUPPRESS)  # child process: the load note
    parser.add_argument("--ingest", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reads:
        note = json.loads(args.reads)
        figures = measure_reads(note, runs=args.runs)
        common.save(f"latency_{note['database']}", {**figures, "events": note.get("stored")})
        print(json.dumps(figures))
        return
    if args.ingest:
        print(json.dumps(measure_ingest(batches=args.ingest_batches)))
        return
    from bench import load

    for name in [n for n in args.db.split(",") if n]:
        note = common.database_note(name) or {}
        assert {"begin", "end"} <= set(note), f"{name} has no load note (bench.load writes it)"
        common.log(f"{name}: {note.get('stored')} events (existing); measuring reads")
        note = {**note, "database": name}
        common.run_step("latency", name, "--reads", json.dumps(note), "--runs", str(args.runs))
    for events in [int(n) for n in args.events.split(",") if n]:  # "": the ingest step only
        name = f"bench_latency_{events}"
        note = load.reusable(name, events=events)
        if note is None:
            common.log(f"loading {events} events into {name}")
            note = load.load(name, events=events)
        common.log(f"{name}: {note['stored']} events in {note['seconds']} s; measuring reads")
        note = {**note, "database": name}
        common.run_step("latency", name, "--reads", json.dumps(note), "--runs", str(args.runs))
    if args.no_ingest:
        return
    common.recreate_database(INGEST_DB)
    common.run_step("latency", INGEST_DB, "--ingest", "--ingest-batches", str(args.ingest_batches))
    common.drop_database(INGEST_DB)
    common.log(f"done at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")


if __name__ == "__main__":
    main()
