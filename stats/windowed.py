"""Counts over exact minute windows, for questions that end at a given minute (alerts).

The charts' questions (`stats.questions`) widen every window to whole quarter hours, the
rollups' grain. An alert's window ends at the minute it is evaluated, so it needs the exact
window: the whole quarter hours inside it are read from the rollups, with the same SQL builder
the charts use (`stats.questions.counts`), and only the partial quarter hours at either edge
from the raw event partitions of those minutes, never more. On a quarter-hour-aligned window
the answer is the charts' answer exactly (tests/stats/test_windowed.py proves it).

`per_minute_counts` answers a long range minute by minute in one query over the raw rows, for
replays (the alerts preview) that then slide a window over the minutes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection

from stats.latency import Histogram, add, histograms_by
from stats.questions import RAW, counts, latency_query, sql_conditions
from stats.window import Filters, Window, ceil_to_grain, floor_to_grain

MINUTE = timedelta(minutes=1)
UTC_ZONE = ZoneInfo("UTC")  # counts do not depend on a zone: windows are instants

Key = tuple  # the group's values, in the order of `group`; () without a group


def _pieces(start: datetime, end: datetime) -> tuple[list[tuple[datetime, datetime]], tuple]:
    """The raw-row edge windows and the whole quarter hours (or ()) covering [start, end)."""
    inner_start, inner_end = ceil_to_grain(start), floor_to_grain(end)
    if inner_start >= inner_end:
        return [(start, end)], ()
    edges = [(start, inner_start), (inner_end, end)]
    return [(a, b) for a, b in edges if a < b], (inner_start, inner_end)


def window_counts(
    *, start: datetime, end: datetime, filters: Filters, group: Sequence[str] = ()
) -> dict[Key, tuple[int, int]]:
    """Calls and errors per group in exactly [start, end): key (group values) -> (calls, errors).

    Whole quarter hours come from the narrowest rollup that covers the group and filters (the
    raw rows when none does, as for the charts), the partial quarter hours at the edges from
    the raw rows. Keys are spelled as `stats.questions.breakdown` spells them (cp_id 0 is "no
    courier", account_code '' "no account"). Groups with no calls are absent.
    """
    totals: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    for window, interval in _parts(start, end):
        for *key, calls, errors in counts(
            window=window, filters=filters, group=list(group), interval=interval
        ):
            if not group and not calls:
                continue  # an ungrouped count over no rows is one row of NULLs
            total = totals[tuple(key)]
            total[0] += calls or 0
            total[1] += errors or 0
    return {key: (calls, errors) for key, (calls, errors) in totals.items()}


def window_histograms(
    *, start: datetime, end: datetime, filters: Filters, group: Sequence[str] = ()
) -> dict[Key, Histogram]:
    """The latency histogram of the calls in exactly [start, end) per group, as
    `window_counts` reads counts: whole quarter hours merged from the rollups' histograms, the
    edge minutes from the raw rows' exact latencies (bucketed by the same function). Groups
    without a call with a latency are absent."""
    totals: dict[Key, Histogram] = defaultdict(dict)
    for window, interval in _parts(start, end):
        for key, histogram in histograms_by(
            window=window, filters=filters, by=group, interval=interval
        ).items():
            add(totals[key], histogram)
    return dict(totals)


def _parts(start: datetime, end: datetime) -> list[tuple[Window, str | None]]:
    """The raw edge windows ("minute": read raw) and the whole quarter hours of [start, end)."""
    edges, inner = _pieces(start.astimezone(UTC), end.astimezone(UTC))
    parts: list[tuple[Window, str | None]] = [
        (Window(start=a, end=b, tz=UTC_ZONE), "minute") for a, b in edges
    ]
    if inner:
        parts.append((Window(start=inner[0], end=inner[1], tz=UTC_ZONE), None))
    return parts


def per_minute_histograms(
    *, start: datetime, end: datetime, filters: Filters, group: Sequence[str] = ()
) -> dict[Key, dict[int, Histogram]]:
    """Latency histograms per minute of [start, end) (whole UTC minutes), per group, from the
    raw rows in one query: key -> {minute index: histogram}, index 0 = `start`; minutes
    without a call with a latency are absent. For replays, as `per_minute_counts`."""
    start, end = _minute(start), _minute(end)
    if end <= start:
        return {}
    window = Window(start=start, end=end, tz=UTC_ZONE)
    sql, params = latency_query(
        source=RAW, window=window, filters=filters, group=list(group), minutes_from=start
    )
    series: dict[Key, dict[int, Histogram]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for minute, *key, bucket, calls in cursor.fetchall():
            series.setdefault(tuple(key), {}).setdefault(minute, {})[bucket] = calls
    return series


def per_minute_counts(
    *, start: datetime, end: datetime, filters: Filters, group: Sequence[str] = ()
) -> dict[Key, tuple[list[int], list[int]]]:
    """Calls and errors per minute of [start, end) (whole UTC minutes), per group, from the raw
    rows in one query: key -> (calls per minute, errors per minute), index 0 = `start`.

    A row's minute is its offset from `start` in whole minutes (UTC minutes have no zone), the
    same rows and filters as the charts' raw source (`stats.questions.RAW`)."""
    start, end = _minute(start), _minute(end)
    size = int((end - start) / MINUTE)
    if size <= 0:
        return {}
    conditions, params = sql_conditions(
        source=RAW, window=Window(start=start, end=end, tz=UTC_ZONE), filters=filters
    )
    keys = [f"{RAW.column(dim)} AS {dim}" for dim in group]
    select = ", ".join(
        [f"floor(extract(epoch FROM {RAW.time_column} - %s) / 60)::int AS slot", *keys]
        + [f"{RAW.events_sql} AS events", f"{RAW.errors_sql} AS errors"]
    )
    sql = (
        f"SELECT {select} FROM {RAW.table} WHERE {' AND '.join(conditions)}"
        f" GROUP BY {', '.join(str(n) for n in range(1, len(group) + 2))}"
    )
    series: dict[Key, tuple[list[int], list[int]]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [start, *params])
        for slot, *key, calls, errors in cursor.fetchall():
            group_key = tuple(key)
            if group_key not in series:
                series[group_key] = ([0] * size, [0] * size)
            calls_per_minute, errors_per_minute = series[group_key]
            calls_per_minute[slot] = calls
            errors_per_minute[slot] = errors
    return series


def _minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)
