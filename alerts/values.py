"""What a rule's question answers at one minute, per group: the fetch half of an evaluation.

Values are the charts' values: counts come from `stats.windowed.window_counts` (the rollups'
quarter hours plus the raw minutes at the edges) for the rule's filters over exactly
[at - window_minutes, at). `error_rate` is errors / calls as a fraction (the read API's
`error_rate`), `change` the error rate against the same window one week earlier in percent,
`anomaly` the tail probability from `alerts.anomaly.assess_anomalies`, `latency` the rule's
`percentile` of the window's calls' latency in ms (`stats.latency.percentile` of the histogram
`stats.windowed.window_histograms` merges; its calls are the calls that carry a latency).

A `Reader` lives for one evaluated minute and asks each (filters, group, window) once, however
many rules share it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from alerts.anomaly import assess_anomalies
from alerts.machine import Reading
from stats.latency import Histogram, format_ms, percentile, percentile_key
from stats.window import Filters
from stats.windowed import window_counts, window_histograms

WEEK = timedelta(weeks=1)
FILTER_FIELDS = ("endpoint", "category", "code", "cp_id", "account_code")


@dataclass(frozen=True)
class Question:
    """A rule's question, from a saved Rule or a preview's body."""

    metric: str
    filters: Filters
    group_by: str
    window_minutes: int
    tz: str = "UTC"
    weeks: int = 8
    direction: str = "above"
    percentile: float = 95.0

    @property
    def group(self) -> tuple[str, ...]:
        return () if self.group_by == "none" else (self.group_by,)

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.window_minutes)


def filters_of(source: Any) -> Filters:
    """The read room's Filters from a Rule (or anything with the five filter attributes)."""
    return Filters(
        endpoint=tuple(str(v) for v in source.endpoint),
        category=tuple(str(v) for v in source.category),
        code=tuple(int(v) for v in source.code),
        cp_id=tuple(int(v) for v in source.cp_id),
        account_code=tuple(str(v) for v in source.account_code),
    )


def question_of(rule: Any) -> Question:
    return Question(
        metric=rule.metric,
        filters=filters_of(rule),
        group_by=rule.group_by,
        window_minutes=rule.window_minutes,
        tz=rule.tz,
        weeks=rule.weeks,
        direction=rule.direction,
        percentile=rule.percentile,
    )


def labels_of(group_by: str, key: tuple) -> dict[str, Any]:
    """The group's labels, e.g. {"cp_id": 7}; {} for a rule without a group."""
    return {} if group_by == "none" or not key else {group_by: key[0]}


def group_key(labels: dict[str, Any]) -> str:
    """The canonical text of a group's labels: the alert's identity within its rule."""
    return json.dumps(labels, sort_keys=True, separators=(",", ":"))


def error_rate(calls: int, errors: int) -> float:
    """errors / calls rounded as the read API rounds it; 0 without calls."""
    return round(errors / calls, 6) if calls else 0.0


def percent_change(now: float, before: float) -> float | None:
    return round((now - before) / before * 100, 4) if before else None


Counts = dict[tuple, tuple[int, int]]


class Reader:
    """Answers rules' questions at one minute, asking each distinct count once."""

    def __init__(self, *, at: datetime, fetch: Callable[..., Counts] = window_counts):
        self.at = at
        self._fetch = fetch
        self._cache: dict[tuple, Counts] = {}

    def counts(self, question: Question, *, end: datetime) -> Counts:
        key = (question.filters, question.group, question.window_minutes, end)
        if key not in self._cache:
            self._cache[key] = self._fetch(
                start=end - question.window,
                end=end,
                filters=question.filters,
                group=question.group,
            )
        return self._cache[key]

    def readings(self, question: Question) -> dict[tuple, Reading]:
        """Group key (tuple of values) -> Reading at this minute."""
        if question.metric == "anomaly":
            return anomaly_readings(question, at=self.at)
        if question.metric == "latency":
            return latency_readings(question, at=self.at)
        now = self.counts(question, end=self.at)
        keys = set(now)
        if question.metric == "calls" and question.direction == "below" and question.group:
            # A group gone silent has no rows now: keep the groups of the window before.
            keys |= set(self.counts(question, end=self.at - question.window))
        before = self.counts(question, end=self.at - WEEK) if question.metric == "change" else {}
        if not question.group:
            keys = {()}
        return {
            key: reading_of(question, now.get(key, (0, 0)), before.get(key, (0, 0))) for key in keys
        }


def reading_of(
    question: Question, now: tuple[int, int], before: tuple[int, int] = (0, 0)
) -> Reading:
    """The Reading of one group from its counts now (and a week before, for `change`)."""
    calls, errors = now
    rate = error_rate(calls, errors)
    value: float | None
    if question.metric == "error_rate":
        value = rate
    elif question.metric == "errors":
        value = float(errors)
    elif question.metric == "calls":
        value = float(calls)
    else:
        value = percent_change(rate, error_rate(*before))
    summary = f"{errors:,} of {calls:,} calls failed ({rate:.1%}) in the last {_span(question)}"
    return Reading(calls=calls, errors=errors, value=value, summary=summary)


def latency_readings(question: Question, *, at: datetime) -> dict[tuple, Reading]:
    """Readings of a latency rule at `at`: each group's percentile of its calls' latency over
    exactly [at - window, at); an ungrouped rule reads even without calls (value None)."""
    histograms = window_histograms(
        start=at - question.window, end=at, filters=question.filters, group=question.group
    )
    if not question.group:
        histograms = {(): histograms.get((), {})}
    return {key: latency_reading(question, histogram) for key, histogram in histograms.items()}


def latency_reading(question: Question, histogram: Histogram) -> Reading:
    """The Reading of one group's latency histogram: value = its percentile in ms; `calls` =
    the calls that carry a latency (what `min_calls` counts); no errors (a latency rule has no
    error floor). Summary: "p95 2,450 ms over 15 minutes, 312 calls"."""
    calls = sum(histogram.values())
    value = percentile(histogram, question.percentile)
    name = percentile_key(question.percentile)
    minutes = question.window_minutes
    span = f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"
    summary = f"{name} {format_ms(value)} over {span}, {calls:,} calls"
    return Reading(calls=calls, errors=0, value=value, summary=summary)


def _span(question: Question) -> str:
    minutes = question.window_minutes
    if minutes % 60 == 0:
        hours = minutes // 60
        return "hour" if hours == 1 else f"{hours} hours"
    return f"{minutes} minutes"


def anomaly_readings(question: Question, *, at: datetime) -> dict[tuple, Reading]:
    """Readings from `alerts.anomaly.assess_anomalies`: value = the tail probability, breach
    decided by the detector (`above_usual`)."""
    results = assess_anomalies(
        at=at,
        window_minutes=question.window_minutes,
        filters=question.filters,
        group_by=question.group_by,
        tz=ZoneInfo(question.tz),
        weeks=question.weeks,
    )
    return {
        (() if result.key is None else (result.key,)): Reading(
            calls=result.calls,
            errors=result.errors,
            value=result.probability,
            breach=result.above_usual,
            summary=result.summary,
        )
        for result in results
    }
