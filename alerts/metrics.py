"""Every metric a rule can ask, in one table: its name in words, its unit, how a number typed
in that unit becomes what a rule stores (an error rate is stored as a fraction and typed in
percent), and what the evaluator makes of a group's counts (its value, and what a group with
no calls reads). The rule form, the preview chart, the alerts list, the evaluator, the preview
and the messages all read this one table, so a new metric is one entry; a metric without an
entry reads as a plain number, so a metric added elsewhere still works.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from stats.rates import growth, rate

Counts = tuple[int, int]  # (calls, errors) of one group in one window


def error_rate(calls: int, errors: int) -> float:
    """errors / calls, the read room's one formula (rounded as the read API rounds it)."""
    return rate(errors, calls)


def percent_change(now: float, before: float) -> float | None:
    """The `change` metric: `stats.rates.growth` in percent, 4 decimals."""
    rise = growth(now, before)
    return None if rise is None else round(rise * 100, 4)


# The rule fields measured in the metric's unit (the others count calls or minutes).
UNIT_FIELDS = ("threshold", "warning", "resolve_threshold")


@dataclass(frozen=True)
class Unit:
    name: str  # in words, for labels: "percent", "ms", "probability"
    suffix: str  # after an input and a value: "%", "ms", ""
    scale: int  # typed value = stored value × scale
    tickformat: str  # the chart's y-axis (Plotly's d3 format)


PERCENT_OF_FRACTION = Unit("percent", "%", 100, ".1%")
PERCENT = Unit("percent change", "%", 1, "+.0f")
PROBABILITY = Unit("probability", "", 1, ".2g")
MILLISECONDS = Unit("ms", "ms", 1, ",.0f")
COUNT = Unit("count", "", 1, ",.0f")


@dataclass(frozen=True)
class Metric:
    label: str
    unit: Unit
    axis: str  # the chart's y-axis title
    help: str
    words: str = ""  # as a sentence names it: "error rate 69.0 % vs threshold 30.0 %"
    # The value of a group from its counts (now, a week before); None: decided elsewhere
    # (anomaly: a tail probability from alerts.anomaly).
    value: Callable[[Counts, Counts], float | None] | None = None
    absent: float | None = None  # a group with no calls: None is "no data" (resolves as such)
    needs_week_before: bool = False


METRIC_TABLE: dict[str, Metric] = {
    "error_rate": Metric(
        "Error rate", PERCENT_OF_FRACTION, "error rate (%)",
        "Errors ÷ calls in the window. Thresholds in percent: 5 means 5 %.",
        words="error rate", value=lambda now, _: error_rate(*now),
    ),
    "errors": Metric(
        "Errors", COUNT, "errors in the window", "Failed calls in the window.",
        words="errors", value=lambda now, _: float(now[1]),
    ),
    "calls": Metric(
        "Calls", COUNT, "calls in the window",
        "All calls in the window; with “below”, a shipper that went silent.",
        words="calls", value=lambda now, _: float(now[0]), absent=0.0,
    ),
    "change": Metric(
        "Change against last week", PERCENT, "change vs last week (%)",
        "The error rate against the same window one week earlier, in percent: 50 means half as "
        "high again.",
        words="error rate change vs last week",
        value=lambda now, before: percent_change(error_rate(*now), error_rate(*before)),
        needs_week_before=True,
    ),
    "anomaly": Metric(
        "Unusual error rate (anomaly)", PROBABILITY, "chance of a rate this high",
        "Compares the rate with the same hour of the week over past weeks. The threshold is a "
        "probability: 0.001 fires when a rate this high would happen by chance less than once "
        "in a thousand such hours. Smaller is stricter.",
        words="unusual error rate",
    ),
    "latency": Metric(
        "Latency", MILLISECONDS, "latency (ms)",
        "The chosen percentile of the calls' latency in the window, in milliseconds.",
    ),
    "open_failures": Metric(
        "Open failures", COUNT, "open failures",
        "Orders and waybills still failing for longer than the window.",
    ),
}  # fmt: skip


GROUP_WORDS = {
    "none": "none (all calls together)",
    "cp_id": "courier",
    "account_code": "account",
    "endpoint": "endpoint",
    "code": "code",
    "category": "category",
}


def group_words(group_by: str) -> str:
    """What one alert stands for: "courier" for cp_id."""
    return GROUP_WORDS.get(group_by, group_by.replace("_", " "))


def metric(name: str | None) -> Metric:
    """The metric's entry; a plain number for a metric the table does not know yet."""
    known = METRIC_TABLE.get(name or "")
    return known or Metric(str(name or "").replace("_", " "), COUNT, str(name or ""), "")


def metric_choices() -> list[tuple[str, str]]:
    """The metrics this build evaluates (alerts.models.METRICS), in words."""
    from alerts.models import METRICS  # the model's own module reads this table

    return [(name, metric(name).label) for name in METRICS]


def stored_value(metric_name: str | None, typed: str) -> float | str:
    """A number typed in the metric's unit as the rule stores it ("5" % -> 0.05); text that is
    not a number comes back unchanged, for the serializer to refuse naming the field."""
    try:
        number = Decimal(typed.strip())
    except InvalidOperation:
        return typed
    if not number.is_finite():
        return typed
    return float(number / metric(metric_name).unit.scale)


def typed_value(metric_name: str | None, stored: Any) -> str:
    """The stored value in the metric's unit, as the form shows it (0.05 -> "5")."""
    if stored is None or stored == "":
        return ""
    try:
        number = Decimal(str(stored)) * metric(metric_name).unit.scale
    except InvalidOperation:
        return str(stored)
    return f"{number.normalize():f}"


def format_value(metric_name: str | None, value: float | None) -> str:
    """A value in its unit for reading: 69.0 %, 2,450 ms, p = 0.0012, 1,204."""
    if value is None:
        return "—"
    unit = metric(metric_name).unit
    if unit is PERCENT_OF_FRACTION:
        return f"{value * 100:.1f} %"
    if unit is PERCENT:
        return f"{value:+.1f} %"
    if unit is PROBABILITY:
        return f"p = {value:.2g}"
    if unit is MILLISECONDS:
        return f"{value:,.0f} ms"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def units_for_script() -> dict[str, dict[str, Any]]:
    """metric -> {"scale", "suffix", "unit", "help"}: what the rule form's script needs."""
    from alerts.models import METRICS

    return {
        name: {
            "scale": metric(name).unit.scale,
            "suffix": metric(name).unit.suffix,
            "unit": metric(name).unit.name,
            "help": metric(name).help,
        }
        for name in METRICS
    }
