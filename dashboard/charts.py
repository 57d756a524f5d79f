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
from datetime import datetime
from html import escape
from typing import Any

from dashboard.links import Drill, event_url
from stats.rates import rate
from stats.results import OTHER

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


def color_of(category: str) -> str:
    return CATEGORY_COLORS.get(category, _FALLBACK_COLOR)


def wall_clock(moment: datetime) -> str:
    """An instant as the wall-clock text of its own offset: Plotly date axes ignore offsets."""
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def bucket_edges(
    starts: Sequence[datetime], *, window_start: datetime, window_end: datetime
) -> list[tuple[datetime, datetime]]:
    """(start, end) of each bucket, clipped to the window: a bucket ends where the next begins."""
    ends = [*starts[1:], window_end]
    return [
        (max(start, window_start), min(end, window_end))
        for start, end in zip(starts, ends, strict=True)
    ]


def _figure(data: list[dict], layout: dict) -> Figure:
    base = {
        "font": _FONT,
        "margin": {"l": 56, "r": 16, "t": 16, "b": 48},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "hoverlabel": {"namelength": -1},
    }
    return {"data": data, "layout": {**base, **layout}, "config": dict(_CONFIG)}


def error_rate_figure(timeseries: Mapping[str, Any], *, drill: Drill) -> Figure | None:
    """Stacked bars of each category's share of all calls per bucket (they sum to the rate)."""
    edges = bucket_edges(
        [p["t"] for p in timeseries["totals"]],
        window_start=timeseries["start"],
        window_end=timeseries["end"],
    )
    x = [wall_clock(p["t"]) for p in timeseries["totals"]]
    traces = []
    for series in timeseries["series"]:
        if not any(p["errors"] for p in series["points"]):
            continue
        traces.append(_share_trace(series, x=x, edges=edges, drill=drill))
    if not traces:
        return None
    layout = {
        "barmode": "stack",
        "bargap": 0.15,
        "hovermode": "closest",
        "xaxis": {"type": "date"},
        "yaxis": {"tickformat": ".1%", "rangemode": "tozero", "title": {"text": "error rate"}},
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        "margin": {"l": 56, "r": 16, "t": 40, "b": 40},
    }
    return _figure(traces, layout)


def _share_trace(
    series: Mapping[str, Any],
    *,
    x: list[str],
    edges: list[tuple[datetime, datetime]],
    drill: Drill,
) -> dict:
    category = str(series["key"])
    points = series["points"]
    return {
        "type": "bar",
        "name": escape(str(series["label"])),
        "x": x,
        "y": [p["share"] for p in points],
        "text": [f"{p['errors']:,} errors of {p['events']:,} calls" for p in points],
        "textposition": "none",
        "customdata": [
            drill.url(start=start, end=end, category=category)
            if p["errors"] and category != OTHER
            else None
            for p, (start, end) in zip(points, edges, strict=True)
        ],
        "marker": {"color": color_of(category)},
        "hovertemplate": "%{x}<br>%{fullData.name}: %{y:.2%}<br>%{text}<extra></extra>",
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
        "text": [escape(str(r["label"])) for r in rows],
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


def heatmap_figure(heatmap: Mapping[str, Any], *, drill: Drill) -> Figure | None:
    """Errors per courier (rows) and category (columns); a cell opens those failures."""
    couriers, categories = heatmap["couriers"], heatmap["categories"]
    errors, events = heatmap["errors"], heatmap["events"]
    if not couriers or not any(any(row) for row in errors):
        return None
    columns = [j for j, c in enumerate(categories) if any(row[j] for row in errors)]
    trace = {
        "type": "heatmap",
        "x": [escape(str(categories[j]).replace("_", " ")) for j in columns],
        "y": [escape(str(c["label"])) for c in couriers],
        "z": [[row[j] for j in columns] for row in errors],
        "text": [
            [_rate_text(errors[i][j], events[i][j]) for j in columns] for i in range(len(couriers))
        ],
        "customdata": [
            [
                drill.url(cp_id=courier["key"], category=categories[j])
                if row[j] and courier["key"] != OTHER
                else None
                for j in columns
            ]
            for courier, row in zip(couriers, errors, strict=True)
        ],
        "colorscale": [[0, "#fff7f3"], [0.15, "#fcbba1"], [1, "#a50f15"]],
        "hovertemplate": "%{y} · %{x}<br>%{z:,} errors<br>%{text}<extra></extra>",
        "xgap": 2,
        "ygap": 2,
        "colorbar": {"title": {"text": "errors"}, "thickness": 12},
    }
    layout = {
        "height": max(260, 60 + 26 * len(couriers)),
        "margin": {"l": 140, "r": 16, "t": 16, "b": 90},
        "xaxis": {"type": "category", "tickangle": -30},
        "yaxis": {"type": "category", "autorange": "reversed"},
    }
    return _figure([trace], layout)


def _rate_text(errors: int, events: int) -> str:
    return f"{rate(errors, events):.1%} of {events:,} calls"


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
            "name": escape(category.replace("_", " ")),
            "x": [wall_clock(e["timestamp"]) for e in rows],
            "y": [escape(str(e["endpoint"])) for e in rows],
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
    return _figure(traces, layout)


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
        "name": escape(category.replace("_", " ")),
        "x": [escape(names[cp_id]) for cp_id in couriers],
        "y": counts,
        "customdata": [
            drill.url(cp_id=cp_id, category=category) if count else None
            for cp_id, count in zip(couriers, counts, strict=True)
        ],
        "marker": {"color": color_of(category)},
        "hovertemplate": "%{x}<br>%{fullData.name}: %{y:,} errors<extra></extra>",
    }
