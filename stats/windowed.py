"""Counts over exact minute windows, for questions that end at a given minute (alerts).

The charts' questions (`stats.questions`) widen every window to whole quarter hours, the
rollups' grain. An alert's window ends at the minute it is evaluated, so it needs the exact
window: the whole quarter hours inside it are read from the rollups, with the same SQL builder
the charts use (`stats.questions.counts`), and only the partial quarter hours at either edge
from the raw event partitions of those minutes, never more. On a quarter-hour-aligned window
the answer is the charts' answer exactly (tests/stats/test_windowed.py proves it).

`per_minute_counts` answers a long range minute by minute in one query over the raw rows, for
replays (the alerts preview) that then slide a window over the minutes.

`read_edges` reads the raw minutes at the edges of many windows at once (one query, counted per
slice between the windows' ends and by the sets of dimensions the rules ask), so that an alert
evaluation asks the raw partitions once per minute for all its rules instead of once per rule:
`window_counts(..., edges=...)` then sums its edges from those rows, with the raw source's own
filters and key spellings. With an `EdgeMemory` (the evaluator keeps one from minute to minute)
it reads only the minutes it does not hold yet, or whose quarter hour was written since.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction

from stats.latency import Histogram, add, histograms_by
from stats.questions import RAW, counts, latency_query, sql_conditions
from stats.sql import readable
from stats.window import DIMENSIONS, Filters, Window, ceil_to_grain, floor_to_grain

MINUTE = timedelta(minutes=1)
# A window longer than this (a day, a week) is not held minute by minute (`EdgeMemory`): its
# start edge is read when asked, as without memory.
KEPT_SPAN = timedelta(hours=2)
PER_MINUTE_WORK_MEM = "256MB"  # the hash of 21 days x 1440 minutes x 30 couriers: ~90 MB
UTC_ZONE = ZoneInfo("UTC")  # counts do not depend on a zone: windows are instants

Key = tuple  # the group's values, in the order of `group`; () without a group


def _pieces(start: datetime, end: datetime) -> tuple[list[tuple[datetime, datetime]], tuple]:
    """The raw-row edge windows and the whole quarter hours (or ()) covering [start, end)."""
    inner_start, inner_end = ceil_to_grain(start), floor_to_grain(end)
    if inner_start >= inner_end:
        return [(start, end)], ()
    edges = [(start, inner_start), (inner_end, end)]
    return [(a, b) for a, b in edges if a < b], (inner_start, inner_end)


def edge_ranges(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The partial quarter hours of [start, end) that `window_counts` reads from raw rows."""
    return _pieces(start.astimezone(UTC), end.astimezone(UTC))[0]


@dataclass
class Edges:
    """Raw rows of some ranges, read once for many windows: counted per slice (the spans
    between consecutive ends of every range read, so that each range is a run of whole
    slices) and by sets of dimensions (values spelled as the raw source spells them: cp_id 0
    for none; a dimension outside the row's set is None)."""

    covered: list[tuple[datetime, datetime]] = field(default_factory=list)
    # Every range's ends, sorted: slice n (from 1, as `width_bucket` numbers them) is
    # [bounds[n - 1], bounds[n]).
    bounds: list[datetime] = field(default_factory=list)
    # dimensions counted by (in DIMENSIONS order) -> slice -> rows (five values, calls, errors)
    sets: dict[tuple[str, ...], dict[int, list[tuple]]] = field(default_factory=dict)
    _sums: dict[tuple, dict[tuple, list]] = field(default_factory=dict, repr=False)
    _indexes: dict[tuple, dict[Any, list]] = field(default_factory=dict, repr=False)

    def covers(self, start: datetime, end: datetime, dims: Iterable[str] = ()) -> bool:
        """[start, end) is whole slices inside what was read, counted by `dims` at least."""
        whole = start in self.bounds and end in self.bounds
        inside = any(a <= start and end <= b for a, b in self.covered)
        return whole and inside and self._set_for(set(dims)) is not None

    def _set_for(self, dims: set[str]) -> tuple[str, ...] | None:
        """The smallest set read that holds `dims` (fewest rows to sum)."""
        holding = [known for known in self.sets if dims <= set(known)]
        return min(holding, key=len) if holding else None

    def add_to(
        self,
        totals: dict[Key, list[int]],
        *,
        start: datetime,
        end: datetime,
        filters: Filters,
        group: Sequence[str],
    ) -> None:
        """Add the counts of [start, end) (whole slices) per group to `totals`, as the raw
        source's SQL would count them."""
        dims = tuple(dim for dim in DIMENSIONS if dim in filters.dims() or dim in group)
        wanted = [(dims.index(dim), set(getattr(filters, dim))) for dim in filters.dims()]
        positions = [dims.index(dim) for dim in group]
        rows: Iterable[tuple[tuple, list]] = self._summed(dims, start, end).items()
        if wanted:
            # Only the rows with a wanted value of the first filter, from an index: a filter on
            # one account or endpoint keeps a few of the rows, which grow with the traffic.
            (first, kept), wanted = wanted[0], wanted[1:]
            index = self._indexed(dims, start, end, first)
            rows = [entry for value in kept for entry in index.get(value, ())]
        for row, (calls, errors) in rows:
            if all(row[i] in values for i, values in wanted):
                total = totals[tuple(row[i] for i in positions)]
                total[0] += calls
                total[1] += errors

    def _indexed(
        self, dims: tuple[str, ...], start: datetime, end: datetime, position: int
    ) -> dict[Any, list[tuple[tuple, list]]]:
        """The summed rows of [start, end) by `dims`, by their value at `position` (once)."""
        key = (dims, start, end, position)
        if key not in self._indexes:
            index: dict[Any, list[tuple[tuple, list]]] = {}
            for entry in self._summed(dims, start, end).items():
                index.setdefault(entry[0][position], []).append(entry)
            self._indexes[key] = index
        return self._indexes[key]

    def _summed(self, dims: tuple[str, ...], start: datetime, end: datetime) -> dict[tuple, list]:
        """The rows of [start, end) summed by `dims` only, once per range and dims: the rules
        ask a few ranges (the minute's end edge is every rule's) by a few dimensions."""
        cached = self._sums.get((dims, start, end))
        if cached is not None:
            return cached
        held = self._set_for(set(dims))
        assert held is not None, "summed only where `covers` found a set holding dims"
        source = self.sets[held]
        columns = [DIMENSIONS.index(dim) for dim in dims]
        summed: dict[tuple, list] = {}
        for piece in range(self.bounds.index(start) + 1, self.bounds.index(end) + 1):
            for row in source.get(piece, ()):
                key = tuple(row[i] for i in columns)
                total = summed.get(key)
                if total is None:
                    summed[key] = [row[-2], row[-1]]
                else:
                    total[0] += row[-2]
                    total[1] += row[-1]
        self._sums[(dims, start, end)] = summed
        return summed


@dataclass
class EdgeMemory:
    """Raw edge minutes' counts kept from one `read_edges` to the next: an evaluator asks
    nearly the same minutes every minute (each window's edges move by one minute), so it
    reads only the newest raw minute, not the ~30 minutes of raw rows the edges span (which
    grow with the traffic).

    Exact: each minute is kept with its quarter hour's mark, read from the category rollup
    (`ROLLUP_MARK`: its rows of that quarter, their events, the newest transaction that wrote
    one) before the minute's raw rows. Ingest writes a raw row and its rollup rows in one
    statement, so a row stored since the minute was read has moved its quarter's mark; a
    minute whose mark moved is read again (with traffic arriving, the current quarter hour's
    minutes are read each time; a finished quarter hour's are kept). Every minute of the
    rules' windows is held (read once, as the newest), so that it is not read again when it
    becomes a start edge; minutes outside them are dropped. One per process and database
    (the evaluator's); not thread-safe."""

    database: str = ""
    # (minute, dimensions) -> rows (five values, calls, errors), as `Edges.sets` holds them
    minutes: dict[tuple[datetime, tuple[str, ...]], list[tuple]] = field(default_factory=dict)
    marks: dict[datetime, tuple] = field(default_factory=dict)  # minute -> its quarter's mark
    raw_minutes_read: int = 0  # minutes read from the raw rows, in all (tests, profiles)

    def rows_by_minute(
        self,
        runs: list[list[datetime]],
        wanted: list[tuple[str, ...]],
        keep: Iterable[tuple[datetime, datetime]] = (),
    ) -> dict[tuple[datetime, tuple[str, ...]], list[tuple]]:
        """Each minute of `runs` counted by each set in `wanted`: from memory where its
        quarter's mark has not moved, from the raw rows (one query) otherwise. The minutes of
        `keep` (the rules' whole windows, up to `KEPT_SPAN` long) are read once and held for
        the minutes to come, when they become edges; every other minute is dropped."""
        database = str(connection.settings_dict["NAME"])
        if database != self.database:
            self.database, self.minutes, self.marks = database, {}, {}
        needed = [m for a, b in runs for m in _minutes(a, b)]
        spans = [(a, b) for a, b in keep if b - a <= KEPT_SPAN]
        kept = {m for a, b in spans for m in _minutes(a, b)} | set(needed)

        def held(m: datetime) -> bool:
            return m in self.marks and all((m, dims) in self.minutes for dims in wanted)

        unread = [m for m in sorted(kept) if not held(m)]
        marks = _quarter_marks({floor_to_grain(m) for m in [*needed, *unread]})
        moved = [m for m in needed if held(m) and self.marks[m] != marks[floor_to_grain(m)]]
        stale = sorted({*unread, *moved})
        if stale:
            read = _read_minutes(stale, wanted)
            self.raw_minutes_read += len(stale)
            for m in stale:
                self.marks[m] = marks[floor_to_grain(m)]
                for dims in wanted:
                    self.minutes[(m, dims)] = read.get((m, dims), [])
        self.marks = {m: mark for m, mark in self.marks.items() if m in kept}
        self.minutes = {key: rows for key, rows in self.minutes.items() if key[0] in kept}
        return self.minutes


# A quarter hour's mark: any row stored in it since changes one of these (`EdgeMemory`).
ROLLUP_MARK = (
    "SELECT bucket, count(*), sum(events)::bigint, max(xmin::text::bigint)"
    " FROM ingest_rollup_category WHERE bucket = ANY(%s) GROUP BY bucket"
)


def _quarter_marks(quarters: set[datetime]) -> dict[datetime, tuple]:
    with connection.cursor() as cursor:
        cursor.execute(ROLLUP_MARK, [sorted(quarters)])
        found = {bucket: tuple(rest) for bucket, *rest in cursor.fetchall()}
    return {quarter: found.get(quarter, (0, 0, 0)) for quarter in quarters}


def _minutes(start: datetime, end: datetime) -> list[datetime]:
    return [start + n * MINUTE for n in range(int((end - start) / MINUTE))]


def _read_minutes(
    minutes: list[datetime], wanted: list[tuple[str, ...]]
) -> dict[tuple[datetime, tuple[str, ...]], list[tuple]]:
    """The raw rows of these minutes, counted per minute by each set in `wanted`."""
    runs: list[list[datetime]] = []
    for m in sorted(minutes):
        if runs and runs[-1][1] == m:
            runs[-1][1] = m + MINUTE
        else:
            runs.append([m, m + MINUTE])
    bounds = sorted({m for a, b in runs for m in [*_minutes(a, b), b]})
    read: dict[tuple[datetime, tuple[str, ...]], list[tuple]] = {}
    for dims, by_slice in _grouping_sets(runs, bounds, wanted).items():
        for piece, rows in by_slice.items():
            read[(bounds[piece - 1], dims)] = rows
    return read


def read_edges(
    ranges: Iterable[tuple[datetime, datetime]],
    dims_sets: Iterable[Iterable[str]] = (DIMENSIONS,),
    *,
    memory: EdgeMemory | None = None,
    keep: Iterable[tuple[datetime, datetime]] = (),
) -> Edges:
    """The raw rows of every range in one query, counted per slice between the ranges' ends
    (`Edges`) by each set of dimensions in `dims_sets` (GROUPING SETS: the database sums the
    rows by what the rules ask, e.g. courier and code, instead of returning a row per
    combination of all five dimensions, which grows with the traffic, for Python to sum).

    Slices, not minutes: the rows come back once per slice (five or so for a minute of rules,
    against the ~28 minutes the edges span), as a slice number, not a timestamp to parse."""
    ranges = sorted({(a.astimezone(UTC), b.astimezone(UTC)) for a, b in ranges if a < b})
    merged: list[list[datetime]] = []
    for a, b in ranges:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    edges = Edges(
        covered=[(a, b) for a, b in merged], bounds=sorted({end for r in ranges for end in r})
    )
    wanted = {tuple(dim for dim in DIMENSIONS if dim in set(dims)) for dims in dims_sets}
    edges.sets = {dims: {} for dims in sorted(wanted)}
    if not merged:
        return edges
    keep = {(a.astimezone(UTC), b.astimezone(UTC)) for a, b in set(keep)}
    whole = [end for r in [*ranges, *keep] for end in r]
    if memory is None or any(end.second or end.microsecond for end in whole):
        edges.sets.update(_grouping_sets(merged, edges.bounds, sorted(wanted)))
        return edges
    by_minute = memory.rows_by_minute(merged, sorted(wanted), keep)
    for dims, by_slice in edges.sets.items():
        for a, b in merged:
            for m in _minutes(a, b):
                rows = by_minute[(m, dims)]
                if rows:
                    by_slice.setdefault(bisect_right(edges.bounds, m), []).extend(rows)
        for piece, rows in by_slice.items():
            by_slice[piece] = _summed_rows(rows)
    return edges


def _summed_rows(rows: list[tuple]) -> list[tuple]:
    """Rows (five values, calls, errors) of several minutes, summed by their five values."""
    summed: dict[tuple, list[int]] = {}
    for row in rows:
        key = row[:5]
        total = summed.get(key)
        if total is None:
            summed[key] = [row[5], row[6]]
        else:
            total[0] += row[5]
            total[1] += row[6]
    return [(*key, calls, errors) for key, (calls, errors) in summed.items()]


def _grouping_sets(
    merged: list[list[datetime]], bounds: list[datetime], wanted: list[tuple[str, ...]]
) -> dict[tuple[str, ...], dict[int, list[tuple]]]:
    """The raw rows of the `merged` ranges counted per slice of `bounds` by each set in
    `wanted` (one query): dimensions -> slice -> rows (five values, calls, errors)."""
    sql, params = _edges_sql(merged, bounds, wanted)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    union = [dim for dim in DIMENSIONS if any(dim in dims for dims in wanted)]
    top = len(union) - 1  # GROUPING's first argument is its highest bit
    by_mask: dict[int, dict[int, list[tuple]]] = {}
    for row in rows:
        by_mask.setdefault(row[6], {}).setdefault(row[0], []).append((*row[1:6], *row[7:]))
    sets: dict[tuple[str, ...], dict[int, list[tuple]]] = {}
    for mask, by_slice in by_mask.items():
        dims = tuple(dim for n, dim in enumerate(union) if not mask & (1 << (top - n)))
        sets[dims] = by_slice
    return sets


def _edges_sql(
    merged: list[list[datetime]], bounds: list[datetime], wanted: list[tuple[str, ...]]
) -> tuple[str, list]:
    clauses, params = [], []
    for a, b in merged:
        window = readable(RAW, Window(start=a, end=b, tz=UTC_ZONE))
        clauses.append(f"({RAW.time_column} >= %s AND {RAW.time_column} < %s)")
        params += [window.start, window.end]
    union = [dim for dim in DIMENSIONS if any(dim in dims for dims in wanted)]
    # Five columns whatever the sets (NULL for a dimension none of them counts by).
    columns = ", ".join(dim if dim in union else "NULL" for dim in DIMENSIONS)
    sets = ", ".join("(" + ", ".join(["slice", *dims]) + ")" for dims in wanted)
    # GROUPING(...): a bit per dimension, first = highest, set when the row is summed over it.
    grouping = f"GROUPING({', '.join(union)})" if union else "0"
    # The raw source's spellings, named as the dimensions, under the slice each row is in.
    raw = ", ".join(f"{RAW.column(dim)} AS {dim}" for dim in union)
    sql = (
        f"SELECT slice, {columns}, {grouping}, {RAW.events_sql}, {RAW.errors_sql}"
        f" FROM (SELECT width_bucket({RAW.time_column}, %s::timestamptz[]) AS slice,"
        f" {raw + ', ' if raw else ''}is_error FROM {RAW.table} WHERE {' OR '.join(clauses)}) AS r"
        f" GROUP BY GROUPING SETS ({sets})"
    )
    return sql, ["{" + ",".join(b.isoformat() for b in bounds) + "}", *params]


def window_counts(
    *,
    start: datetime,
    end: datetime,
    filters: Filters,
    group: Sequence[str] = (),
    edges: Edges | None = None,
) -> dict[Key, tuple[int, int]]:
    """Calls and errors per group in exactly [start, end): key (group values) -> (calls, errors).

    Whole quarter hours come from the narrowest rollup that covers the group and filters (the
    raw rows when none does, as for the charts), the partial quarter hours at the edges from
    the raw rows. Keys are spelled as `stats.questions.breakdown` spells them (cp_id 0 is "no
    courier", account_code '' "no account"). Groups with no calls are absent. With `edges`
    (read beforehand by `read_edges`), the edges they cover are summed from them, not read.
    """
    totals: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    pieces, inner = _pieces(start.astimezone(UTC), end.astimezone(UTC))
    parts: list[tuple[Window, str | None]] = []
    for a, b in pieces:
        if edges is not None and edges.covers(a, b, dims=(*filters.dims(), *group)):
            edges.add_to(totals, start=a, end=b, filters=filters, group=group)
        else:
            parts.append((Window(start=a, end=b, tz=UTC_ZONE), "minute"))
    if inner:
        parts.append((Window(start=inner[0], end=inner[1], tz=UTC_ZONE), None))
    for window, interval in parts:
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
    *,
    start: datetime,
    end: datetime,
    filters: Filters,
    group: Sequence[str] = (),
    without_codes: Iterable[int] = (),
) -> dict[Key, tuple[list[int], list[int]]]:
    """Calls and errors per minute of [start, end) (whole UTC minutes), per group, from the raw
    rows in one query: key -> (calls per minute, errors per minute), index 0 = `start`.
    `without_codes`: rows of these codes left out (a rule's benign codes).

    The same rows and filters as the charts' raw source (`stats.questions.RAW`). Shaped for
    long ranges (14 days of 10 M events is millions of rows): rows are binned by `date_bin`
    (timestamp arithmetic, not a numeric per row), the (minute, group) table is hashed in
    memory (`work_mem` raised for this statement only: it would spill to disk in batches
    otherwise), and each group comes back as one row of arrays (minute index, calls, errors),
    not one Python row per minute and group."""
    start, end = _minute(start), _minute(end)
    size = int((end - start) / MINUTE)
    if size <= 0:
        return {}
    sql, params = _per_minute_sql(
        start=start, end=end, filters=filters, group=group, without_codes=sorted(without_codes)
    )
    series: dict[Key, tuple[list[int], list[int]]] = {}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL work_mem = '{PER_MINUTE_WORK_MEM}'")
        cursor.execute(sql, params)
        for *key, slots, calls, errors in cursor.fetchall():
            if slots is None:
                continue  # ungrouped, over no rows: one row of NULLs
            calls_per_minute, errors_per_minute = [0] * size, [0] * size
            for slot, c, e in zip(slots, calls, errors, strict=True):
                calls_per_minute[slot] = c
                errors_per_minute[slot] = e
            series[tuple(key)] = (calls_per_minute, errors_per_minute)
    return series


def _per_minute_sql(
    *,
    start: datetime,
    end: datetime,
    filters: Filters,
    group: Sequence[str],
    without_codes: list[int],
) -> tuple[str, list]:
    conditions, params = sql_conditions(
        source=RAW, window=Window(start=start, end=end, tz=UTC_ZONE), filters=filters
    )
    if without_codes:
        conditions.append(f"{RAW.column('code')} <> ALL(%s)")
        params.append(without_codes)
    names = [f"g{n}" for n in range(len(group))]  # any dimension, even one named "minute"
    keys = [f"{RAW.column(dim)} AS {name}" for dim, name in zip(group, names, strict=True)]
    inner = (
        f"SELECT date_bin('1 minute', {RAW.time_column}, %s) AS minute, "
        + ", ".join([*keys, f"{RAW.events_sql} AS events", f"{RAW.errors_sql} AS errors"])
        + f" FROM {RAW.table} WHERE {' AND '.join(conditions)}"
        + f" GROUP BY {', '.join(str(n) for n in range(1, len(group) + 2))}"
    )
    outer = ", ".join(
        [
            *names,
            "array_agg((date_part('epoch', minute - %s) / 60)::int)",
            "array_agg(events)",
            "array_agg(errors)",
        ]
    )
    grouped = f" GROUP BY {', '.join(names)}" if names else ""
    # Parameters in the text's order: the outer minute index, then the bins' origin.
    return f"SELECT {outer} FROM ({inner}) AS m{grouped}", [start, start, *params]


def _minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)
