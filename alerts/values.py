"""What a rule's question answers at one minute, per group: the fetch half of an evaluation.

Values are the charts' values: counts come from `stats.windowed.window_counts` (the rollups'
quarter hours plus the raw minutes at the edges) for the rule's filters over exactly
[at - window_minutes, at), read per group *and code*, so that one read also gives each group's
top failing code (the message's "what to do") and leaves the catalog's benign codes out when
the rule says so (`exclude_benign`: their calls are not counted at all, as the drill-down link
that lists the other codes shows). What each metric makes of the counts is alerts.metrics.
`open_failures` counts the open references in the rule's filters failing for longer than
`window_minutes` (the state ingest keeps, `stats.open_failures`): a count now, not over a
window of calls.
A `latency` rule reads no counts: its value is the rule's `percentile` of the window's calls'
latency in ms (`stats.latency.percentile` of the histogram `stats.windowed.window_histograms`
merges; its calls are the calls that carry a latency).

A `Reader` lives for one evaluated minute and asks each (filters, group, window) once, however
many rules share it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from alerts.anomaly import assess_anomalies
from alerts.machine import Reading
from alerts.metrics import error_rate, format_value, metric
from alerts.models import Rule
from stats.benign import benign_filters
from stats.latency import Histogram, format_ms, percentile, percentile_key
from stats.open_failures import OpenFilters, count_open
from stats.window import Filters, Window
from stats.windowed import (
    EdgeMemory,
    edge_ranges,
    read_edges,
    window_counts,
    window_histograms,
)

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
    exclude_benign: bool = False
    percentile: float = 95.0

    @property
    def group(self) -> tuple[str, ...]:
        return () if self.group_by == "none" else (self.group_by,)

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.window_minutes)


def filters_of(source: Rule) -> Filters:
    """The read room's Filters from a rule's five filter lists."""
    return Filters(
        endpoint=tuple(str(v) for v in source.endpoint),
        category=tuple(str(v) for v in source.category),
        code=tuple(int(v) for v in source.code),
        cp_id=tuple(int(v) for v in source.cp_id),
        account_code=tuple(str(v) for v in source.account_code),
    )


def question_of(rule: Rule) -> Question:
    return Question(
        metric=rule.metric,
        filters=filters_of(rule),
        group_by=rule.group_by,
        window_minutes=rule.window_minutes,
        tz=rule.tz,
        weeks=rule.weeks,
        direction=rule.direction,
        exclude_benign=bool(getattr(rule, "exclude_benign", False)),
        percentile=float(getattr(rule, "percentile", 95.0)),
    )


def labels_of(group_by: str, key: tuple) -> dict[str, Any]:
    """The group's identity, e.g. {"cp_id": 7}; {} for a rule without a group."""
    return {} if group_by == "none" or not key else {group_by: key[0]}


def group_key(labels: dict[str, Any]) -> str:
    """The canonical text of a group's identity labels: the alert's key within its rule."""
    return json.dumps(labels, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Tally:
    """One group's counts in one window, benign codes left out when the rule says so."""

    calls: int = 0
    errors: int = 0
    top_code: int | None = None  # the code with most errors
    codes: tuple[int, ...] = ()  # the codes counted (what a drill-down link may list)

    @property
    def pair(self) -> tuple[int, int]:
        return self.calls, self.errors


def fold(
    rows: dict[tuple, tuple[int, int]], *, benign: frozenset[int], exclude_benign: bool
) -> dict[tuple, Tally]:
    """Rows keyed (group values..., code) -> one Tally per group."""
    totals: dict[tuple, list[int]] = {}
    by_code: dict[tuple, dict[int, int]] = {}
    for row_key, (calls, errors) in rows.items():
        key, code = tuple(row_key[:-1]), row_key[-1]
        if exclude_benign and code in benign:
            continue
        total = totals.setdefault(key, [0, 0])
        total[0] += calls
        total[1] += errors
        by_code.setdefault(key, {})[code] = errors
    tallies = {}
    for key, (calls, errors) in totals.items():
        failing = [(n, code) for code, n in by_code[key].items() if n]
        top = max(failing)[1] if failing else None
        tallies[key] = Tally(calls, errors, top, tuple(sorted(by_code[key])))
    return tallies


class Reader:
    """Answers rules' questions at one minute, asking each distinct count once."""

    def __init__(
        self,
        *,
        at: datetime,
        benign: Iterable[int] = (),
        fetch: Callable[..., dict[tuple, tuple[int, int]]] = window_counts,
        edge_memory: EdgeMemory | None = None,
    ):
        self.at = at
        self.edge_memory = edge_memory
        self.benign = frozenset(benign)
        self._fetch = fetch
        self._cache: dict[tuple, dict[tuple, tuple[int, int]]] = {}
        self._anomalies: dict[tuple, dict[tuple, Reading]] = {}
        self._folded: dict[tuple, dict[tuple, Tally]] = {}

    def share_edges(self, questions: Iterable[Question]) -> None:
        """Read the raw edge minutes of every window these questions will ask, in one query,
        so that each question reads only rollups (the raw partitions once per minute, not
        once per rule: an evaluation's cost then barely grows with the events stored). With the
        evaluator's `edge_memory`, only the minutes it does not hold are read (`EdgeMemory`)."""
        questions = list(questions)
        ranges = [
            piece
            for question in questions
            for end in self._ends(question)
            for piece in edge_ranges(end - question.window, end)
        ]
        # Each question's rows are counted by its filters, its group and the code (`tallies`).
        dims_sets = {(*question.filters.dims(), *question.group, "code") for question in questions}
        # The memory holds every minute of the windows, so that a minute read as the newest
        # is not read again when it becomes a start edge.
        spans = {(end - q.window, end) for q in questions for end in self._ends(q)}
        edges = read_edges(ranges, dims_sets, memory=self.edge_memory, keep=spans)
        fetch = self._fetch
        self._fetch = lambda **asked: fetch(**asked, edges=edges)

    def _ends(self, question: Question) -> list[datetime]:
        """Where the windows a question reads end (see `readings`)."""
        ends = [self.at]
        if question.metric == "calls" and question.direction == "below" and question.group:
            ends.append(self.at - question.window)
        if metric(question.metric).needs_week_before:
            ends.append(self.at - WEEK)
        return ends

    def tallies(self, question: Question, *, end: datetime) -> dict[tuple, Tally]:
        key = (question.filters, question.group, question.window_minutes, end)
        if key not in self._cache:
            self._cache[key] = self._fetch(
                start=end - question.window,
                end=end,
                filters=question.filters,
                group=(*question.group, "code"),
            )
        folded = (*key, question.exclude_benign)  # folded once per question, not per rule
        if folded not in self._folded:
            self._folded[folded] = fold(
                self._cache[key], benign=self.benign, exclude_benign=question.exclude_benign
            )
        return self._folded[folded]

    def readings(self, question: Question) -> dict[tuple, Reading]:
        """Group key (tuple of values) -> Reading at this minute."""
        if question.metric == "open_failures":
            return open_failure_readings(question, at=self.at)
        if question.metric == "latency":
            return latency_readings(question, at=self.at)
        now = self.tallies(question, end=self.at)
        if question.metric == "anomaly":
            return self._anomaly(question, now)
        keys = set(now)
        if question.metric == "calls" and question.direction == "below" and question.group:
            # A group gone silent has no rows now: keep the groups of the window before.
            keys |= set(self.tallies(question, end=self.at - question.window))
        before: dict[tuple, Tally] = {}
        if metric(question.metric).needs_week_before:
            before = self.tallies(question, end=self.at - WEEK)
        if not question.group:
            keys = {()}
        return {
            key: reading_of(question, now.get(key, Tally()), before.get(key, Tally()))
            for key in keys
        }

    def _anomaly(self, question: Question, now: dict[tuple, Tally]) -> dict[tuple, Reading]:
        # Rules that differ only in thresholds ask the detector the same question: once.
        key = (
            "anomaly",
            question.filters,
            question.group_by,
            question.window_minutes,
            question.tz,
            question.weeks,
            question.exclude_benign,
        )
        if key not in self._anomalies:
            self._anomalies[key] = anomaly_readings(question, at=self.at, benign=self.benign)
        readings = self._anomalies[key]
        return {
            key: _with_codes(reading, now.get(key, Tally())) for key, reading in readings.items()
        }


def _with_codes(reading: Reading, tally: Tally) -> Reading:
    return Reading(
        calls=reading.calls,
        errors=reading.errors,
        value=reading.value,
        breach=reading.breach,
        summary=reading.summary,
        top_code=tally.top_code,
        codes=tally.codes,
    )


def reading_of(question: Question, now: Tally, before: Tally = Tally()) -> Reading:
    """The Reading of one group from its tally now (and a week before, for `change`). A group
    without calls has no value ("no data"), except for metrics where none is a value (calls)."""
    measure = metric(question.metric)
    if now.calls == 0:
        summary = f"no calls in the last {_span(question)}"
        return Reading(calls=0, errors=0, value=measure.absent, summary=summary)
    assert measure.value is not None
    value = measure.value(now.pair, before.pair)
    share = format_value("error_rate", error_rate(now.calls, now.errors))
    summary = f"{now.errors:,} of {now.calls:,} calls failed ({share}) in the last "
    summary += _span(question)
    return Reading(
        calls=now.calls,
        errors=now.errors,
        value=value,
        summary=summary,
        top_code=now.top_code,
        codes=now.codes,
    )


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


def anomaly_filters(question: Question, *, at: datetime, benign: Iterable[int]) -> Filters:
    """The filters the anomaly detector reads: without the benign codes when the rule says so
    (the overview's own "hide" list, over the weeks the detector compares)."""
    if not question.exclude_benign or not frozenset(benign):
        return question.filters
    span = Window(start=at - question.weeks * WEEK, end=at, tz=ZoneInfo("UTC"))
    return benign_filters(filters=question.filters, window=span, mode="hide")


def anomaly_readings(
    question: Question, *, at: datetime, benign: Iterable[int] = ()
) -> dict[tuple, Reading]:
    """Readings from `alerts.anomaly.assess_anomalies`: value = the tail probability, breach
    decided by the detector (`above_usual`)."""
    results = assess_anomalies(
        at=at,
        window_minutes=question.window_minutes,
        filters=anomaly_filters(question, at=at, benign=benign),
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


def open_failure_readings(question: Question, *, at: datetime) -> dict[tuple, Reading]:
    """Open references in the rule's filters waiting longer than its window, per group; the
    count is the reading's calls and errors too, so `min_calls`/`min_errors` floor it."""
    counts = count_open(
        where=OpenFilters(filters=question.filters, older_than_minutes=question.window_minutes),
        now=at,
        group=question.group_by if question.group else None,
    )
    if not question.group:
        counts = {(): sum(counts.values())}
    else:
        counts = {(key,): count for key, count in counts.items()}
    return {
        key: Reading(
            calls=count,
            errors=count,
            value=float(count),
            summary=f"{count:,} open failure{'' if count == 1 else 's'} waiting over "
            f"{_span(question)}",
        )
        for key, count in counts.items()
    }
