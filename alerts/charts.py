"""Plotly figure dicts for the alerts page and the rule editor (no database access here): a
rule's value over its preview range for its worst groups, in the metric's unit, the threshold
as a line, firings as shaded spans; and the replay in words."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from alerts.metrics import format_value, metric
from alerts.values import group_key, labels_of

MAX_GROUPS = 3


def _wall(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def group_text(labels: dict[str, Any], name_of: Callable[[str, Any], str] | None = None) -> str:
    """A group's labels in words: "Delhivery" for {"cp_id": 4} when `name_of` knows it."""
    if not labels:
        return "all calls"
    parts = []
    for dim, value in labels.items():
        if dim == "courier":
            continue  # the name of a cp_id label, shown in its place
        named = name_of(dim, value) if name_of else str(value)
        parts.append(named if named != str(value) else f"{dim} {value}")
    return ", ".join(parts)


def rule_figure(
    rule: Any,
    replayed: dict[str, Any],
    *,
    name_of: Callable[[str, Any], str] | None = None,
) -> dict[str, Any] | None:
    """The figure, or None when the replay had no readings (no traffic matched the rule).
    `name_of(dim, value)` names a group's label (a courier's name for its cp_id)."""
    series = replayed["series"]
    if not series:
        return None
    tz = ZoneInfo(rule.tz)
    below = rule.direction == "below" or rule.metric == "anomaly"

    fired = Counter(group_key(firing["group"]) for firing in replayed["firings"])

    def rank(key):
        """Groups that would have fired most first, then the worst value: a small group's one
        100 % minute must not push the group that pages people off the chart."""
        values = [v for _, v in series[key] if v is not None] or [0.0]
        worst = min(values) if below else -max(values)
        return (-fired[group_key(labels_of(rule.group_by, key))], worst)

    data = []
    for key in sorted(series, key=rank)[:MAX_GROUPS]:
        labels = labels_of(rule.group_by, key)
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": group_text(labels, name_of),
                "x": [_wall(t, tz) for t, _ in series[key]],
                "y": [v for _, v in series[key]],
            }
        )
    shapes = [
        {
            "type": "line",
            "xref": "paper",
            "x0": 0,
            "x1": 1,
            "y0": rule.threshold,
            "y1": rule.threshold,
            "line": {"color": "#c0392b", "dash": "dash", "width": 1},
        }
    ]
    shown = metric(rule.metric)
    for firing in replayed["firings"]:
        end = firing["resolved_at"] or max(t for s in series.values() for t, _ in s)
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "yref": "paper",
                "x0": _wall(firing["fired_at"], tz),
                "x1": _wall(end, tz),
                "y0": 0,
                "y1": 1,
                "fillcolor": "rgba(192, 57, 43, 0.12)",
                "line": {"width": 0},
            }
        )
    legend = len(data) > 1
    layout = {
        "height": 220 if legend else 200,
        # The legend sits above the plot, in a margin of its own: never over the axis labels.
        "margin": {"l": 64, "r": 8, "t": 30 if legend else 8, "b": 40},
        "showlegend": legend,
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "xanchor": "left", "yanchor": "bottom"},
        "shapes": shapes,
        "annotations": [
            {
                "xref": "paper",
                "x": 1,
                "xanchor": "right",
                "y": rule.threshold,
                "yanchor": "bottom",
                "text": f"threshold {format_value(rule.metric, rule.threshold)}",
                "showarrow": False,
                "font": {"size": 11, "color": "#c0392b"},
            }
        ],
        # automargin: Plotly makes room for two-line date ticks and the titles, so no title
        # sits on a tick label at any width.
        "xaxis": {"title": {"text": f"time ({tz.key})", "font": {"size": 11}}, "automargin": True},
        "yaxis": {
            "title": {"text": shown.axis, "font": {"size": 11}},
            "automargin": True,
            "tickformat": shown.unit.tickformat,
            "rangemode": "tozero",
        },
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
    }
    return {"data": data, "layout": layout, "config": {"displayModeBar": False}}


def longest_firing(firings: list[dict[str, Any]], *, end: datetime) -> timedelta | None:
    """The longest firing of a replay (one still firing at `end` counts up to `end`)."""
    spans = [(f["resolved_at"] or end) - f["fired_at"] for f in firings]
    return max(spans) if spans else None


def duration_words(span: timedelta) -> str:
    """3 h, 45 min, 2 d 4 h: a duration as a person says it."""
    minutes = int(span.total_seconds() // 60)
    days, hours, mins = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


def replay_words(firings: list[dict[str, Any]], *, days: int, end: datetime) -> str:
    """The preview in words: "would have fired 3 times in 14 days, longest 3 h"."""
    period = f"{days} day{'' if days == 1 else 's'}"
    if not firings:
        return f"would not have fired in {period}"
    times = "once" if len(firings) == 1 else f"{len(firings)} times"
    longest = longest_firing(firings, end=end)
    still = any(f["resolved_at"] is None for f in firings)
    return (
        f"would have fired {times} in {period}, longest {duration_words(longest or timedelta())}"
        + (", and would be firing now" if still else "")
    )
