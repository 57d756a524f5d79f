"""The one SQL builder of aggregates, over one of five sources (`choose_source` decides which):

- the 15-minute rollups, narrowest first: `ingest_rollup_category` (category only),
  `ingest_rollup_code` (endpoint, category, code), `ingest_rollup_courier` (cp_id, category,
  code), `ingest_rollup_account` (account_code, category, code): the first whose dimensions
  cover the grouping and every filter;
- the raw `ingest_event` rows when none covers them (e.g. filter cp_id, group by endpoint) or
  when the interval is finer than the rollups (`minute`), with the same SQL shape. Raw rows are
  read within the window and never before the retention horizon (`retention_window`), so one
  query opens (and locks) only the partitions that can hold its rows.

The code, courier and account rollups each have a daily twin (`*_daily`, `bucket` at UTC
midnight). When a window holds whole UTC days that no bucket edge splits (every breakdown or
total those families answer; a timeseries only when its edges are UTC midnights),
`aggregate_query` reads those days from the daily table and the partial days at either end
from the 15-minute table, as one UNION ALL feeding the same aggregation: the same counts from
about 1/96 of the rows, exact in every zone because the window's edges are quarter hours.

Timeseries rows are assigned to buckets with `width_bucket(time, edges)` over the edges of
stats.buckets.bucket_starts. Identifiers come only from `Source` definitions and `DIMENSIONS`;
values are always parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from ingest.latency import COUNT_BITS, COUNT_MASK
from stats.replica import read_connection
from stats.window import DIMENSIONS, Filters, Window, retention_window


@dataclass(frozen=True)
class Source:
    """A table that can answer counts: its time column, its dimensions and its measures.

    `daily` names the twin keyed like `table` per UTC day (`bucket` at midnight UTC), if any.
    """

    table: str
    time_column: str
    dims: frozenset[str]
    events_sql: str
    errors_sql: str
    columns: tuple[tuple[str, str], ...] = ()  # dimension -> SQL expression, when not the name
    daily: str | None = None
    # Latency histogram rows (bucket, calls): FROM addition, bucket, calls and a condition.
    latency_join: str = ""
    latency_bucket_sql: str = ""
    latency_calls_sql: str = ""
    latency_condition: str | None = None

    def column(self, dim: str) -> str:
        return dict(self.columns).get(dim, dim)


def _rollup(table: str, *dims: str, daily: str | None = None) -> Source:
    return Source(
        table,
        "bucket",
        frozenset(dims),
        "sum(events)::bigint",
        "sum(errors)::bigint",
        daily=daily,
        # Each row's stored histogram, one row per non-empty latency bucket (ingest.latency).
        latency_join=" CROSS JOIN LATERAL unnest(latency_hist) AS h(v)",
        latency_bucket_sql=f"(v >> {COUNT_BITS})",
        latency_calls_sql=f"sum(v & {COUNT_MASK})::bigint",
    )


# Narrowest first: categories are 7 (about 20 k rows per 30 days at any volume), endpoints
# few, couriers more, accounts most.
ROLLUPS = (
    _rollup("ingest_rollup_category", "category"),
    _rollup("ingest_rollup_code", "endpoint", "category", "code", daily="ingest_rollup_code_daily"),
    _rollup(
        "ingest_rollup_courier", "cp_id", "category", "code", daily="ingest_rollup_courier_daily"
    ),
    _rollup(
        "ingest_rollup_account",
        "account_code",
        "category",
        "code",
        daily="ingest_rollup_account_daily",
    ),
)
RAW = Source(
    "ingest_event",
    "ts",
    frozenset(DIMENSIONS),
    "count(*)",
    "count(*) FILTER (WHERE is_error)",
    # The rollups key "no courier" as cp_id 0; the raw rows as NULL.
    columns=(("cp_id", "coalesce(cp_id, 0)"),),
    # Raw latencies go through the rollups' own bucket function: one scale everywhere.
    latency_bucket_sql="latency_bucket(latency_ms)",
    latency_calls_sql="count(*)",
    latency_condition="latency_ms IS NOT NULL",
)


def choose_source(*, dims: Iterable[str], interval: str | None = None) -> Source:
    """The narrowest rollup keyed by every dimension in `dims`, else the raw events.

    `minute` buckets are finer than the rollups' quarter hours: always the raw events.
    """
    needed = set(dims)
    if interval == "minute":
        return RAW
    return next((source for source in ROLLUPS if needed <= source.dims), RAW)


def readable(source: Source, window: Window) -> Window:
    """The part of `window` that `source` may hold: raw rows never predate the retention
    horizon, so a raw read starts there at the earliest (its partitions are the only ones
    opened); the rollups outlive the raw rows and are read over the whole window."""
    if source is not RAW:
        return window
    horizon = retention_window(tz=window.tz)
    if window.start >= horizon.start:
        return window
    return Window(start=min(horizon.start, window.end), end=window.end, tz=window.tz)


def sql_conditions(
    *, source: Source, window: Window, filters: Filters
) -> tuple[list[str], list[Any]]:
    """WHERE conditions (ANDed) and their parameters: the window (`readable`) and every filter."""
    window = readable(source, window)
    conditions, params = _filter_conditions(source=source, filters=filters)
    return [_in_range(source.time_column), *conditions], [window.start, window.end, *params]


def _in_range(time_column: str) -> str:
    return f"{time_column} >= %s AND {time_column} < %s"


def _filter_conditions(*, source: Source, filters: Filters) -> tuple[list[str], list[Any]]:
    conditions: list[str] = []
    params: list[Any] = []
    for dim in sorted(filters.dims()):
        conditions.append(f"{source.column(dim)} = ANY(%s)")
        params.append(list(getattr(filters, dim)))
    return conditions, params


_DAY = timedelta(days=1)


def whole_utc_days(
    window: Window, edges: Sequence[datetime] | None = None
) -> tuple[datetime, datetime] | None:
    """[first, last): the whole UTC days inside the window, when there is one or more and no
    bucket edge falls inside one of them (a daily row must land whole in one bucket)."""
    start, end = window.start.astimezone(UTC), window.end.astimezone(UTC)
    first = datetime.combine(start.date(), time(0), tzinfo=UTC)
    first += _DAY if first < start else timedelta(0)
    last = datetime.combine(end.date(), time(0), tzinfo=UTC)
    if last <= first:
        return None
    if edges is not None and any(
        first < edge < last and edge.astimezone(UTC).timetz() != time(0, tzinfo=UTC)
        for edge in edges
    ):
        return None
    return first, last


def _rows(
    *,
    source: Source,
    window: Window,
    edges: Sequence[datetime] | None,
    measures: Sequence[str] = ("events", "errors"),
) -> tuple[str, list[str], list[Any]]:
    """The FROM item, the WHERE conditions that keep the window, and their parameters:
    `source.table` within the window, or, when the window holds whole UTC days
    (`whole_utc_days`) and the source has a daily twin, those days from the twin and the
    partial days at either end from the 15-minute table, in one UNION ALL."""
    window = readable(source, window)
    days = whole_utc_days(window, edges) if source.daily else None
    if days is None or source.daily is None:
        return source.table, [_in_range(source.time_column)], [window.start, window.end]
    first, last = days
    parts = [(source.table, window.start, first), (source.daily, first, last)]
    parts.append((source.table, last, window.end))
    columns = ", ".join([source.time_column, *sorted(source.dims), *measures])
    arms: list[str] = []
    params: list[Any] = []
    for table, lower, upper in parts:
        if lower < upper:
            arms.append(f"SELECT {columns} FROM {table} WHERE {_in_range(source.time_column)}")
            params += [lower, upper]
    # The outer WHERE (the filters) is pushed down into each arm by PostgreSQL.
    return f"({' UNION ALL '.join(arms)}) AS {source.table}", [], params


def aggregate_query(
    *,
    source: Source,
    window: Window,
    filters: Filters,
    group: Sequence[str] = (),
    edges: Sequence[datetime] | None = None,
) -> tuple[str, list[Any]]:
    """SQL and parameters for `[slot,] *group, events, errors` rows over `source`.

    `slot` (when `edges` is given) is the 1-based index of the bucket starting at edges[slot-1].
    Identifiers come only from `Source` definitions and `DIMENSIONS`; values are parameters.
    """
    unknown = set(group) - set(DIMENSIONS)
    if unknown or not set(group) <= source.dims:
        raise ValueError(f"cannot group {source.table} by {sorted(group)}")
    select: list[str] = []
    params: list[Any] = []
    if edges is not None:
        select.append(f"width_bucket({source.time_column}, %s::timestamptz[]) AS slot")
        # One array literal: cheaper to send than a list of datetimes adapted one by one.
        params.append("{" + ",".join(edge.isoformat() for edge in edges) + "}")
    select += [f"{source.column(dim)} AS {dim}" for dim in group]
    select += [f"{source.events_sql} AS events", f"{source.errors_sql} AS errors"]
    rows, conditions, rows_params = _rows(source=source, window=window, edges=edges)
    filtered, where_params = _filter_conditions(source=source, filters=filters)
    sql = f"SELECT {', '.join(select)} FROM {rows}"
    if conditions or filtered:
        sql += " WHERE " + " AND ".join(conditions + filtered)
    keys = len(select) - 2
    if keys:
        sql += " GROUP BY " + ", ".join(str(n) for n in range(1, keys + 1))
    return sql, params + rows_params + where_params


def latency_query(
    *,
    source: Source,
    window: Window,
    filters: Filters,
    group: Sequence[str] = (),
    edges: Sequence[datetime] | None = None,
    minutes_from: datetime | None = None,
) -> tuple[str, list[Any]]:
    """SQL and parameters for `[slot,] *group, lb, calls` rows over `source`: how many calls
    with a latency fell in each latency bucket `lb` (ingest.latency), per slot and group.

    The same window, daily-twin arms, filters and slots as `aggregate_query`; rollups unnest
    their stored histograms, raw rows are bucketed by the same SQL function. `minutes_from`
    (raw rows only) makes the slot the whole minutes since that instant, from 0."""
    unknown = set(group) - set(DIMENSIONS)
    if unknown or not set(group) <= source.dims:
        raise ValueError(f"cannot group {source.table} by {sorted(group)}")
    select: list[str] = []
    params: list[Any] = []
    if edges is not None:
        select.append(f"width_bucket({source.time_column}, %s::timestamptz[]) AS slot")
        params.append("{" + ",".join(edge.isoformat() for edge in edges) + "}")
    elif minutes_from is not None:
        select.append(f"floor(extract(epoch FROM {source.time_column} - %s) / 60)::int AS slot")
        params.append(minutes_from)
    select += [f"{source.column(dim)} AS {dim}" for dim in group]
    select += [f"{source.latency_bucket_sql} AS lb", f"{source.latency_calls_sql} AS calls"]
    measures = ("latency_hist",) if source.latency_join else ("latency_ms",)
    rows, conditions, rows_params = _rows(
        source=source, window=window, edges=edges, measures=measures
    )
    filtered, where_params = _filter_conditions(source=source, filters=filters)
    if source.latency_condition:
        conditions = [*conditions, source.latency_condition]
    sql = f"SELECT {', '.join(select)} FROM {rows}{source.latency_join}"
    if conditions or filtered:
        sql += " WHERE " + " AND ".join(conditions + filtered)
    sql += " GROUP BY " + ", ".join(str(n) for n in range(1, len(select)))
    return sql, params + rows_params + where_params


# ---------------------------------------------------------------- the hourly latency rollups


@dataclass(frozen=True)
class HourlyLatency:
    """An hourly latency rollup (one histogram per UTC hour and `dim`) and the 15-minute rollup
    holding the same histograms per quarter hour, which answers a window's partial hours.
    Both are read as sent (`latency_hist_sent`, migration 0013): the hourly table keeps that
    form, the few quarter-hour rows at a window's ends are converted."""

    table: str
    dim: str
    quarter_hours: str


LATENCY_HOURLY = (
    HourlyLatency("ingest_rollup_latency_endpoint", "endpoint", "ingest_rollup_code"),
    HourlyLatency("ingest_rollup_latency_courier", "cp_id", "ingest_rollup_courier"),
)
_HOUR = timedelta(hours=1)
_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)


def _whole_hour(moment: datetime) -> bool:
    # Seconds since the epoch, a float exact for whole seconds: a month of hourly edges is
    # checked in 0.2 ms, not the 2 ms of timedelta arithmetic.
    return moment.timestamp() % 3600 == 0


def hourly_source(
    *, filters: Filters, by: Sequence[str], interval: str | None, edges: Sequence[datetime] | None
) -> HourlyLatency | None:
    """The hourly latency rollup that answers a latency question exactly, if one does: grouped
    by its dimension or not at all, filtered on that dimension only, and every bucket edge
    after the first on a whole UTC hour (an hour's row lands whole in one bucket; a zone whose
    offset is not whole hours, +05:30, puts its hours and days off them)."""
    if interval == "minute" or (edges is not None and not all(map(_whole_hour, edges[1:]))):
        return None
    dims = set(by) | filters.dims()
    if len(dims) > 1 or len(by) > 1:
        return None
    return next((h for h in LATENCY_HOURLY if dims <= {h.dim}), None)


def hourly_latency_query(
    *,
    window: Window,
    filters: Filters,
    by: Sequence[str] = (),
    interval: str | None = None,
    edges: Sequence[datetime] | None = None,
) -> tuple[str, list[Any]] | None:
    """SQL and parameters for `[slot,] *by, sent` rows (not merged: the caller adds them up;
    `sent`: a histogram's elements as `latency_hist_sent` gives them) over an hourly latency
    rollup, or None when the question does not fit one (`hourly_source`). The window's whole
    UTC hours are read from the hourly table, its partial hours at either end from the
    15-minute rollup; `slot` as in `aggregate_query`."""
    hourly = hourly_source(filters=filters, by=by, interval=interval, edges=edges)
    if hourly is None:
        return None
    first = _ORIGIN + -(-(window.start - _ORIGIN) // _HOUR) * _HOUR
    last = _ORIGIN + ((window.end - _ORIGIN) // _HOUR) * _HOUR
    if last <= first:  # no whole hour: the quarter hours alone
        first = last = window.end
    parts = [(hourly.quarter_hours, window.start, first), (hourly.table, first, last)]
    parts.append((hourly.quarter_hours, last, window.end))
    arms: list[str] = []
    params: list[Any] = []
    if edges is not None:
        params.append("{" + ",".join(edge.isoformat() for edge in edges) + "}")
    sent = {hourly.table: "latency_sent", hourly.quarter_hours: "latency_hist_sent(latency_hist)"}
    for table, lower, upper in parts:
        if lower < upper:
            arms.append(
                f"SELECT bucket, {hourly.dim}, {sent[table]} AS sent FROM {table}"
                f" WHERE bucket >= %s AND bucket < %s AND latency_hist <> '{{}}'"
            )
            params += [lower, upper]
    if not arms:  # an empty window
        return None
    select = [*by, "sent"]
    if edges is not None:
        select.insert(0, "width_bucket(bucket, %s::timestamptz[])")
    sql = f"SELECT {', '.join(select)} FROM ({' UNION ALL '.join(arms)}) AS h"
    if filters.dims():
        sql += f" WHERE {hourly.dim} = ANY(%s)"
        params.append(list(getattr(filters, hourly.dim)))
    return sql, params


def fetch(sql: str, params: Sequence[Any]) -> list[tuple]:
    """Every row of one query on the default database."""
    with read_connection().cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def counts(
    *, window: Window, filters: Filters, group: Sequence[str] = (), interval: str | None = None
) -> list[tuple]:
    """Rows `(*group, events, errors)` over the window, from the narrowest source."""
    source = choose_source(dims=filters.dims() | set(group), interval=interval)
    return fetch(*aggregate_query(source=source, window=window, filters=filters, group=group))
