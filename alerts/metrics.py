"""Every metric a rule can ask, in one table: its words, its unit, its value from a group's
counts and what a group with no calls reads; and how the pages show it (the picker's label,
the unit a threshold is typed in, the chart's axis, what the threshold means). The evaluator,
the preview, the messages and the pages look a metric up here instead of switching on its
name, so a new metric is one entry.

Metrics decided elsewhere (anomaly: a tail probability from alerts.anomaly) still have an
entry for their words and unit; `value` is None for them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from stats.rates import rate

# The rule fields measured in the metric's unit (the others count calls or minutes).
UNIT_FIELDS = ("threshold", "warning", "resolve_threshold")


def error_rate(calls: int, errors: int) -> float:
    """errors / calls, the read room's one formula (rounded as the read API rounds it)."""
    return rate(errors, calls)


def percent_change(now: float, before: float) -> float | None:
    return round((now - before) / before * 100, 4) if before else None


Counts = tuple[int, int]  # (calls, errors) of one group in one window


@dataclass(frozen=True)
class Typed:
    """How a person types a value of the metric: typed = stored × scale, followed by suffix."""

    name: str  # in words: "percent", "ms", "probability"
    suffix: str  # after the input: "%", "ms", ""
    scale: int
    tickformat: str  # the chart's y-axis (Plotly's d3 format)


PERCENT_OF_FRACTION = Typed("percent", "%", 100, ".1%")
PERCENT = Typed("percent change", "%", 1, "+.0f")
PROBABILITY = Typed("probability", "", 1, ".2g")
MILLISECONDS = Typed("ms", "ms", 1, ",.0f")
COUNT = Typed("count", "", 1, ",.0f")


@dataclass(frozen=True)
class Metric:
    words: str  # "error rate", as a sentence names it
    unit: Callable[[float], str]  # 0.69 -> "69.0 %"
    value: Callable[[Counts, Counts], float | None] | None = None  # (now, a week before)
    absent: float | None = None  # the value of a group with no calls: None is "no data"
    needs_week_before: bool = False
    typed: Typed = COUNT  # the pages: the unit a threshold is typed in
    axis: str = ""  # the pages: the chart's y-axis title
    help: str = ""  # the pages: what the threshold means, in words

    @property
    def label(self) -> str:
        return self.words[:1].upper() + self.words[1:]


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
    "error_rate": Metric(
        "error rate", _percent, lambda now, _: error_rate(*now),
        typed=PERCENT_OF_FRACTION, axis="error rate (%)",
        help="Errors ÷ calls in the window. Thresholds in percent: 5 means 5 %.",
    ),
    "errors": Metric(
        "errors", _count, lambda now, _: float(now[1]),
        axis="errors in the window", help="Failed calls in the window.",
    ),
    "calls": Metric(
        "calls", _count, lambda now, _: float(now[0]), absent=0.0,
        axis="calls in the window",
        help="All calls in the window; with “below”, a shipper that went silent.",
    ),
    "change": Metric(
        "error rate change vs last week", _signed_percent,
        lambda now, before: percent_change(error_rate(*now), error_rate(*before)),
        needs_week_before=True, typed=PERCENT, axis="change vs last week (%)",
        help="The error rate against the same window one week earlier, in percent: 50 means "
        "half as high again.",
    ),
    "anomaly": Metric(
        "unusual error rate", _probability, typed=PROBABILITY,
        axis="chance of a rate this high",
        help="Compares the rate with the same hour of the week over past weeks. The threshold "
        "is a probability: 0.001 fires when a rate this high would happen by chance less than "
        "once in a thousand such hours. Smaller is stricter.",
    ),
}  # fmt: skip


def metric(name: str) -> Metric:
    return METRICS[name]


def format_value(name: str, value: float | None) -> str:
    """A value in its metric's unit: '69.0 %', '2,450', 'n/a' for none."""
    if value is None:
        return "n/a"
    return METRICS[name].unit(value) if name in METRICS else f"{value:g}"


# ---------------------------------------------------------------- the pages


def shown(name: str | None) -> Metric:
    """The metric's entry for a page; a plain number for one the table does not know yet."""
    known = METRICS.get(name or "")
    return known or Metric(str(name or "").replace("_", " "), _count, axis=str(name or ""))


def metric_choices(names: Iterable[str]) -> list[tuple[str, str]]:
    """The picker's metrics (the rule's own choices), in words."""
    return [(name, shown(name).label) for name in names]


def stored_value(metric_name: str | None, typed: str) -> float | str:
    """A number typed in the metric's unit as the rule stores it ("5" % -> 0.05); text that is
    not a number comes back unchanged, for the serializer to refuse naming the field."""
    try:
        number = Decimal(typed.strip())
    except InvalidOperation:
        return typed
    if not number.is_finite():
        return typed
    return float(number / shown(metric_name).typed.scale)


def typed_value(metric_name: str | None, stored: Any) -> str:
    """The stored value in the metric's unit, as the form shows it (0.05 -> "5")."""
    if stored is None or stored == "":
        return ""
    try:
        number = Decimal(str(stored)) * shown(metric_name).typed.scale
    except InvalidOperation:
        return str(stored)
    return f"{number.normalize():f}"


def units_for_script(names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """metric -> {"scale", "suffix", "unit", "help"}: what the rule form's script needs."""
    return {
        name: {
            "scale": shown(name).typed.scale,
            "suffix": shown(name).typed.suffix,
            "unit": shown(name).typed.name,
            "help": shown(name).help,
        }
        for name in names
    }


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
