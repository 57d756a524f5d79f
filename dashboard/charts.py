"""Plotly figures as plain dicts, built from stats/selectors results. No database access here.

Every function returns `{"data", "layout", "config"}` (handed to the page with json_script and
drawn by static/js/charts.js) or None when there is nothing to draw, so the template can say
"no errors in this range" instead of showing an empty chart. Each clickable point carries the
URL of the events behind it in `customdata`. Text that came from the data is HTML-escaped,
because Plotly renders a subset of HTML tags in labels and hover text.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from typing import Any

from dashboard import bidi
from stats import results as stats_results
from stats.links import Drill, event_url
from stats.rates import fraction

Figure = dict[str, Any]

CATEGORY_COLORS = {
    "success": "#2ca02c",
    "server": "#d62728",
    "service": "#ff7f0e",
    "order_creation": "#9467bd",
    "webhook": "#17becf",
    "order_cancellation": "#e377c2",
    "unknown": "#7f7f7f",
}
_FALLBACK_COLOR = "#1f77b4"
_FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12}
_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["lasso2d"]}


def label_text(value: Any) -> str:
    """Text from the data as a Plotly label: HTML-escaped (Plotly renders a subset of tags),
    bidi controls shown as markers (dashboard.bidi), never applied."""
    return escape(bidi.plain(str(value)))


def color_of(category: str) -> str:
    return CATEGORY_COLORS.get(category, _FALLBACK_COLOR)


def wall_clock(value: datetime | str) -> str:
    """An instant as the wall-clock text of its own offset: Plotly date axes ignore offsets."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _as_datetime(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _figure(data: list[dict], layout: dict) -> Figure:
    base = {
        "font": _FONT,
        "margin": {"l": 56, "r": 16, "t": 16, "b": 48},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "hoverlabel": {"namelength": -1},
    }
    return {"data": data, "layout": {**base, **layout}, "config": dict(_CONFIG)}


PALETTE = (
    "#d62728",
    "#1f77b4",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#17becf",
    "#e377c2",
    "#bcbd22",
)
OTHER = "__other__"
SUMMED = stats_results.OTHER  # the read room's key of a row that sums the rest (no drill-down)
MAX_SERIES = len(PALETTE)  # a group's series beyond these are drawn as one "other" series
# The summed series is a neutral grey that no courier, code or category is ever drawn in, so
# "N others" never stacks on the worst group in the same colour.
OTHER_COLOR = "#b4b9c1"
PARTIAL_OPACITY = 0.45
LOW_VOLUME_OPACITY = 0.35  # a bucket under the volume floor: hatched and fainter still
_NOMINAL = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
}
# Phones: the legend goes under the plot in small type, so it never outgrows the plot.
_NARROW_LEGEND = {
    "legend": {"orientation": "h", "x": 0, "y": -0.18, "yanchor": "top", "font": {"size": 10}},
    "margin": {"l": 44, "r": 8, "t": 8, "b": 40},
    "yaxis": {"title": {"text": ""}},
}


@dataclass(frozen=True)
class Bucket:
    """One bar of a time chart: where it is drawn and the part of it inside the window."""

    index: int  # position in the timeseries' points
    x: str
    start: datetime
    end: datetime
    partial: bool


def visible_buckets(
    starts: Sequence[datetime | str], *, interval: str, window_start: datetime, until: datetime
) -> list[Bucket]:
    """The buckets that overlap [window_start, until), each clipped to it; a bucket is partial
    when the window cuts it (the first one of a range that starts mid-hour, the last one of a
    range that ends now)."""
    moments = [_as_datetime(t) for t in starts]
    ends = moments[1:] + [moments[-1] + _NOMINAL[interval]] if moments else []
    buckets = []
    for index, (start, end) in enumerate(zip(moments, ends, strict=True)):
        shown_start, shown_end = max(start, window_start), min(end, until)
        if shown_start >= shown_end:
            continue
        partial = shown_start > start or shown_end < end
        buckets.append(Bucket(index, wall_clock(start), shown_start, shown_end, partial))
    return buckets


def _series_color(group_by: str, key: str, index: int) -> str:
    """A group's colour: its category's, else the palette's by rank; the sum of the rest grey."""
    if key in (OTHER, SUMMED):
        return OTHER_COLOR
    if group_by == "category":
        return color_of(key)
    return PALETTE[index % len(PALETTE)]


def error_rate_figure(
    timeseries: Mapping[str, Any],
    *,
    drill: Drill,
    until: datetime | None = None,
    window_start: datetime | None = None,
    min_calls: int = 0,
) -> Figure | None:
    """Stacked bars of each group's share of ALL calls per bucket (they sum to the error rate).

    A bar's hover says what its height means: the group's errors over every call of the
    bucket, e.g. "server: 9.84% of all calls / 6 errors of 61 calls". Buckets outside
    [window_start, until) are not drawn and a partial bucket is drawn faded and says so.
    Beyond MAX_SERIES groups, the rest are one "other" series (not clickable, grey).

    A bucket with fewer than `min_calls` calls is treated as the heatmap treats a courier under
    its floor: too few calls to rate. Its bars are hatched and faded, say so on hover, and do
    not set the scale (the y axis fits the rated buckets; a taller low-volume bar is cut off),
    so four calls of a quiet hour never dwarf a real day.
    """
    group_by = str(timeseries.get("group_by", "category"))
    totals = timeseries["totals"]
    if not totals:
        return None
    buckets = visible_buckets(
        [p["t"] for p in totals],
        interval=str(timeseries.get("interval", "hour")),
        window_start=window_start or _as_datetime(timeseries["start"]),
        until=until or _as_datetime(timeseries["end"]),
    )
    series = [s for s in timeseries["series"] if any(p["errors"] for p in s["points"])]
    if not series or not buckets:
        return None
    # The read room sums the groups beyond its `limit` into one SUMMED series (labelled with
    # how many it holds): drawn as it is, grey. Groups beyond MAX_SERIES are summed here.
    summed = [s for s in series if s["key"] == SUMMED]
    own = [s for s in series if s["key"] != SUMMED]
    shown, rest = own[:MAX_SERIES], own[MAX_SERIES:]
    if rest:
        shown.append(_other([*rest, *summed], size=len(totals), counted=not summed))
    elif summed:
        shown.append(summed[0])
    low = [0 < totals[b.index]["events"] < min_calls for b in buckets]  # empty: nothing drawn
    traces = [
        _share_trace(
            s,
            totals=totals,
            buckets=buckets,
            low=low,
            min_calls=min_calls,
            drill=drill,
            group_by=group_by,
            index=i,
        )
        for i, s in enumerate(shown)
    ]
    if not any(any(t["y"]) for t in traces):
        return None
    yaxis = {"tickformat": ".1%", "rangemode": "tozero", "title": {"text": "error rate"}}
    layout = {
        "barmode": "stack",
        "bargap": 0.15,
        "hovermode": "closest",
        "xaxis": {"type": "date"},
        "yaxis": {**yaxis, **_rated_range(traces, low=low)},
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        "margin": {"l": 56, "r": 16, "t": 40, "b": 40},
    }
    figure = _figure(traces, layout)
    figure["narrow"] = _NARROW_LEGEND
    return figure


@dataclass(frozen=True)
class AlertMark:
    """An alert that fired inside the chart's window: when, and what to say on hover."""

    at: datetime  # aware, in the chart's zone
    text: str


_MARK_COLOR = "#b71c1c"


def mark_alerts(figure: Figure | None, marks: Sequence[AlertMark]) -> Figure | None:
    """A dotted line where each alert fired, with a small flag whose hover names the rule and
    group, so a bump on the chart can be matched with the page someone got."""
    if figure is None or not marks:
        return figure
    layout = figure["layout"]
    layout["shapes"] = [
        {
            "type": "line",
            "xref": "x",
            "yref": "paper",
            "x0": wall_clock(mark.at),
            "x1": wall_clock(mark.at),
            "y0": 0,
            "y1": 1,
            "line": {"color": _MARK_COLOR, "width": 1, "dash": "dot"},
        }
        for mark in marks
    ]
    layout["annotations"] = [
        {
            "x": wall_clock(mark.at),
            "y": 1,
            "xref": "x",
            "yref": "paper",
            "yanchor": "bottom",
            "showarrow": False,
            "text": "▼",
            "font": {"color": _MARK_COLOR, "size": 11},
            "hovertext": label_text(mark.text),
        }
        for mark in marks
    ]
    return figure


def _rated_range(traces: Sequence[Mapping[str, Any]], *, low: Sequence[bool]) -> dict:
    """The y range of the rated buckets' stacks when a low-volume bucket stands taller; else
    nothing (Plotly's own range)."""
    stacks = [sum(t["y"][i] for t in traces) for i in range(len(low))]
    rated = max((h for h, few in zip(stacks, low, strict=True) if not few), default=0.0)
    tallest = max(stacks, default=0.0)
    if rated <= 0 or tallest <= rated:
        return {}
    return {"range": [0, rated * 1.1], "autorange": False}


def _other(rest: Sequence[Mapping[str, Any]], *, size: int, counted: bool = True) -> dict:
    """The groups beyond MAX_SERIES summed into one series ("N others", or "others" when one
    of them is already a sum of an unknown number)."""
    points = [{"events": 0, "errors": 0} for _ in range(size)]
    for series in rest:
        for point, add in zip(points, series["points"], strict=True):
            point["events"] += add["events"]
            point["errors"] += add["errors"]
    label = ("1 other" if len(rest) == 1 else f"{len(rest)} others") if counted else "others"
    return {"key": OTHER, "label": label, "points": points}


def share_text(
    *, label: str, errors: int, bucket_calls: int, bucket: Bucket, min_calls: int = 0
) -> str:
    """What a stacked bar's height means, in words (its hover text)."""
    share = fraction(errors, bucket_calls)
    text = f"{label}: {share:.2%} of all calls<br>{errors:,} errors of {bucket_calls:,} calls"
    if bucket_calls < min_calls:
        text += f"<br>under {min_calls:,} calls: too few to rate"
    if bucket.partial:
        text += f"<br>partial bucket: {bucket.start:%H:%M}–{bucket.end:%H:%M}"
    return text


def _share_trace(
    series: Mapping[str, Any],
    *,
    totals: Sequence[Mapping[str, Any]],
    buckets: Sequence[Bucket],
    low: Sequence[bool],
    min_calls: int,
    drill: Drill,
    group_by: str,
    index: int,
) -> dict:
    key = series["key"]
    label = label_text(str(series["label"]))
    points = series["points"]
    picked = [(points[b.index], totals[b.index]["events"], b) for b in buckets]
    drillable = key not in (OTHER, SUMMED)
    return {
        "type": "bar",
        "name": label,
        "x": [b.x for b in buckets],
        "y": [fraction(p["errors"], calls) for p, calls, _ in picked],
        "text": [
            share_text(
                label=label, errors=p["errors"], bucket_calls=calls, bucket=b, min_calls=min_calls
            )
            for p, calls, b in picked
        ],
        "textposition": "none",
        "customdata": [
            drill.url(start=b.start, end=b.end, **{group_by: key})
            if drillable and p["errors"]
            else None
            for p, _, b in picked
        ],
        "marker": {
            "color": _series_color(group_by, str(key), index),
            "opacity": [
                LOW_VOLUME_OPACITY if few else PARTIAL_OPACITY if b.partial else 1
                for b, few in zip(buckets, low, strict=True)
            ],
            "pattern": {"shape": ["/" if few else "" for few in low]},
        },
        "hovertemplate": "%{x}<br>%{text}<extra></extra>",
    }


def top_codes_figure(rows: Sequence[Mapping[str, Any]], *, drill: Drill) -> Figure | None:
    """Horizontal bars of errors per code, most first; a bar opens that code's failures."""
    rows = [r for r in rows if r["errors"]]
    if not rows:
        return None
    trace = {
        "type": "bar",
        "orientation": "h",
        "y": [str(r["key"]) for r in rows],
        "x": [r["errors"] for r in rows],
        "text": [label_text(str(r["label"])) for r in rows],
        "textposition": "none",
        "customdata": [drill.url(code=r["key"]) for r in rows],
        "marker": {"color": color_of("server")},
        "hovertemplate": "%{text}<br>%{x:,} errors<extra></extra>",
    }
    layout = {
        "xaxis": {"title": {"text": "errors"}, "rangemode": "tozero"},
        "yaxis": {"type": "category", "autorange": "reversed", "title": {"text": "code"}},
        "bargap": 0.25,
    }
    return _figure([trace], layout)


LOW_VOLUME_COLORS = [[0, "#f6f7f9"], [1, "#c9ced8"]]  # grey: errors, but too few calls to rate


def heatmap_figure(matrix: Mapping[str, Any], *, drill: Drill) -> Figure | None:
    """Couriers (rows) x error categories (columns), coloured by error rate: the cell's errors
    over ALL of that courier's calls, so a small courier's outage is as dark as a big one's.

    Couriers under the volume floor (`min_calls`) are drawn by a second, grey trace (light
    where there are no errors, grey where there are some) so a few calls never look like an
    outage; every cell gives its counts on hover and opens its failures."""
    couriers, categories, errors = matrix["couriers"], matrix["categories"], matrix["errors"]
    if not couriers or not any(any(row) for row in errors):
        return None
    floor = int(matrix.get("min_calls", 0))
    columns = [j for j, _ in enumerate(categories) if any(row[j] for row in errors)]
    rated: list[list[float | None]] = []
    low: list[list[int | None]] = []
    text: list[list[str]] = []
    links: list[list[str | None]] = []
    for courier, row in zip(couriers, errors, strict=True):
        calls, enough = courier["events"], courier["events"] >= floor
        rated.append([fraction(row[j], calls) if enough else None for j in columns])
        low.append([None if enough else 1 if row[j] else 0 for j in columns])
        text.append([_rate_text(row[j], calls, enough=enough) for j in columns])
        links.append(
            [
                drill.url(cp_id=courier["key"], category=categories[j])
                if row[j] and courier["key"] != SUMMED
                else None
                for j in columns
            ]
        )
    top = max((v for line in rated for v in line if v is not None), default=0.0)
    shared = {
        "type": "heatmap",
        # "order cancellation" on two lines: five columns fit a half-width card without overlap.
        "x": [label_text(str(categories[j])).replace("_", "<br>", 1) for j in columns],
        "y": [label_text(str(c["label"])) for c in couriers],
        "text": text,
        "customdata": links,
        "hoverongaps": False,
        "hovertemplate": "%{y} · %{x}<br>%{text}<extra></extra>",
        "xgap": 2,
        "ygap": 2,
    }
    traces = [
        {
            **shared,
            "name": "error rate",
            "z": rated,
            "zmin": 0,
            "zmax": max(top, 0.05),
            "colorscale": [[0, "#fff7f3"], [0.15, "#fcbba1"], [1, "#a50f15"]],
            "colorbar": {"title": {"text": "error rate"}, "thickness": 12, "tickformat": ".0%"},
        }
    ]
    if any(v is not None for line in low for v in line):
        traces.append(
            {
                **shared,
                "name": f"under {floor} calls",
                "z": low,
                "zmin": 0,
                "zmax": 1,
                "colorscale": LOW_VOLUME_COLORS,
                "showscale": False,
            }
        )
    layout = {
        "height": max(260, 90 + 26 * len(couriers)),
        "margin": {"l": 140, "r": 16, "t": 16, "b": 56},
        "xaxis": {"type": "category", "tickangle": 0, "automargin": True},
        "yaxis": {"type": "category", "autorange": "reversed"},
    }
    figure = _figure(traces, layout)
    figure["narrow"] = {
        "margin": {"l": 8, "r": 8, "t": 8, "b": 90},
        "xaxis": {"tickangle": -90, "tickfont": {"size": 10}},
        "yaxis": {"automargin": True, "tickfont": {"size": 10}},
    }
    return figure


def _rate_text(errors: int, calls: int, *, enough: bool = True) -> str:
    """A heatmap cell's hover: the counts, and the rate when the courier has enough calls."""
    if not enough:
        return f"{errors:,} errors of {calls:,} calls (too few calls to rate)"
    rate = fraction(errors, calls)
    return f"{rate:.1%} of the courier's calls<br>{errors:,} errors of {calls:,} calls"


def timeline_figure(events: Iterable[Mapping[str, Any]]) -> Figure | None:
    """Each call of one shipment as a dot on time × endpoint, colored by category; None for
    fewer than two calls (the table says it all)."""
    events = list(events)
    if len(events) < 2:
        return None
    by_category: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for event in events:
        by_category[str(event["category"])].append(event)
    traces = [
        {
            "type": "scatter",
            "mode": "markers",
            "name": label_text(category.replace("_", " ")),
            "x": [wall_clock(e["timestamp"]) for e in rows],
            "y": [label_text(str(e["endpoint"])) for e in rows],
            "text": [f"code {e['code']}" for e in rows],
            "customdata": [event_url(e["id"]) for e in rows],
            "marker": {"color": color_of(category), "size": 11, "line": {"width": 0}},
            "hovertemplate": "%{x}<br>%{y}: %{text}<extra></extra>",
        }
        for category, rows in by_category.items()
    ]
    layout = {
        "height": 240,
        "hovermode": "closest",
        "margin": {"l": 130, "r": 16, "t": 10, "b": 40},
        "xaxis": {"type": "date"},
        "yaxis": {"type": "category"},
        "legend": {"orientation": "h", "y": -0.3},
    }
    return _figure(traces, layout)


def weekly_figure(rows: Iterable[Mapping[str, Any]], *, drill: Drill) -> Figure | None:
    """Errors of the week per courier, stacked by category; a bar opens those failures."""
    errors: dict[tuple[int, str], int] = defaultdict(int)
    names: dict[int, str] = {}
    for row in rows:
        cp_id = row["cp_id"] or 0  # the report's "no courier" is the filters' cp_id 0
        errors[(cp_id, str(row["category"]))] += int(row["errors"])
        names[cp_id] = str(row["courier"])
    if not any(errors.values()):
        return None
    totals: dict[int, int] = defaultdict(int)
    for (cp_id, _), count in errors.items():
        totals[cp_id] += count
    couriers = sorted(totals, key=lambda cp_id: -totals[cp_id])
    categories = sorted({category for _, category in errors})
    traces = [
        _weekly_trace(category, couriers=couriers, names=names, errors=errors, drill=drill)
        for category in categories
    ]
    layout = {
        "barmode": "stack",
        "hovermode": "closest",
        "xaxis": {"type": "category", "tickangle": -30},
        "yaxis": {"title": {"text": "errors"}, "rangemode": "tozero"},
        "legend": {"orientation": "h", "y": -0.35},
        "margin": {"l": 56, "r": 16, "t": 16, "b": 110},
    }
    figure = _figure(traces, layout)
    # Phones: courier names upright in small type, the legend well below them.
    figure["narrow"] = {
        "xaxis": {"type": "category", "tickangle": -90, "tickfont": {"size": 9}},
        "legend": {"orientation": "h", "y": -0.6, "font": {"size": 10}},
        "margin": {"l": 40, "r": 8, "t": 8, "b": 150},
        "height": 460,
    }
    return figure


def _weekly_trace(
    category: str,
    *,
    couriers: Sequence[int],
    names: Mapping[int, str],
    errors: Mapping[tuple[int, str], int],
    drill: Drill,
) -> dict:
    counts = [errors.get((cp_id, category), 0) for cp_id in couriers]
    return {
        "type": "bar",
        "name": label_text(category.replace("_", " ")),
        "x": [label_text(names[cp_id]) for cp_id in couriers],
        "y": counts,
        "customdata": [
            drill.url(cp_id=cp_id, category=category) if count else None
            for cp_id, count in zip(couriers, counts, strict=True)
        ],
        "marker": {"color": color_of(category)},
        "hovertemplate": "%{x}<br>%{fullData.name}: %{y:,} errors<extra></extra>",
    }


LATENCY_SERIES = 6  # lines of a grouped latency chart (the busiest groups)
LATENCY_GROUPS = ("endpoint", "cp_id")  # the overview groups its latency chart follows
# Log-scale ticks: 1-2-5 per decade, from 1 ms to 10 minutes.
_MS_TICKS = [m * 10**e for e in range(6) for m in (1, 2, 5)] + [1_000_000]
_DASH = {"p50": "dot", "p95": "solid"}


def ms_tick(value: float) -> str:
    """An axis tick in the unit people read: 500 ms, 2 s, 1 min."""
    if value >= 60_000:
        return f"{value / 60_000:g} min"
    if value >= 1000:
        return f"{value / 1000:g} s"
    return f"{value:g} ms"


def latency_figure(
    latency: Mapping[str, Any],
    *,
    drill: Drill,
    until: datetime | None = None,
    window_start: datetime | None = None,
) -> Figure | None:
    """Lines of p50 (dotted) and p95 over time on a log axis; grouped by endpoint or courier,
    one p95 line per group (the LATENCY_SERIES busiest).

    Log, not linear: a 20 s tail on a linear axis squeezes the usual 400 ms into the bottom
    pixel row, while on a log axis each doubling takes the same height, so a p95 going from
    400 ms to 800 ms shows as plainly as 10 s to 20 s, and p50 and p95 stay comparable on one
    scale. A point opens the slowest calls of its bucket (at least the point's latency, less
    the histogram's 5 %), slowest first. Buckets without a call with a latency are gaps."""
    totals = latency["totals"]
    if not totals or not any(point["calls"] for point in totals):
        return None
    buckets = visible_buckets(
        [p["t"] for p in totals],
        interval=str(latency.get("interval", "hour")),
        window_start=window_start or _as_datetime(latency["start"]),
        until=until or _as_datetime(latency["end"]),
    )
    group_by = str(latency.get("group_by", "none"))
    lines: list[tuple[Mapping[str, Any], str, str, str | None]]
    if group_by in LATENCY_GROUPS:
        shown = [s for s in latency["series"] if s["key"] != SUMMED][:LATENCY_SERIES]
        lines = [(s, "p95", PALETTE[i % len(PALETTE)], group_by) for i, s in enumerate(shown)]
    else:
        whole = {"key": None, "label": "all calls", "points": totals}
        lines = [(whole, "p50", "#8fbce6", None), (whole, "p95", "#1f77b4", None)]
    traces = [
        _latency_trace(series, key, color, buckets=buckets, drill=drill, group_by=group)
        for series, key, color, group in lines
    ]
    values = [y for trace in traces for y in trace["y"] if y is not None]
    if not values:
        return None
    low, high = max(min(values) / 1.5, 0.5), max(values) * 1.5
    ticks = [t for t in _MS_TICKS if low <= t <= high] or [round(values[0])]
    layout = {
        "hovermode": "closest",
        "xaxis": {"type": "date"},
        "yaxis": {
            "type": "log",
            "title": {"text": "latency (log scale)"},
            "tickvals": ticks,
            "ticktext": [ms_tick(t) for t in ticks],
        },
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        "margin": {"l": 64, "r": 16, "t": 40, "b": 40},
    }
    figure = _figure(traces, layout)
    figure["narrow"] = _LATENCY_NARROW
    return figure


# Phones: the legend below the tilted date labels, not over them; room for "500 ms" ticks.
_LATENCY_NARROW = {
    "legend": {"orientation": "h", "x": 0, "y": -0.4, "yanchor": "top", "font": {"size": 10}},
    "margin": {"l": 56, "r": 8, "t": 8, "b": 56},
    "yaxis": {"title": {"text": ""}},
}


def _latency_trace(
    series: Mapping[str, Any],
    key: str,
    color: str,
    *,
    buckets: Sequence[Bucket],
    drill: Drill,
    group_by: str | None,
) -> dict:
    label = escape(str(series["label"]))
    points = [series["points"][b.index] for b in buckets]
    narrow = {group_by: series["key"]} if group_by else {}
    return {
        "type": "scatter",
        "mode": "lines+markers",
        "name": f"{label} {key}" if group_by else key,
        "x": [b.x for b in buckets],
        "y": [p[key] for p in points],
        "text": [
            f"{label} {key}: {p[key]:,.0f} ms<br>{p['calls']:,} calls" if p[key] is not None else ""
            for p in points
        ],
        "customdata": [
            drill.url(
                start=b.start,
                end=b.end,
                errors_only=False,
                min_latency_ms=int(p[key] * 0.95),
                sort="-latency",
                **narrow,
            )
            if p[key] is not None
            else None
            for p, b in zip(points, buckets, strict=True)
        ],
        "line": {"color": color, "width": 2, "dash": _DASH.get(key, "solid")},
        "marker": {"size": 4},
        "connectgaps": False,
        "hovertemplate": "%{x}<br>%{text}<extra></extra>",
    }
