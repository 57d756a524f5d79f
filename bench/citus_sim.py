"""The Citus plan of docs/SCALING.md, tested on one server: N databases stand in for N shards.

    .venv/bin/python -m bench.citus_sim                  # ~70 k events over 7 days, N = 1, 2, 4, 8
    CITUS_SIM_EVENTS=20000 CITUS_SIM_RUNS=3 .venv/bin/python -m bench.citus_sim

A test of the plan, not a product feature. On the app's PostgreSQL server (DATABASE_URL, else
the embedded one) it makes `bench_citus_single` and `bench_citus_shard_0..7` from one migrated
template, then:

1. Write: demo traffic (demo.traffic) is validated once by `ingest.pipeline.clean_items`. The
   single database stores all of it; for each N, every batch is split by the distribution
   column (shard = hash(event_key) mod N, standing in for Citus's hash of `slot`) and each part
   is written to its shard by `ingest.store.write_events`, the product's own one-statement
   batch: events and the rollup rows counting them land on the same shard (co-location), so
   each shard's rollups are partial sums of that shard's events. Courier names, a reference
   table in the plan, are copied to every shard afterwards.
2. Read: every read question (stats.questions, stats.selectors, stats.reports, unchanged) is
   asked of the single database, then of the N shards through a coordinator stand-in that
   replaces the read room's connection: each statement runs on every shard and the rows are
   merged (aggregates: sums of events and errors per group key; event lists: merge by
   (ts, id) and the statement's LIMIT; EXISTS: any; the timeline summary: min, max, sums; the
   weekly report: its three aggregate arms merged into temporary tables on shard 0, where the
   report's own join with the reference tables runs). The answers must equal the single
   database's (event ids aside: each shard numbers its own).
3. Measure, per question and N: median wall time with the shards asked one after another (the
   total work), and the latency if each shard were its own worker asked in parallel (per
   statement the slowest shard, plus the coordinator's merge and Python time).

Figures: bench/out/citus_sim.json and a Markdown table on stdout (docs/SCALING.md quotes it).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bench import common

SINGLE = "bench_citus_single"
TEMPLATE = "bench_citus_template"
SHARD_COUNTS = (1, 2, 4, 8)
EVENTS = int(os.environ.get("CITUS_SIM_EVENTS") or 100_000)  # nominal: nights are quieter
DAYS = 7
RUNS = int(os.environ.get("CITUS_SIM_RUNS") or 7)
BATCH = 1000
ID_STRIDE = 10**12  # shard i numbers its events from i * ID_STRIDE + 1: ids never collide


def shard_name(index: int) -> str:
    return f"bench_citus_shard_{index}"


def shard_of(event_key: str, shards: int) -> int:
    """The shard an event lives on: a stable hash of its idempotency key (retries agree)."""
    return int.from_bytes(hashlib.sha256(event_key.encode()).digest()[:8], "big") % shards


# ---------------------------------------------------------------- databases


def _maintenance_execute(*statements: str) -> None:
    with common._maintenance() as conn:
        for statement in statements:
            conn.execute(statement)


def make_template() -> None:
    common.log(f"migrating {TEMPLATE}")
    common.recreate_database(TEMPLATE)


def fresh_copy(name: str) -> None:
    common.database_url(name)  # only bench_* names
    _maintenance_execute(
        f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
        f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"',
    )


def add_alias(alias: str, name: str) -> None:
    """A Django connection alias for database `name` on the same server."""
    from django.db import connections

    connections.settings[alias] = {**connections.settings["default"], "NAME": name}
    connections.settings[alias]["TEST"] = {}


@contextmanager
def writing_to(alias: str) -> Iterator[None]:
    """ingest.store writes through Django's default connection: point it at `alias`."""
    from django.db import connections

    default = connections["default"]
    previous = default.settings_dict["NAME"]
    default.close()
    default.settings_dict["NAME"] = connections.settings[alias]["NAME"]
    try:
        yield
    finally:
        default.close()
        default.settings_dict["NAME"] = previous


# ---------------------------------------------------------------- write


def clean_traffic() -> list:
    from demo.traffic import DemoTraffic
    from ingest.pipeline import RawItem, clean_items

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    traffic = DemoTraffic(now=now, days=DAYS, per_day=EVENTS // DAYS, seed=11)
    items = [RawItem(record) for record in traffic.records()]
    clean, outcome = clean_items(items, now=now)
    assert outcome.rejected == 0, outcome.errors[:3]
    return clean


def load(alias_of_shard: list[str], events: list) -> float:
    """Write `events` in batches, each split by shard; seconds taken."""
    from ingest.store import write_events

    started = time.perf_counter()
    shards = len(alias_of_shard)
    for start in range(0, len(events), BATCH):
        parts: dict[int, list] = defaultdict(list)
        for event in events[start : start + BATCH]:
            parts[shard_of(event.event_key, shards)].append(event)
        for index, part in sorted(parts.items()):
            with writing_to(alias_of_shard[index]):
                write_events(part, token_id=None)
    return time.perf_counter() - started


def copy_reference_tables(shards: list[str]) -> None:
    """Courier names are a reference table in the plan: the same rows on every node."""
    with common.connect(SINGLE) as source:
        couriers = source.execute("SELECT cp_id, name FROM ingest_courier").fetchall()
    for name in shards:
        with common.connect(name) as conn:
            conn.execute("TRUNCATE ingest_courier")
            with conn.cursor() as cursor:
                cursor.executemany("INSERT INTO ingest_courier VALUES (%s, %s)", couriers)


def rollup_rows(name: str) -> int:
    from ingest.store import ROLLUP_TABLES

    with common.connect(name) as conn:
        return sum(
            conn.execute(f"SELECT count(*) FROM {rollup.table}").fetchone()[0]
            for rollup in ROLLUP_TABLES
        )


# ---------------------------------------------------------------- the coordinator stand-in


class Timings:
    """Shard statement times of one question: total work and slowest-shard latency."""

    def __init__(self) -> None:
        self.work = 0.0
        self.slowest = 0.0

    def statement(self, per_shard: list[float]) -> None:
        self.work += sum(per_shard)
        self.slowest += max(per_shard)


_LIMIT = re.compile(r"ORDER BY ts DESC, id DESC LIMIT %s\s*$")


def _merge_rows(sql: str, params: list, names: list[str], results: list[list[tuple]]) -> list:
    """One answer from each shard's rows, by the shape of the statement."""
    rows = [row for shard_rows in results for row in shard_rows]
    if sql.lstrip().startswith("SELECT EXISTS"):
        return [(any(row[0] for row in rows),)]
    if "min(ts), max(ts), count(*)" in sql:
        found = [row for row in rows if row[0] is not None]
        if not found:
            return [(None, None, 0, 0)]
        return [
            (
                min(r[0] for r in found),
                max(r[1] for r in found),
                sum(r[2] for r in found),
                sum(r[3] for r in found),
            )
        ]
    if _LIMIT.search(sql):
        ts, event_id = names.index("ts"), names.index("id")
        rows.sort(key=lambda row: (row[ts], row[event_id]), reverse=True)
        return rows[: params[-1]]
    if names[-2:] == ["events", "errors"]:  # an aggregate: sums per group key
        sums: dict[tuple, list[int]] = {}
        for *key, events, errors in rows:
            total = sums.setdefault(tuple(key), [0, 0])
            total[0] += events
            total[1] += errors
        return [(*key, events, errors) for key, (events, errors) in sums.items()]
    return rows  # one event by id: found on one shard at most


class FanOutCursor:
    """A DB-API cursor over every shard: execute runs the statement on each, then merges."""

    def __init__(self, aliases: list[str], timings: Timings) -> None:
        self.aliases, self.timings = aliases, timings
        self.rows: list = []
        self.description: Any = None

    def __enter__(self) -> FanOutCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def execute(self, sql: str, params: list) -> None:
        from django.db import connections

        results, times = [], []
        for alias in self.aliases:
            started = time.perf_counter()
            with connections[alias].cursor() as cursor:
                cursor.execute(sql, params)
                results.append(cursor.fetchall())
                self.description = cursor.description
            times.append(time.perf_counter() - started)
        self.timings.statement(times)
        names = [column.name for column in self.description]
        self.rows = _merge_rows(sql, params, names, results)

    def fetchall(self) -> list:
        return self.rows

    def fetchone(self) -> tuple | None:
        return self.rows[0] if self.rows else None


class FanOut:
    """Stands where the read room's connection stands (`read_connection()`)."""

    def __init__(self, aliases: list[str], timings: Timings) -> None:
        self.aliases, self.timings = aliases, timings

    def cursor(self) -> FanOutCursor:
        return FanOutCursor(self.aliases, self.timings)


@contextmanager
def coordinator(aliases: list[str], timings: Timings) -> Iterator[None]:
    """The read room asks every shard: its connection, and the weekly report's aggregate arms
    (merged into temporary tables on the first shard, where the report's join then runs)."""
    from django.db import connections

    from stats import questions, reports, selectors

    fan_out = FanOut(aliases, timings)
    first = connections[aliases[0]]
    arms = itertools.count()
    real_aggregate_query = reports.aggregate_query

    def merged_arm(**kwargs: Any) -> tuple[str, list]:
        sql, params = real_aggregate_query(**kwargs)
        with fan_out.cursor() as cursor:
            cursor.execute(sql, params)
            rows, columns = cursor.fetchall(), [c.name for c in cursor.description]
        table = f"sim_arm_{next(arms)}"
        types = ["text" if name in ("category", "account_code") else "bigint" for name in columns]
        with first.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMP TABLE {table} ("
                + ", ".join(f"{n} {t}" for n, t in zip(columns, types, strict=True))
                + ")"
            )
            if rows:
                cursor.executemany(
                    f"INSERT INTO {table} VALUES ({', '.join(['%s'] * len(columns))})", rows
                )
        return f"SELECT * FROM {table}", []

    saved = (questions.read_connection, selectors.read_connection, reports.read_connection)
    questions.read_connection = selectors.read_connection = lambda: fan_out  # type: ignore
    reports.read_connection = lambda: first  # type: ignore[assignment]
    reports.aggregate_query = merged_arm  # type: ignore[assignment]
    try:
        yield
    finally:
        questions.read_connection, selectors.read_connection, reports.read_connection = saved
        reports.aggregate_query = real_aggregate_query
        with first.cursor() as cursor:
            cursor.execute("DISCARD TEMP")


@contextmanager
def single_database() -> Iterator[None]:
    from django.db import connections

    from stats import questions, reports, selectors

    saved = (questions.read_connection, selectors.read_connection, reports.read_connection)
    questions.read_connection = selectors.read_connection = reports.read_connection = (  # type: ignore
        lambda: connections["single"]
    )
    try:
        yield
    finally:
        questions.read_connection, selectors.read_connection, reports.read_connection = saved


# ---------------------------------------------------------------- the questions


def _without_ids(value: Any) -> Any:
    """Event ids and arrival times differ between layouts (each shard numbers its own events;
    each layout was loaded at its own time): compare the rest."""
    if isinstance(value, dict):
        return {k: _without_ids(v) for k, v in value.items() if k not in ("id", "received_at")}
    if isinstance(value, list | tuple):
        return [_without_ids(v) for v in value]
    return value


def read_questions(now: datetime, sample: dict) -> dict[str, Callable[[], Any]]:
    """Every read question the pages, the read API and the report ask, with typical filters."""
    from stats import questions, reports, selectors
    from stats.window import Filters, Window

    utc, ist = ZoneInfo("UTC"), ZoneInfo("Asia/Kolkata")
    day = Window(start=now - timedelta(hours=24), end=now, tz=utc)
    week = Window(start=now - timedelta(days=DAYS), end=now, tz=ist)
    none, courier = Filters(), Filters(cp_id=(sample["cp_id"],))
    year, number, _ = (now - timedelta(days=3)).isocalendar()

    def page(filters: Filters, errors_only: bool) -> Any:
        rows, cursor = selectors.event_page(
            window=week,
            filters=filters,
            errors_only=errors_only,
            waybill=None,
            order_id=None,
            q=None,
            cursor=None,
            limit=50,
        )
        return rows, cursor is not None

    return {
        "totals (24 h)": lambda: questions.totals(window=day, filters=none),
        "timeseries hour x category (24 h)": lambda: questions.timeseries(
            window=day, interval="hour", group_by="category", filters=none
        ),
        "timeseries day x code (7 d, IST)": lambda: questions.timeseries(
            window=week, interval="day", group_by="code", filters=none
        ),
        "timeseries minute (1 h)": lambda: questions.timeseries(
            window=Window(start=now - timedelta(hours=1), end=now, tz=utc),
            interval="minute",
            group_by="none",
            filters=none,
        ),
        "breakdown by code (7 d)": lambda: questions.breakdown(
            window=week, by="code", limit=10, filters=none
        ),
        "breakdown by courier (7 d)": lambda: questions.breakdown(
            window=week, by="cp_id", limit=10, filters=none
        ),
        "breakdown by account (7 d)": lambda: questions.breakdown(
            window=week, by="account_code", limit=10, filters=none
        ),
        "breakdown by endpoint, one courier (raw, 7 d)": lambda: questions.breakdown(
            window=week, by="endpoint", limit=10, filters=courier
        ),
        "heatmap (7 d)": lambda: questions.heatmap(window=week, filters=none),
        "code counts (7 d)": lambda: questions.code_counts(window=week, filters=none),
        "event list, errors (7 d)": lambda: page(none, True),
        "event list, one courier (7 d)": lambda: page(courier, False),
        "event detail": lambda: selectors.event_detail(event_id=sample["id"], tz=utc),
        "waybill timeline": lambda: selectors.shipment_timeline(waybill=sample["waybill"]),
        "weekly report": lambda: list(reports.weekly_rows(week=f"{year}-W{number:02d}", tz=ist)),
    }


def sample_event(name: str) -> dict:
    """An error event's id, waybill and courier in database `name` (the same event_key in each
    layout: ids differ, the rest does not)."""
    with common.connect(SINGLE) as conn:
        key, waybill, cp_id = conn.execute(
            "SELECT event_key, waybill, cp_id FROM ingest_event WHERE is_error "
            "ORDER BY event_key LIMIT 1"
        ).fetchone()
    with common.connect(name) as conn:
        (event_id,) = conn.execute(
            "SELECT id FROM ingest_event WHERE event_key = %s", [key]
        ).fetchone()
    return {"id": event_id, "waybill": waybill, "cp_id": cp_id}


def sample_in(shards: list[str]) -> dict:
    for name in shards:
        try:
            return sample_event(name)
        except TypeError:  # not on this shard
            continue
    raise AssertionError("the sample event is on no shard")


# ---------------------------------------------------------------- the run


def ask(question: Callable[[], Any], scope: Callable[[], Any]) -> tuple[Any, float]:
    with scope():
        started = time.perf_counter()
        answer = question()
        return answer, time.perf_counter() - started


def build_shards(shards: int) -> tuple[list[str], list[str]]:
    """Fresh shard databases 0..shards-1 (ids numbered apart) and their Django aliases."""
    from django.db import connections

    names = [shard_name(i) for i in range(shards)]
    aliases = [f"shard{i}" for i in range(shards)]
    for index, (name, alias) in enumerate(zip(names, aliases, strict=True)):
        if alias in connections.settings:
            connections[alias].close()  # before its database is dropped
        fresh_copy(name)
        with common.connect(name) as conn:
            conn.execute(f"ALTER SEQUENCE ingest_event_id_seq RESTART {index * ID_STRIDE + 1}")
        add_alias(alias, name)
    return names, aliases


def compare_and_time(
    label: str, on_single: Callable[[], Any], on_shards: Callable[[], Any], aliases: list[str]
) -> dict[str, float]:
    """Ask one question of the single database and of the shards, side by side RUNS times
    (after one warm-up each); fail when the answers differ. Median seconds."""
    ask(on_single, single_database)
    ask(on_shards, lambda: coordinator(aliases, Timings()))
    singles, walls, latencies = [], [], []
    for _ in range(RUNS):
        expected, seconds = ask(on_single, single_database)
        singles.append(seconds)
        timings = Timings()
        answer, wall = ask(on_shards, lambda: coordinator(aliases, timings))  # noqa: B023
        walls.append(wall)
        latencies.append(wall - timings.work + timings.slowest)
        if _without_ids(answer) != _without_ids(expected):
            raise AssertionError(f"N={len(aliases)}: {label!r} differs from the single database")
    return {
        "single_s": statistics.median(singles),
        "sequential_s": statistics.median(walls),
        "parallel_s": statistics.median(latencies),
    }


def simulate(shards: int, events: list, now: datetime, single_questions: dict) -> dict:
    """Load the events onto `shards` shards and compare every question with the single
    database's answer; the figures of this N."""
    names, aliases = build_shards(shards)
    seconds = load(aliases, events)
    copy_reference_tables(names)
    sharded_questions = read_questions(now, sample_in(names))
    per_question = {
        label: compare_and_time(label, single_questions[label], question, aliases)
        for label, question in sharded_questions.items()
    }
    common.log(f"N={shards}: every answer equals the single database's")
    return {
        "load_s": seconds,
        "rollup_rows": sum(rollup_rows(name) for name in names),
        "events_per_shard": [event_count(name) for name in names],
        "questions": per_question,
    }


def event_count(name: str) -> int:
    with common.connect(name) as conn:
        return conn.execute("SELECT count(*) FROM ingest_event").fetchone()[0]


def main() -> None:
    # Django's default connection: the single database (the store writes through it, the
    # catalog and courier labels are read from it); never the template, which must stay idle.
    os.environ["DATABASE_URL"] = common.database_url(SINGLE)
    os.environ.setdefault("SECRET_KEY", common.SECRET_KEY)
    common.setup_django()
    from django.db import connections

    make_template()
    connections.close_all()
    fresh_copy(SINGLE)
    add_alias("single", SINGLE)
    events = clean_traffic()
    common.log(f"{len(events)} events over {DAYS} days")
    single_load = load(["single"], events)
    now = datetime.now(UTC)
    single_questions = read_questions(now, sample_event(SINGLE))
    figures: dict[str, Any] = {
        "events": len(events),
        "runs": RUNS,
        "machine": common.machine(),
        "single": {"load_s": single_load, "rollup_rows": rollup_rows(SINGLE)},
        "shards": {n: simulate(n, events, now, single_questions) for n in SHARD_COUNTS},
    }
    common.save("citus_sim", figures)
    print(markdown(figures))


def markdown(figures: dict) -> str:
    """The figures as docs/SCALING.md shows them: milliseconds, medians of side-by-side runs."""
    counts = list(figures["shards"])
    lines = [
        "| question | single | "
        + " | ".join(f"N={n}" for n in counts)
        + f" | N={counts[-1]} / single |",
        "| --- | ---: | " + " | ".join("---:" for _ in counts) + " | ---: |",
    ]
    for label in figures["shards"][counts[0]]["questions"]:
        runs = [figures["shards"][n]["questions"][label] for n in counts]
        single = statistics.median(run["single_s"] for run in runs)
        cells = [
            f"{run['parallel_s'] * 1000:.1f} ({run['sequential_s'] * 1000:.0f})" for run in runs
        ]
        ratio = runs[-1]["parallel_s"] / runs[-1]["single_s"]
        lines.append(
            f"| {label} | {single * 1000:.1f} | " + " | ".join(cells) + f" | {ratio:.1f}x |"
        )
    lines += [
        "",
        "| layout | load (s) | rollup rows | events per shard |",
        "| --- | ---: | ---: | --- |",
    ]
    single = figures["single"]
    lines.append(f"| single | {single['load_s']:.1f} | {single['rollup_rows']} | - |")
    for n in counts:
        shard = figures["shards"][n]
        per_shard = ", ".join(str(x) for x in shard["events_per_shard"])
        lines.append(f"| N={n} | {shard['load_s']:.1f} | {shard['rollup_rows']} | {per_shard} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
