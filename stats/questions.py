"""The one reader of aggregates: timeseries, breakdowns, totals, heatmap and code counts.

Every figure the API, the pages and the weekly CSV show comes from `aggregate_query`, one SQL
builder over one of five sources (`choose_source` decides which):

- the 15-minute rollups, narrowest first: `ingest_rollup_category` (category only),
  `ingest_rollup_code` (endpoint, category, code), `ingest_rollup_courier` (cp_id, category,
  code), `ingest_rollup_account` (account_code, category, code): the first whose dimensions
  cover the grouping and every filter;
- the raw `ingest_event` rows when none covers them (e.g. filter cp_id, group by endpoint) or
  when the interval is finer than the rollups (`minute`), with the same SQL shape.

The code, courier and account rollups each have a daily twin (`*_daily`, `bucket` at UTC
midnight). When a window holds whole UTC days that no bucket edge splits (every breakdown or
total those families answer; a timeseries only when its edges are UTC midnights),
`aggregate_query` reads those days from the daily table and the partial days at either end
from the 15-minute table, as one UNION ALL feeding the same aggregation: the same counts from
about 1/96 of the rows, exact in every zone because the window's edges are quarter hours.

Bucket edges are computed once, in Python, by `bucket_starts` (DST-correct in any IANA zone),
and SQL assigns each row to its bucket with `width_bucket(time, edges)`, a binary search over
the sorted edges. So the dense list of points and the SQL agree by construction, and zone rules
never depend on the database's copy of the tz database. Because the rollups are 15-minute
buckets, day and week buckets are exact in every zone with a whole quarter-hour offset
(+05:30, +05:45, DST days of 23 or 25 hours). An `hour` bucket starts at the local hour, so in
a +05:30 zone hour buckets run from :30 to :30 UTC: also exact, from the same quarter hours.

Counts are calls (`events`) and failing calls (`errors`). Ratios are 0 when the denominator is
0, except `change`, which is null when the previous period had no errors. Times in results are
ISO 8601 strings in the window's zone, with their offset.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from rest_framework.exceptions import ValidationError

from clickpost_monitor.replica import read_connection
from ingest.catalog import CATEGORIES, SUCCESS, UNKNOWN
from ingest.models import CodeEntry, Courier
from stats.window import DIMENSIONS, Filters, Window

INTERVALS = ("minute", "hour", "day", "week")
GROUPS = ("none", "category", "code", "endpoint", "cp_id", "account_code")
BREAKDOWNS = ("code", "category", "endpoint", "cp_id", "account_code")
MAX_BUCKETS = 5000
MAX_MINUTE_SPAN = timedelta(hours=48)
_NOMINAL = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
}


# ---------------------------------------------------------------- sources and the SQL builder


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
)


def choose_source(*, dims: Iterable[str], interval: str | None = None) -> Source:
    """The narrowest rollup keyed by every dimension in `dims`, else the raw events.

    `minute` buckets are finer than the rollups' quarter hours: always the raw events.
    """
    needed = set(dims)
    if interval == "minute":
        return RAW
    return next((source for source in ROLLUPS if needed <= source.dims), RAW)


def sql_conditions(*, source: Source, window: Window, filters: Filters) -> tuple[list[str], list]:
    """WHERE conditions (ANDed) and their parameters: the window and every filter."""
    conditions, params = _filter_conditions(source=source, filters=filters)
    return [_in_range(source.time_column), *conditions], [window.start, window.end, *params]


def _in_range(time_column: str) -> str:
    return f"{time_column} >= %s AND {time_column} < %s"


def _filter_conditions(*, source: Source, filters: Filters) -> tuple[list[str], list]:
    conditions, params = [], []
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
    *, source: Source, window: Window, edges: Sequence[datetime] | None
) -> tuple[str, list[str], list]:
    """The FROM item, the WHERE conditions that keep the window, and their parameters:
    `source.table` within the window, or, when the window holds whole UTC days
    (`whole_utc_days`) and the source has a daily twin, those days from the twin and the
    partial days at either end from the 15-minute table, in one UNION ALL."""
    days = whole_utc_days(window, edges) if source.daily else None
    if days is None:
        return source.table, [_in_range(source.time_column)], [window.start, window.end]
    first, last = days
    parts = [(source.table, window.start, first), (source.daily, first, last)]
    parts.append((source.table, last, window.end))
    columns = ", ".join([source.time_column, *sorted(source.dims), "events", "errors"])
    arms, params = [], []
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
) -> tuple[str, list]:
    """SQL and parameters for `[slot,] *group, events, errors` rows over `source`.

    `slot` (when `edges` is given) is the 1-based index of the bucket starting at edges[slot-1].
    Identifiers come only from `Source` definitions and `DIMENSIONS`; values are parameters.
    """
    unknown = set(group) - set(DIMENSIONS)
    if unknown or not set(group) <= source.dims:
        raise ValueError(f"cannot group {source.table} by {sorted(group)}")
    select, params = [], []
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


def _fetch(sql: str, params: list) -> list[tuple]:
    with read_connection().cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def counts(
    *, window: Window, filters: Filters, group: Sequence[str] = (), interval: str | None = None
) -> list[tuple]:
    """Rows `(*group, events, errors)` over the window, from the narrowest source."""
    source = choose_source(dims=filters.dims() | set(group), interval=interval)
    return _fetch(*aggregate_query(source=source, window=window, filters=filters, group=group))


# ---------------------------------------------------------------- buckets


def _local_floor(moment: datetime, interval: str, tz: ZoneInfo) -> datetime:
    """The start (UTC) of the `interval` bucket in `tz` that holds `moment`."""
    local = moment.astimezone(tz)
    if interval in ("minute", "hour"):
        minutes = local.minute if interval == "hour" else 0
        return (
            moment
            - timedelta(minutes=minutes, seconds=local.second, microseconds=local.microsecond)
        ).astimezone(UTC)
    day = local.date()
    if interval == "week":
        day -= timedelta(days=day.weekday())
    # A midnight that does not exist (DST at 00:00) resolves to the day's first instant.
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _next_start(start: datetime, interval: str, tz: ZoneInfo) -> datetime:
    later = _local_floor(start + _NOMINAL[interval], interval, tz)
    if later <= start:  # a zone whose clock went back by less than the interval
        later = start + _NOMINAL[interval]
    if interval in ("day", "week"):
        # A 25-hour day: one nominal step may still be inside the same local day.
        while _local_floor(later, interval, tz) == start:
            later += timedelta(hours=1)
        later = _local_floor(later, interval, tz)
    return later


def bucket_starts(*, start: datetime, end: datetime, interval: str, tz: ZoneInfo) -> list[datetime]:
    """Every bucket start of `interval` in `tz` for buckets overlapping [start, end).

    Pure. Starts are aware datetimes in `tz`; the first is at or before `start`. Days and weeks
    start at local midnight (a DST day lasts 23 or 25 hours), weeks on Monday, hours at the
    local hour (:30 past a UTC hour in a +05:30 zone).
    """
    if interval not in _NOMINAL:
        raise ValueError(f"unknown interval {interval!r}")
    starts = []
    current = _local_floor(start, interval, tz)
    while current < end:
        starts.append(current.astimezone(tz))
        current = _next_start(current, interval, tz)
    return starts


def check_interval(*, window: Window, interval: str) -> None:
    """Refuse (ValidationError on `interval`) minute buckets over 48 h and > 5,000 buckets."""
    if interval == "minute" and window.span > MAX_MINUTE_SPAN:
        raise ValidationError(
            {"interval": ["minute buckets are limited to windows of 48 hours; use hour."]}
        )
    estimate = window.span / _NOMINAL[interval]
    too_many = estimate > MAX_BUCKETS + 2 or (
        estimate > MAX_BUCKETS - 2
        and len(bucket_starts(start=window.start, end=window.end, interval=interval, tz=window.tz))
        > MAX_BUCKETS
    )
    if too_many:
        raise ValidationError(
            {"interval": [f"more than {MAX_BUCKETS} {interval} buckets; use a coarser interval."]}
        )


# ---------------------------------------------------------------- labels and ratios


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def _change(now: int, before: int) -> float | None:
    return round((now - before) / before, 6) if before else None


def courier_label(cp_id: int, names: dict[int, str]) -> str:
    """The courier's last seen name; "no courier" for 0; "cp 12" when no name is known."""
    if cp_id == 0:
        return "no courier"
    return names.get(cp_id) or f"cp {cp_id}"


def labeler(dim: str, keys: Iterable) -> Callable[[object], str]:
    """A function key -> human label for the keys of one dimension (one query at most)."""
    keys = list(keys)
    if dim == "cp_id":
        names = dict(Courier.objects.filter(cp_id__in=keys).values_list("cp_id", "name"))
        return lambda key: courier_label(key, names)
    if dim == "code":
        meanings = dict(CodeEntry.objects.filter(code__in=keys).values_list("code", "meaning"))
        return lambda key: meanings.get(key, "unknown code")
    if dim == "category":
        return lambda key: str(key).replace("_", " ")
    if dim == "account_code":
        return lambda key: key or "no account"
    return str


def _points(
    stamps: Sequence[str], events: Sequence[int], errors: Sequence[int], wholes: Sequence[int]
) -> list[dict]:
    """SPEC's points, built in one pass (720 x 8 of them for a month of hours by category):
    the ratios are `_ratio`'s, with its common cases (no errors, all errors) spelled inline."""
    return [
        {
            "t": t,
            "events": n,
            "errors": e,
            "error_rate": (1.0 if e == n else round(e / n, 6)) if e else 0.0,
            "share": (1.0 if e == w else round(e / w, 6)) if e else 0.0,
        }
        for t, n, e, w in zip(stamps, events, errors, wholes, strict=True)
    ]


# ---------------------------------------------------------------- the questions


def timeseries(*, window: Window, interval: str, group_by: str, filters: Filters) -> dict:
    """Calls and errors per bucket, in total and per group; empty buckets are zeros.

    Returns SPEC's shape: {"interval", "tz", "group_by", "start", "end", "totals": [point],
    "series": [{"key", "label", "points": [point]}]}, a point being {"t", "events", "errors",
    "error_rate", "share"} with `share` = the group's errors / all calls in the bucket. Series
    are ordered by errors, most first; group_by "none" gives one series, key "all".
    """
    window = window.snapped()
    check_interval(window=window, interval=interval)
    edges = bucket_starts(start=window.start, end=window.end, interval=interval, tz=window.tz)
    group = [] if group_by == "none" else [group_by]
    source = choose_source(dims=filters.dims() | set(group), interval=interval)
    sql, params = aggregate_query(
        source=source, window=window, filters=filters, group=group, edges=edges
    )
    events, errors = _dense(_fetch(sql, params), size=len(edges), keep_all=group_by == "none")
    all_events, all_errors = _column_sums(events, len(edges)), _column_sums(errors, len(edges))
    stamps = [edge.isoformat() for edge in edges]  # once, not once per series
    label = (lambda key: "all calls") if group_by == "none" else labeler(group_by, events)
    order = sorted(events, key=lambda key: (-sum(errors[key]), -sum(events[key]), str(key)))
    return {
        "interval": interval,
        "tz": str(window.tz),
        "group_by": group_by,
        "start": window.start.astimezone(window.tz).isoformat(),
        "end": window.end.astimezone(window.tz).isoformat(),
        "totals": _points(stamps, all_events, all_errors, all_events),
        "series": [
            {
                "key": key,
                "label": label(key),
                "points": _points(stamps, events[key], errors[key], all_events),
            }
            for key in order
        ],
    }


def _dense(rows: Iterable[tuple], *, size: int, keep_all: bool) -> tuple[dict, dict]:
    """`(slot, [key,] events, errors)` rows -> key -> events per bucket, key -> errors per
    bucket (zeros where no row); the key is "all" without a group, kept even when empty."""
    events: dict[object, list[int]] = {}
    errors: dict[object, list[int]] = {}
    for slot, *key, n, e in rows:
        name = key[0] if key else "all"
        if name not in events:
            events[name], errors[name] = [0] * size, [0] * size
        events[name][slot - 1] = n
        errors[name][slot - 1] = e
    if keep_all and not events:
        events["all"], errors["all"] = [0] * size, [0] * size
    return events, errors


def _column_sums(series: dict[object, list[int]], size: int) -> list[int]:
    if not series:
        return [0] * size
    return [sum(column) for column in zip(*series.values(), strict=True)]


def breakdown(*, window: Window, by: str, limit: int, filters: Filters) -> list[dict]:
    """The top `limit` values of one dimension by errors in the window, most errors first.

    Rows: {"key", "label", "events", "errors", "error_rate", "share", "previous_errors",
    "change"}; `share` = errors / all calls in the window (the shares add up to the error
    rate); `previous_errors` counts the same-length period just before; `change` is the
    relative change of errors against it (null when it had none).
    """
    window = window.snapped()
    rows = counts(window=window, filters=filters, group=[by])
    all_events = sum(events for _, events, _ in rows)
    rows.sort(key=lambda row: (-row[2], -row[1], str(row[0])))
    top = rows[:limit]
    narrowed = filters.narrowed(**{by: tuple(key for key, _, _ in top)})
    before = (
        {
            key: errors
            for key, _, errors in counts(window=window.previous(), filters=narrowed, group=[by])
        }
        if top
        else {}
    )
    label = labeler(by, [key for key, _, _ in top])
    return [
        {
            "key": key,
            "label": label(key),
            "events": events,
            "errors": errors,
            "error_rate": _ratio(errors, events),
            "share": _ratio(errors, all_events),
            "previous_errors": before.get(key, 0),
            "change": _change(errors, before.get(key, 0)),
        }
        for key, events, errors in top
    ]


def totals(*, window: Window, filters: Filters) -> dict:
    """Calls, errors and error rate in the window and in the same-length period before it.

    Returns {"events", "errors", "error_rate", "previous_events", "previous_errors",
    "previous_error_rate", "change"} (`change`: relative change of errors, null when the
    previous period had none).
    """
    window = window.snapped()
    [(events, errors)] = counts(window=window, filters=filters)
    [(before_events, before_errors)] = counts(window=window.previous(), filters=filters)
    events, errors = events or 0, errors or 0
    before_events, before_errors = before_events or 0, before_errors or 0
    return {
        "events": events,
        "errors": errors,
        "error_rate": _ratio(errors, events),
        "previous_events": before_events,
        "previous_errors": before_errors,
        "previous_error_rate": _ratio(before_errors, before_events),
        "change": _change(errors, before_errors),
    }


ERROR_CATEGORIES = tuple(c for c in CATEGORIES if c != SUCCESS)


def heatmap(*, window: Window, filters: Filters) -> dict:
    """Errors and calls per courier x error category in the window.

    Returns {"couriers": [{"key", "label"}] (most errors first), "categories": [str],
    "errors": [[int]], "events": [[int]]}, matrices indexed [courier][category].
    """
    window = window.snapped()
    rows = counts(window=window, filters=filters, group=["cp_id", "category"])
    column = {category: j for j, category in enumerate(ERROR_CATEGORIES)}
    cells: dict[int, list[list[int]]] = defaultdict(
        lambda: [[0] * len(column), [0] * len(column), [0, 0]]
    )
    for cp_id, category, events, errors in rows:
        errors_row, events_row, total = cells[cp_id]
        total[0] += errors
        total[1] += events
        if category in column:
            errors_row[column[category]] += errors
            events_row[column[category]] += events
    order = sorted(cells, key=lambda cp: (-cells[cp][2][0], -cells[cp][2][1], cp))
    label = labeler("cp_id", order)
    return {
        "couriers": [{"key": cp, "label": label(cp)} for cp in order],
        "categories": list(ERROR_CATEGORIES),
        "errors": [cells[cp][0] for cp in order],
        "events": [cells[cp][1] for cp in order],
    }


def code_counts(*, window: Window, filters: Filters) -> list[dict]:
    """The catalog with each code's calls and errors in the window, ordered by code.

    Rows: {"code", "category", "meaning", "is_error", "retryable", "action", "in_catalog",
    "events", "errors", "error_rate"}. Codes seen in traffic but missing from the catalog are
    included with `in_catalog` false and the category they were tagged with (`unknown` for
    every code that is not 2xx). Catalog rows are limited by the `code` and `category`
    filters; the other filters limit the counts.
    """
    window = window.snapped()
    seen: dict[int, list] = {}
    for code, category, events, errors in counts(
        window=window, filters=filters, group=["code", "category"]
    ):
        entry = seen.setdefault(code, [0, 0, set()])
        entry[0] += events
        entry[1] += errors
        entry[2].add(category)
    catalog = CodeEntry.objects.all()
    if filters.code:
        catalog = catalog.filter(code__in=filters.code)
    if filters.category:
        catalog = catalog.filter(category__in=filters.category)
    rows = [_code_row(entry, seen.pop(entry.code, None)) for entry in catalog]
    rows += [_unknown_code_row(code, numbers) for code, numbers in seen.items()]
    return sorted(rows, key=lambda row: row["code"])


def _code_row(entry: CodeEntry, numbers: list | None) -> dict:
    events, errors = (numbers[0], numbers[1]) if numbers else (0, 0)
    return {
        "code": entry.code,
        "category": entry.category,
        "meaning": entry.meaning,
        "is_error": entry.is_error,
        "retryable": entry.retryable,
        "action": entry.action,
        "in_catalog": True,
        "events": events,
        "errors": errors,
        "error_rate": _ratio(errors, events),
    }


def _unknown_code_row(code: int, numbers: list) -> dict:
    events, errors, categories = numbers
    category = UNKNOWN if UNKNOWN in categories else sorted(categories)[0]
    return {
        "code": code,
        "category": category,
        "meaning": "not in the catalog",
        "is_error": errors > 0,
        "retryable": False,
        "action": "New code: look it up and add it to the catalog in the admin.",
        "in_catalog": False,
        "events": events,
        "errors": errors,
        "error_rate": _ratio(errors, events),
    }
