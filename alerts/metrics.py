"""Every metric a rule can ask, in one table: its words, its unit, its value from a group's
counts and what a group with no calls reads. The evaluator, the preview and the messages look
a metric up here instead of switching on its name, so a new metric is one entry.

Metrics decided elsewhere (anomaly: a tail probability from alerts.anomaly) still have an
entry for their words and unit; `value` is None for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stats.rates import rate


def error_rate(calls: int, errors: int) -> float:
    """errors / calls, the read room's one formula (rounded as the read API rounds it)."""
    return rate(errors, calls)


def percent_change(now: float, before: float) -> float | None:
    return round((now - before) / before * 100, 4) if before else None


Counts = tuple[int, int]  # (calls, errors) of one group in one window


@dataclass(frozen=True)
class Metric:
    words: str  # "error rate", as a sentence names it
    unit: Callable[[float], str]  # 0.69 -> "69.0 %"
    value: Callable[[Counts, Counts], float | None] | None = None  # (now, a week before)
    absent: float | None = None  # the value of a group with no calls: None is "no data"
    needs_week_before: bool = False


def _percent(value: float) -> str:
    return f"{value * 100:.1f} %"


def _count(value: float) -> str:
    return f"{value:,.0f}"


def _signed_percent(value: float) -> str:
    return f"{value:+.1f} %"


def _probability(value: float) -> str:
    return f"p = {value:.2g}"


def _ms(value: float) -> str:
    return f"{value:,.0f} ms"


METRICS: dict[str, Metric] = {
    "error_rate": Metric("error rate", _percent, lambda now, _: error_rate(*now)),
    "errors": Metric("errors", _count, lambda now, _: float(now[1])),
    "calls": Metric("calls", _count, lambda now, _: float(now[0]), absent=0.0),
    "change": Metric(
        "error rate change vs last week",
        _signed_percent,
        lambda now, before: percent_change(error_rate(*now), error_rate(*before)),
        needs_week_before=True,
    ),
    "anomaly": Metric("unusual error rate", _probability),
}


def metric(name: str) -> Metric:
    return METRICS[name]


def format_value(name: str, value: float | None) -> str:
    """A value in its metric's unit: '69.0 %', '2,450', 'n/a' for none."""
    if value is None:
        return "n/a"
    return METRICS[name].unit(value) if name in METRICS else f"{value:g}"
