"""Calls and errors per group now and at the same hour of the week in past weeks.

The question behind the `anomaly` alert metric (alerts/anomaly.py): for a window
[at - window_minutes, at) in a zone, each group's counts in that window and in the window that
ends at the same local wall-clock time 1, 2, ... N weeks earlier. Weeks are counted in the
zone, so across a DST change the past window moves in UTC and still covers the same local
hour (Tuesdays 14:00 in London is 13:00 UTC in summer and 14:00 UTC in winter).

Every window is made of whole quarter hours (the rollups' grain): those that begin inside it,
through the one holding its end (at most 14 minutes shorter at the start than asked, so the
window is the most recent traffic; in live evaluation the last quarter hour holds what has
arrived so far; a replay at a past instant sees the rest of that quarter hour). All of them
are read from one 15-minute rollup in ONE query: the windows are an array, each joined
LATERALly to a range scan of the rollup's primary key (which starts with `bucket`), so the cost
is windows x quarter hours x groups, whatever the number of raw events or of rollup rows
between the windows. The raw events are never read: a filter and
grouping that no rollup covers (e.g. group by endpoint with a cp_id filter) raise ValueError.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection

from stats.questions import GROUPS, RAW, Source, choose_source
from stats.window import Filters, Window, ceil_to_grain, floor_to_grain

MAX_WEEKS = 52


@dataclass(frozen=True)
class Baseline:
    """One group's counts: in the current window, and per week ago (index 0 = one week ago).

    `key` is spelled as stats.questions.breakdown spells it (cp_id 0 = no courier, account ''
    = no account); None for group_by "none". A week with no calls is (0, 0).
    """

    key: object
    calls: int
    errors: int
    history: tuple[tuple[int, int], ...]


def same_hour_windows(
    *, at: datetime, window_minutes: int, tz: ZoneInfo, weeks: int
) -> list[Window]:
    """The current window, then the same local-time window 1..`weeks` weeks earlier in `tz`,
    each as whole quarter hours (`_quarter_hours`). Pure.

    A past end whose local time does not exist (skipped by a DST change) resolves as zoneinfo
    resolves it (fold=0: the offset in force before the change).
    """
    if not 0 <= weeks <= MAX_WEEKS:
        raise ValueError(f"weeks must be between 0 and {MAX_WEEKS}")
    span = timedelta(minutes=window_minutes)
    local_end = at.astimezone(tz).replace(tzinfo=None)
    ends = [at.astimezone(UTC)] + [
        (local_end - timedelta(weeks=k)).replace(tzinfo=tz).astimezone(UTC)
        for k in range(1, weeks + 1)
    ]
    return [_quarter_hours(end - span, end, tz) for end in ends]


def _quarter_hours(start: datetime, end: datetime, tz: ZoneInfo) -> Window:
    """The quarter hours that begin inside [start, end), through the one holding `end`; the
    one holding `start` when no quarter hour begins inside (a window under 15 minutes)."""
    first = ceil_to_grain(start)
    if first >= end:
        first = floor_to_grain(start)
    return Window(start=first, end=ceil_to_grain(end), tz=tz)


def rollup_for(*, filters: Filters, group_by: str) -> Source:
    """The rollup that holds the filters and the grouping; ValueError when only raw events do."""
    if group_by not in GROUPS:
        raise ValueError(f"group_by must be one of {', '.join(GROUPS)}")
    group = set() if group_by == "none" else {group_by}
    source = choose_source(dims=filters.dims() | group)
    if source is RAW:
        dims = ", ".join(sorted(filters.dims() | group))
        raise ValueError(
            f"no rollup is keyed by {dims} together; past weeks can only be read from the "
            "rollups: filter or group by fewer of endpoint, cp_id and account_code"
        )
    return source


def baselines(
    *,
    at: datetime,
    window_minutes: int,
    filters: Filters,
    group_by: str,
    tz: ZoneInfo,
    weeks: int = 8,
) -> list[Baseline]:
    """Each group's calls and errors in [at - window_minutes, at) and in the same hour-of-week
    window of each of the last `weeks` weeks in `tz` (all as whole quarter hours).

    One row per group with calls in the current window, ordered by key; group_by "none" gives
    exactly one row (key None), even when there were no calls.
    """
    source = rollup_for(filters=filters, group_by=group_by)
    windows = same_hour_windows(at=at, window_minutes=window_minutes, tz=tz, weeks=weeks)
    group = [] if group_by == "none" else [group_by]
    counts = _window_counts(source=source, windows=windows, filters=filters, group=group)
    if group_by == "none":
        counts.setdefault(None, [(0, 0)] * len(windows))
    rows = [
        Baseline(key=key, calls=per[0][0], errors=per[0][1], history=tuple(per[1:]))
        for key, per in counts.items()
        if per[0][0] > 0 or group_by == "none"
    ]
    return sorted(rows, key=lambda row: str(row.key))


def _window_counts(
    *, source: Source, windows: Sequence[Window], filters: Filters, group: Sequence[str]
) -> dict[object, list[tuple[int, int]]]:
    """key -> [(calls, errors) per window], from one query over the rollup."""
    # LATERAL: one range scan of the rollup's primary key (bucket first) per window, whatever
    # the rows between the windows. The filters are the read room's: dimension = ANY(values).
    conditions = [f"{source.time_column} >= w.lo", f"{source.time_column} < w.hi"]
    params: list = [[w.start for w in windows], [w.end for w in windows]]
    for dim in sorted(filters.dims()):
        conditions.append(f"{source.column(dim)} = ANY(%s)")
        params.append(list(getattr(filters, dim)))
    keys = [f"{source.column(dim)} AS {dim}" for dim in group]
    sql = (
        f"SELECT w.slot, {', '.join([*keys, source.events_sql, source.errors_sql])} "
        "FROM unnest(%s::timestamptz[], %s::timestamptz[]) WITH ORDINALITY AS w(lo, hi, slot) "
        f"CROSS JOIN LATERAL (SELECT * FROM {source.table} WHERE {' AND '.join(conditions)}) r "
        f"GROUP BY {', '.join(str(n) for n in range(1, len(group) + 2))}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    counts: dict[object, list[tuple[int, int]]] = {}
    for slot, *key, events, errors in rows:
        name = key[0] if key else None
        per = counts.setdefault(name, [(0, 0)] * len(windows))
        per[slot - 1] = (int(events), int(errors))
    return counts
