"""Plotly figure dicts for the alerts page (no database access here): a rule's value over its
preview range for its worst groups, the threshold as a line, firings as shaded spans."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from alerts.values import group_key, labels_of

MAX_GROUPS = 3


def _wall(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def rule_figure(rule: Any, replayed: dict[str, Any]) -> dict[str, Any] | None:
    """The figure, or None when the replay had no readings (no traffic matched the rule)."""
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
                "name": ", ".join(f"{k} {v}" for k, v in labels.items()) or "all calls",
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
    layout = {
        "height": 180,
        "margin": {"l": 48, "r": 8, "t": 8, "b": 32},
        "showlegend": len(data) > 1,
        "legend": {"orientation": "h"},
        "shapes": shapes,
        "yaxis": {"tickformat": ".0%" if rule.metric == "error_rate" else ""},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
    }
    return {"data": data, "layout": layout, "config": {"displayModeBar": False}}
