"""The questions the dashboard, the API and the reports ask: timeseries, breakdowns, totals,
heatmap and code counts. Every figure comes from one SQL builder (stats.sql.aggregate_query,
which picks the narrowest rollup) over the buckets of stats.buckets.

Counts are calls (`events`) and failing calls (`errors`). Ratios come from stats.rates: 0 when
the denominator is 0, except `change`, which is None when the previous period had no errors.
Results are the TypedDicts of stats.results; times are aware datetimes in the window's zone.

No answer grows with a dimension's cardinality (3,000 distinct unknown codes must not make a
735 MB response): a timeseries keeps its `limit` series with the most errors and sums the rest
into one series keyed `other` (in SQL, so memory is bounded too); the heatmap keeps its `limit`
couriers and an `other` row; the code list is the catalog plus at most MAX_UNKNOWN_CODES codes
seen outside it and an `other` row; a breakdown is its top `limit` rows.

The SQL builder and the bucket calendar moved to stats.sql and stats.buckets; their public
names are re-exported here for the callers that import them from this module.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from itertools import repeat
from typing import Any, cast

import numpy as np

from ingest.catalog import CATEGORIES, SUCCESS, UNKNOWN
from ingest.latency import COUNT_BITS, decode
from ingest.models import CodeEntry, Courier
from stats.buckets import (  # noqa: F401  (re-exported)
    INTERVALS,
    MAX_BUCKETS,
    MAX_MINUTE_SPAN,
    bucket_starts,
    check_interval,
)
from stats.latency import (
    BUCKETS,
    Histogram,
    dense,
    fetch_stacked,
    histograms_by,
    merged_sql,
    percentile,
    percentile_key,
    percentile_table,
)
from stats.latency import percentiles as percentiles_of
from stats.rates import change, rate, rates
from stats.results import (
    OTHER,
    BreakdownRow,
    CodeRow,
    Heatmap,
    HeatmapCourier,
    Key,
    LatencyPoint,
    LatencySeries,
    LatencyTimeseries,
    Point,
    Series,
    Timeseries,
    Totals,
)
from stats.sql import (  # noqa: F401  (re-exported)
    RAW,
    ROLLUPS,
    Source,
    aggregate_query,
    choose_source,
    counts,
    fetch,
    hourly_latency_query,
    latency_query,
    sql_conditions,
    whole_utc_days,
)
from stats.window import Filters, Window

GROUPS = ("none", "category", "code", "endpoint", "cp_id", "account_code")
BREAKDOWNS = ("code", "category", "endpoint", "cp_id", "account_code")
DEFAULT_SERIES = 10  # SPEC "Read API": `limit` series by default, at most MAX_SERIES
MAX_SERIES = 50
DEFAULT_HEATMAP_COURIERS = 20
MAX_UNKNOWN_CODES = 50
ERROR_CATEGORIES = tuple(c for c in CATEGORIES if c != SUCCESS)


# ---------------------------------------------------------------- labels


def courier_label(cp_id: int, names: dict[int, str]) -> str:
    """The courier's last seen name; "no courier" for 0; "cp 12" when no name is known."""
    if cp_id == 0:
        return "no courier"
    return names.get(cp_id) or f"cp {cp_id}"


def labeler(dim: str, keys: Iterable[Any]) -> Callable[[Any], str]:
    """A function key -> human label for the keys of one dimension (one query at most)."""
    keys = [key for key in keys if key != OTHER]
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


_NOUNS = {"cp_id": "courier", "account_code": "account"}  # how a label names a group's kind


def other_label(count: int, noun: str) -> str:
    return f"{count:,} other {noun}{'' if count == 1 else 's'}"


# ---------------------------------------------------------------- timeseries


def _points(
    stamps: Sequence[Any], events: Sequence[int], errors: Sequence[int], wholes: Sequence[int]
) -> list[Point]:
    """SPEC's points, built in one pass (720 x 8 of them for a month of hours by category)."""
    return [
        {"t": t, "events": n, "errors": e, "error_rate": r, "share": s}
        for t, n, e, r, s in zip(
            stamps, events, errors, rates(errors, events), rates(errors, wholes), strict=True
        )
    ]


def timeseries(
    *,
    window: Window,
    interval: str,
    group_by: str,
    filters: Filters,
    limit: int = DEFAULT_SERIES,
) -> Timeseries:
    """Calls and errors per bucket, in total and per group; empty buckets are zeros.

    SPEC's shape: "totals" and "series" [{"key", "label", "points"}], a point being {"t" (the
    bucket start in the window's zone), "events", "errors", "error_rate", "share"} with `share`
    = the group's errors / all calls in the bucket. Series are ordered by errors, most first:
    the `limit` with most errors, then (when there are more) one keyed `other` summing the
    rest. group_by "none" gives one series, key "all". Raises ReadError for too many buckets.
    """
    window = window.snapped()
    check_interval(window=window, interval=interval)
    edges = bucket_starts(start=window.start, end=window.end, interval=interval, tz=window.tz)
    events, errors, others = _counts_per_bucket(
        window=window,
        filters=filters,
        group_by=group_by,
        interval=interval,
        edges=edges,
        limit=limit,
    )
    all_events, all_errors = _column_sums(events, len(edges)), _column_sums(errors, len(edges))
    return {
        "interval": interval,
        "tz": str(window.tz),
        "group_by": group_by,
        "start": window.start.astimezone(window.tz),
        "end": window.end.astimezone(window.tz),
        "totals": _points(edges, all_events, all_errors, all_events),
        "series": _series(
            events, errors, all_events, edges=edges, group_by=group_by, others=others
        ),
    }


def _counts_per_bucket(
    *,
    window: Window,
    filters: Filters,
    group_by: str,
    interval: str,
    edges: Sequence[Any],
    limit: int,
) -> tuple[dict[Key, list[int]], dict[Key, list[int]], int]:
    """key -> events per bucket, key -> errors per bucket, and how many values of the group
    were summed into OTHER (beyond the `limit` with most errors; 0 when none were)."""
    group = [] if group_by == "none" else [group_by]
    source = choose_source(dims=filters.dims() | set(group), interval=interval)
    sql, params = aggregate_query(
        source=source, window=window, filters=filters, group=group, edges=edges
    )
    # Categories are a closed set of 7: no bound to apply, so the overview's chart keeps its
    # plain query.
    capped = bool(group) and not (group_by == "category" and limit >= len(CATEGORIES))
    if not capped:
        return (*_dense(fetch(sql, params), size=len(edges), keep_all=not group), 0)
    rows = fetch(*_top_series_query(sql, params, dim=group_by, limit=limit))
    others = rows[0][-1] if rows else 0
    return (*_dense([row[:-1] for row in rows], size=len(edges), keep_all=False), others)


def _series(
    events: dict[Key, list[int]],
    errors: dict[Key, list[int]],
    all_events: list[int],
    *,
    edges: Sequence[Any],
    group_by: str,
    others: int,
) -> list[Series]:
    """One series per key, most errors first (then most calls, then by text), OTHER last."""
    order = sorted(
        (key for key in events if key != OTHER),
        key=lambda key: (-sum(errors[key]), -sum(events[key]), str(key)),
    )
    label = (lambda key: "all calls") if group_by == "none" else labeler(group_by, order)
    series: list[Series] = [
        {
            "key": key,
            "label": label(key),
            "points": _points(edges, events[key], errors[key], all_events),
        }
        for key in order
    ]
    if OTHER in events:
        series.append(
            {
                "key": OTHER,
                "label": other_label(others, _NOUNS.get(group_by, group_by)),
                "points": _points(edges, events[OTHER], errors[OTHER], all_events),
            }
        )
    return series


def _top_series_query(sql: str, params: list, *, dim: str, limit: int) -> tuple[str, list]:
    """`sql`'s (slot, dim, events, errors) rows with every value of `dim` outside the `limit`
    with most errors (then most calls, then by text, as the series are ordered) merged into
    one NULL key per slot, and the count of those values in a last column: the rows fetched
    stay at most (limit + 1) x buckets however many values there are."""
    return (
        f"WITH grouped AS ({sql}), "
        f"totals AS (SELECT {dim}, sum(errors) AS errors, sum(events) AS events "
        f"FROM grouped GROUP BY {dim}), "
        f"top AS (SELECT {dim} FROM totals ORDER BY errors DESC, events DESC, {dim}::text "
        "LIMIT %s) "
        f"SELECT slot, top.{dim}, sum(grouped.events)::bigint, sum(grouped.errors)::bigint, "
        f"(SELECT count(*) FROM totals) - (SELECT count(*) FROM top) "
        f"FROM grouped LEFT JOIN top USING ({dim}) GROUP BY 1, 2",
        [*params, limit],
    )


def _dense(rows: Iterable[tuple], *, size: int, keep_all: bool) -> tuple[dict, dict]:
    """`(slot, [key,] events, errors)` rows -> key -> events per bucket, key -> errors per
    bucket (zeros where no row); the key is "all" without a group, kept even when empty, and
    OTHER for the NULL key of `_top_series_query`."""
    events: dict[Key, list[int]] = {}
    errors: dict[Key, list[int]] = {}
    keyed = rows if not keep_all else ((slot, "all", n, e) for slot, n, e in rows)
    for slot, key, n, e in keyed:
        name = OTHER if key is None else key
        if name not in events:
            events[name], errors[name] = [0] * size, [0] * size
        events[name][slot - 1] = n
        errors[name][slot - 1] = e
    if keep_all and not events:
        events["all"], errors["all"] = [0] * size, [0] * size
    return events, errors


def _column_sums(series: dict[Key, list[int]], size: int) -> list[int]:
    if not series:
        return [0] * size
    return [sum(column) for column in zip(*series.values(), strict=True)]


# ---------------------------------------------------------------- latency over time


def latency_timeseries(
    *,
    window: Window,
    interval: str,
    group_by: str,
    filters: Filters,
    percentiles: Sequence[float],
    limit: int = DEFAULT_SERIES,
) -> LatencyTimeseries:
    """Calls with a latency and their percentiles per bucket, in total and per group.

    The timeseries' shape (stats.questions.timeseries): "totals" and "series", a point being
    {"t", "calls", "p50", ...} (one key per percentile, `percentile_key`), None where a bucket
    has no call with a latency; empty buckets are present. Series are ordered by calls with a
    latency, most first: the `limit` with most calls, then (when there are more) one keyed
    `other` merging the rest. group_by "none" gives one series, key "all"."""
    window = window.snapped()
    check_interval(window=window, interval=interval)
    edges = bucket_starts(start=window.start, end=window.end, interval=interval, tz=window.tz)
    group = [] if group_by == "none" else [group_by]
    hourly = hourly_latency_query(
        window=window, filters=filters, by=group, interval=interval, edges=edges
    )
    if hourly is not None:
        keys, key_points, totals_points, others = _dense_latency_series(
            hourly, edges=edges, limit=limit if group else 0, percentiles=percentiles
        )
        return _latency_answer(
            window=window,
            interval=interval,
            group_by=group_by,
            percentiles=percentiles,
            totals=totals_points,
            series=_latency_series(group_by, keys, key_points, others),
        )
    source = choose_source(dims=filters.dims() | set(group), interval=interval)
    sql, params = latency_query(
        source=source, window=window, filters=filters, group=group, edges=edges
    )
    per_key, totals, others = _slot_histograms(sql, params, grouped=bool(group), limit=limit)
    size = len(edges)

    def points(histograms: dict[int, Histogram]) -> list[LatencyPoint]:
        return [
            _point(edges[slot - 1], histograms.get(slot, {}), percentiles)
            for slot in range(1, size + 1)
        ]

    order = sorted(
        (key for key in per_key if key != OTHER),
        key=lambda key: (-_calls(per_key[key]), str(key)),
    )
    if not group:
        order = ["all"]
        per_key = {"all": totals}
    label = (lambda key: "all calls") if not group else labeler(group_by, order)
    series: list[LatencySeries] = [
        {"key": key, "label": label(key), "points": points(per_key[key])} for key in order
    ]
    if OTHER in per_key:
        series.append(
            {
                "key": OTHER,
                "label": other_label(others, _NOUNS.get(group_by, group_by)),
                "points": points(per_key[OTHER]),
            }
        )
    return _latency_answer(
        window=window,
        interval=interval,
        group_by=group_by,
        percentiles=percentiles,
        totals=points(totals),
        series=series,
    )


def _latency_series(
    group_by: str, keys: list[Key], points: list[list[LatencyPoint]], others: int
) -> list[LatencySeries]:
    """The series of `_dense_latency_series`' keys, labelled (none without a group)."""
    if group_by == "none":
        return []
    label = labeler(group_by, [key for key in keys if key != OTHER])
    other = other_label(others, _NOUNS.get(group_by, group_by))
    return [
        {"key": key, "label": other if key == OTHER else label(key), "points": key_points}
        for key, key_points in zip(keys, points, strict=True)
    ]


def _latency_answer(
    *,
    window: Window,
    interval: str,
    group_by: str,
    percentiles: Sequence[float],
    totals: list[LatencyPoint],
    series: list[LatencySeries],
) -> LatencyTimeseries:
    """The answer's shape; without a group, one series "all" of the totals."""
    if group_by == "none":
        series = [{"key": "all", "label": "all calls", "points": totals}]
    return {
        "interval": interval,
        "tz": str(window.tz),
        "group_by": group_by,
        "percentiles": list(percentiles),
        "start": window.start.astimezone(window.tz),
        "end": window.end.astimezone(window.tz),
        "totals": totals,
        "series": series,
    }


def _dense_latency_series(
    query: tuple[str, list],
    *,
    edges: Sequence[Any],
    limit: int,
    percentiles: Sequence[float],
) -> tuple[list[Key], list[list[LatencyPoint]], list[LatencyPoint], int]:
    """`latency_timeseries` from the hourly latency rollups' rows (`[slot,] *key, hist`):
    every histogram added into one (keys x buckets x latency buckets) matrix, the series kept
    as `_slot_histograms` keeps them (the `limit` keys with most calls, then OTHER), and every
    percentile of every point taken at once (`limit` 0: the totals only). Returns the kept
    keys, their points, the totals' points and how many keys OTHER merged."""
    size = len(edges)
    stacks = fetch_stacked(*query, keys=1 if limit else 0, slotted=True)
    index = {key[0] if key else "all": n for n, (key, *_) in enumerate(stacks)}
    cells = [n * size + slots - 1 for n, (_, slots, _, _) in enumerate(stacks)]
    matrix = dense(
        np.concatenate([np.zeros(0, dtype=np.int64), *cells]),
        np.concatenate([np.zeros(0, dtype=np.int64), *(stack[2] for stack in stacks)]),
        np.concatenate([np.zeros(0, dtype=np.int64), *(stack[3] for stack in stacks)]),
        len(index) * size,
    ).reshape(len(index), size, BUCKETS)
    calls = matrix.sum(axis=(1, 2)).tolist()
    ranked = sorted(index, key=lambda key: (-calls[index[key]], str(key)))
    kept, rest = ranked[:limit], [index[key] for key in ranked[limit:]] if limit else []
    rows = [matrix[index[key]] for key in kept]
    if rest:
        rows.append(matrix[rest].sum(axis=0))
    rows.append(matrix.sum(axis=0))
    stacked = np.concatenate(rows) if rows else np.zeros((0, BUCKETS), dtype=np.int64)
    point_calls, values = percentile_table(stacked, percentiles)
    names = ["t", "calls", *(percentile_key(p) for p in percentiles)]
    times: list[Any] = list(edges) * (len(point_calls) // size)
    columns: list[list[Any]] = [times, point_calls, *values]
    # map over C builtins: ~9,400 points built at a third of a comprehension's cost.
    points = cast(
        list[LatencyPoint], list(map(dict, map(zip, repeat(names), zip(*columns, strict=True))))
    )
    chunks = [points[n : n + size] for n in range(0, len(points), size)]
    return [*kept, *([OTHER] if rest else [])], chunks[:-1], chunks[-1], len(rest)


def _calls(histograms: dict[int, Histogram]) -> int:
    return sum(sum(histogram.values()) for histogram in histograms.values())


def _point(t: Any, histogram: Histogram, percentiles: Sequence[float]) -> LatencyPoint:
    point: LatencyPoint = {"t": t, "calls": sum(histogram.values())}
    for p, value in zip(percentiles, percentiles_of(histogram, percentiles), strict=True):
        point[percentile_key(p)] = value
    return point


def _slot_histograms(
    sql: str, params: list, *, grouped: bool, limit: int
) -> tuple[dict[Key, dict[int, Histogram]], dict[int, Histogram], int]:
    """key -> slot -> histogram for the `limit` keys with most calls (the rest merged under
    OTHER), slot -> histogram over every key, and how many keys were merged into OTHER.

    One query: the rows fetched stay (limit + 2) x buckets x latency buckets at most, however
    many values the group has, and every merge is done in SQL."""
    if not grouped:
        rows = fetch(*merged_sql(sql, params, keys=1))
        return {}, {slot: decode(stored) for slot, stored in rows}, 0
    shape = "h AS t(slot, k, lb, calls)"
    query = (
        f"WITH h AS ({sql}), "
        f"totals AS (SELECT k, sum(calls) AS calls FROM {shape} GROUP BY k), "
        "top AS (SELECT k FROM totals ORDER BY calls DESC, k::text LIMIT %s), "
        "merged AS (SELECT slot, top.k, grouping(top.k) AS whole, lb, "
        f"sum(calls)::bigint AS calls FROM {shape} LEFT JOIN top USING (k) "
        "GROUP BY GROUPING SETS ((slot, top.k, lb), (slot, lb))) "
        f"SELECT slot, k, whole, array_agg((lb::bigint << {COUNT_BITS}) | calls ORDER BY lb), "
        "(SELECT count(*) FROM totals) - (SELECT count(*) FROM top) "
        "FROM merged GROUP BY slot, k, whole"
    )
    per_key: dict[Key, dict[int, Histogram]] = {}
    totals: dict[int, Histogram] = {}
    others = 0
    for slot, key, whole, stored, merged_keys in fetch(query, [*params, limit]):
        others = merged_keys
        if whole:
            totals[slot] = decode(stored)
        else:
            per_key.setdefault(OTHER if key is None else key, {})[slot] = decode(stored)
    return per_key, totals, others


# ---------------------------------------------------------------- sums over the window


def breakdown(*, window: Window, by: str, limit: int, filters: Filters) -> list[BreakdownRow]:
    """The top `limit` values of one dimension by errors in the window, most errors first.

    `share` = errors / all calls in the window (the shares add up to the error rate);
    `previous_errors` counts the same-length period just before; `change` is the relative
    change of errors against it (None when it had none); `p50_ms` and `p95_ms` the latency
    of the row's calls that carry one (None without any).
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
    latencies = histograms_by(window=window, filters=narrowed, by=[by]) if top else {}
    return [
        {
            "key": key,
            "label": label(key),
            "events": events,
            "errors": errors,
            "error_rate": rate(errors, events),
            "share": rate(errors, all_events),
            "previous_errors": before.get(key, 0),
            "change": change(errors, before.get(key, 0)),
            "p50_ms": percentile(latencies.get((key,), {}), 50),
            "p95_ms": percentile(latencies.get((key,), {}), 95),
        }
        for key, events, errors in top
    ]


def totals(*, window: Window, filters: Filters) -> Totals:
    """Calls, errors and error rate in the window and in the same-length period before it
    (`change`: the relative change of errors, None when the previous period had none)."""
    window = window.snapped()
    [(events, errors)] = counts(window=window, filters=filters)
    [(before_events, before_errors)] = counts(window=window.previous(), filters=filters)
    events, errors = events or 0, errors or 0
    before_events, before_errors = before_events or 0, before_errors or 0
    return {
        "events": events,
        "errors": errors,
        "error_rate": rate(errors, events),
        "previous_events": before_events,
        "previous_errors": before_errors,
        "previous_error_rate": rate(before_errors, before_events),
        "change": change(errors, before_errors),
    }


def heatmap(*, window: Window, filters: Filters, limit: int = DEFAULT_HEATMAP_COURIERS) -> Heatmap:
    """Errors and calls per courier x error category in the window.

    "couriers" [{"key", "label"}]: the `limit` with most errors, most first, then (when there
    are more) one keyed `other` summing the rest; "categories" the error categories;
    "errors" and "events" matrices indexed [courier][category].
    """
    window = window.snapped()
    rows = counts(window=window, filters=filters, group=["cp_id", "category"])
    column = {category: j for j, category in enumerate(ERROR_CATEGORIES)}
    cells: dict[Key, list[list[int]]] = defaultdict(
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
    order, rest = order[:limit], order[limit:]
    label = labeler("cp_id", order)
    couriers: list[HeatmapCourier] = [{"key": cp, "label": label(cp)} for cp in order]
    if rest:
        cells[OTHER] = [_sum_rows(cells[cp][i] for cp in rest) for i in range(3)]
        order.append(OTHER)
        couriers.append({"key": OTHER, "label": other_label(len(rest), "courier")})
    return {
        "couriers": couriers,
        "categories": list(ERROR_CATEGORIES),
        "errors": [cells[cp][0] for cp in order],
        "events": [cells[cp][1] for cp in order],
    }


def _sum_rows(rows: Iterable[list[int]]) -> list[int]:
    return [sum(column) for column in zip(*rows, strict=True)]


def code_counts(*, window: Window, filters: Filters) -> list[CodeRow]:
    """The catalog with each code's calls and errors in the window, ordered by code.

    Codes seen in traffic but missing from the catalog are included with `in_catalog` false
    and the category they were tagged with (`unknown` for every code that is not 2xx): the
    MAX_UNKNOWN_CODES of them with most errors (then calls); any more are summed into a last
    row with `code` None. Catalog rows are limited by the `code` and `category` filters; the
    other filters limit the counts.
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
    unknown = sorted(seen, key=lambda code: (-seen[code][1], -seen[code][0], code))
    shown, rest = unknown[:MAX_UNKNOWN_CODES], unknown[MAX_UNKNOWN_CODES:]
    rows += [_unknown_code_row(code, seen[code]) for code in shown]
    rows.sort(key=lambda row: row["code"] or 0)
    if rest:
        rows.append(_other_codes_row([seen[code] for code in rest]))
    return rows


def _code_row(entry: CodeEntry, numbers: list | None) -> CodeRow:
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
        "error_rate": rate(errors, events),
    }


def _unknown_code_row(code: int, numbers: list) -> CodeRow:
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
        "error_rate": rate(errors, events),
    }


def _other_codes_row(numbers: list[list]) -> CodeRow:
    events = sum(n[0] for n in numbers)
    errors = sum(n[1] for n in numbers)
    return {
        "code": None,
        "category": UNKNOWN,
        "meaning": f"{other_label(len(numbers), 'code')} not in the catalog",
        "is_error": errors > 0,
        "retryable": False,
        "action": "Many codes outside the catalog: filter by code to see each one.",
        "in_catalog": False,
        "events": events,
        "errors": errors,
        "error_rate": rate(errors, events),
    }
