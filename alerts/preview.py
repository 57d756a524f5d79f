"""Replay an unsaved rule minute by minute over the last days: when would it have fired?

The counts of the whole range come from one query (`stats.windowed.per_minute_counts`: calls
and errors per minute and group from the raw rows of the range); each minute's window is a
difference of running sums, and each group goes through `alerts.machine.step`, the function
the evaluator calls, with the readings `alerts.values.reading_of` makes for the evaluator.
Silences are not replayed (the question is "will this rule page me?").

`anomaly` rules ask `alerts.anomaly.assess_anomalies` at each quarter hour instead of each
minute (the detector reads weeks of history per call). `open_failures` rules are answered at
the range's end only: the open-failure state is kept for now, not for past minutes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Any

from alerts.machine import Reading, Spec, State, step
from alerts.metrics import metric
from alerts.values import (
    WEEK,
    Question,
    Tally,
    anomaly_readings,
    labels_of,
    latency_reading,
    open_failure_readings,
    reading_of,
)
from stats.latency import Histogram, add
from stats.windowed import per_minute_counts, per_minute_histograms

MINUTE = timedelta(minutes=1)
ANOMALY_STEP = timedelta(minutes=15)


def replay_with_series(
    *,
    question: Question,
    spec: Spec,
    start: datetime,
    end: datetime,
    benign: frozenset[int] = frozenset(),
) -> dict[str, Any]:
    """Firings of the rule between start and end (whole UTC minutes), oldest first, each
    {"group", "fired_at", "resolved_at" (None if still firing), "severity", "peak"}, and the
    value series: {"firings": [...], "series": {group key: [(minute, value), ...] every 15
    minutes}}. `benign`: the catalog's benign codes, left out when the rule excludes them."""
    if question.metric == "anomaly":
        return _replay_anomaly(question, spec, _steps(start, end, ANOMALY_STEP), benign)
    if question.metric == "open_failures":
        return _replay_open_failures(question, spec, at=end)
    if question.metric == "latency":
        return _replay_latency(question, spec, start=start, end=end)
    return _replay_counts(question, spec, start=start, end=end, benign=benign)


def _steps(start: datetime, end: datetime, step_size: timedelta) -> list[datetime]:
    count = int((end - start) / step_size)
    return [start + n * step_size for n in range(1, count + 1)]


def _replay_counts(
    question: Question, spec: Spec, *, start: datetime, end: datetime, benign: frozenset[int]
) -> dict:
    """Count metrics: each group on its own (groups are independent), minute by minute, from
    running sums of per-minute counts. A quiet group whose reading cannot breach (under the
    volume floor, or not past the lowest alerting line) is skipped without calling `step`:
    `step` would return it unchanged, so the replay is the evaluator's, only faster."""
    weekly = metric(question.metric).needs_week_before
    back = WEEK + question.window if weekly else 2 * question.window
    first = start - back
    size = int((end - first) / MINUTE)
    # Benign codes left out in the read: what `alerts.values.fold` leaves out of a window.
    series = per_minute_counts(
        start=first,
        end=end,
        filters=question.filters,
        group=question.group,
        without_codes=benign if question.exclude_benign else (),
    )
    if not question.group and not series:
        series = {(): ([0] * size, [0] * size)}
    minutes = _steps(start, end, MINUTE)
    offset = int((start - first) / MINUTE)
    result: dict[str, Any] = {"firings": [], "series": {}}
    # Groups in key order: firings at the same minute (sorted below, stably) and the chart's
    # traces come in one order, not the order the database happened to hash the groups in.
    for key, (calls, errors) in sorted(series.items()):
        _replay_group(question, spec, key, _prefix(calls), _prefix(errors), minutes, offset, result)
    result["firings"].sort(key=lambda firing: firing["fired_at"])
    return result


def _replay_group(question, spec, key, calls, errors, minutes, offset, result) -> None:
    width, week = question.window_minutes, int(WEEK / MINUTE)
    grouped, name = bool(question.group), question.metric
    weekly = metric(name).needs_week_before
    silent_check = name == "calls" and question.direction == "below"
    lowest = spec.warning if spec.warning is not None else spec.threshold
    value_at = _valuer(name, calls, errors, week, width)
    state, open_firing, points = State(), None, []
    for n, minute in enumerate(minutes):
        i = offset + n + 1
        lo = max(i - width, 0)
        c, e = calls[i] - calls[lo], errors[i] - errors[lo]
        if n % 15 == 14:
            points.append((minute, value_at(c, e, i)))
        quiet = state.status in ("ok", "resolved")
        if quiet:
            present = c or not grouped or (silent_check and calls[lo] - calls[max(lo - width, 0)])
            if not present or c < spec.min_calls or e < spec.min_errors:
                continue
            value = value_at(c, e, i)
            if value is None or not spec.crosses(value, lowest):
                continue
        before = _window(calls, errors, i - week, width) if weekly else (0, 0)
        has_reading = c or not grouped or quiet
        reading = reading_of(question, Tally(c, e), Tally(*before)) if has_reading else None
        state, changes = step(state, reading=reading or _absent(question), spec=spec, at=minute)
        open_firing = _note(changes, key, minute, state, reading, open_firing, result, question)
    result["series"][key] = points


def _window(calls, errors, index: int, width: int) -> tuple[int, int]:
    if index <= 0:
        return 0, 0
    lo = max(index - width, 0)
    return calls[index] - calls[lo], errors[index] - errors[lo]


def _valuer(name, calls, errors, week, width) -> Callable[[int, int, int], float | None]:
    """The metric's value of the window ending at index i with counts (c, e): computed once
    per distinct (c, e) when the value depends on nothing else (at 10 M events, 14 days of a
    busy group are ~20,000 minutes that pass the volume floor, with far fewer distinct counts)."""
    measure = metric(name)
    assert measure.value is not None
    value = measure.value
    if measure.needs_week_before:
        return lambda c, e, i: value((c, e), _window(calls, errors, i - week, width))
    memo: dict[tuple[int, int], float | None] = {}

    def of(c: int, e: int, i: int) -> float | None:
        pair = (c, e)
        if pair not in memo:
            memo[pair] = value(pair, (0, 0))
        return memo[pair]

    return of


def _prefix(values: list[int]) -> list[int]:
    return [0, *accumulate(values)]


def _absent(question: Question) -> Reading:
    return reading_of(question, Tally())


def _replay_latency(question: Question, spec: Spec, *, start: datetime, end: datetime) -> dict:
    """Latency rules: per-minute histograms of the raw rows (one query), slid minute by minute
    into each minute's window histogram (add the minute coming in, take out the one leaving),
    each window read by `alerts.values.latency_reading`, the evaluator's own."""
    first = start - 2 * question.window
    series = per_minute_histograms(
        start=first, end=end, filters=question.filters, group=question.group
    )
    if not question.group and not series:
        series = {(): {}}
    minutes = _steps(start, end, MINUTE)
    offset, width = int((start - first) / MINUTE), question.window_minutes
    result: dict[str, Any] = {"firings": [], "series": {}}
    for key, per_minute in series.items():
        state, open_firing, points = State(), None, []
        window: Histogram = {}
        for i in range(offset - width + 1, offset):  # the first window, less its last minute
            add(window, per_minute.get(i, {}))
        for n, minute in enumerate(minutes):
            i = offset + n
            add(window, per_minute.get(i, {}))
            add(window, {b: -c for b, c in per_minute.get(i - width, {}).items()})
            reading = latency_reading(question, {b: c for b, c in window.items() if c})
            if n % 15 == 14:
                points.append((minute, reading.value))
            if state.status in ("ok", "resolved") and (
                reading.value is None
                or reading.calls < spec.min_calls
                or not spec.crosses(reading.value, _lowest(spec))
            ):
                continue
            state, changes = step(state, reading=reading, spec=spec, at=minute)
            open_firing = _note(changes, key, minute, state, reading, open_firing, result, question)
        result["series"][key] = points
    result["firings"].sort(key=lambda firing: firing["fired_at"])
    return result


def _lowest(spec: Spec) -> float:
    return spec.warning if spec.warning is not None else spec.threshold


def _replay_anomaly(
    question: Question, spec: Spec, minutes: list[datetime], benign: frozenset[int]
) -> dict:
    result: dict[str, Any] = {"firings": [], "series": {}}
    states: dict[tuple, State] = {}
    opened: dict[tuple, dict | None] = {}
    for minute in minutes:
        readings = anomaly_readings(question, at=minute, benign=benign)
        live = {k for k, s in states.items() if s.status in ("pending", "firing")}
        for key in set(readings) | live:
            reading = readings.get(key)
            states[key], changes = step(
                states.get(key, State()), reading=reading or _absent(question), spec=spec, at=minute
            )
            opened[key] = _note(
                changes, key, minute, states[key], reading, opened.get(key), result, question
            )
        for key, reading in readings.items():
            result["series"].setdefault(key, []).append((minute, reading.value))
    result["firings"].sort(key=lambda firing: firing["fired_at"])
    return result


def _replay_open_failures(question: Question, spec: Spec, *, at: datetime) -> dict:
    """The rule's answer now: a group over its lines shows as firing from now (the pending
    time, `for_minutes`, is not replayed: there is no past to replay)."""
    result: dict[str, Any] = {"firings": [], "series": {}}
    instant = replace(spec, for_minutes=0)
    for key, reading in open_failure_readings(question, at=at).items():
        state, changes = step(State(), reading=reading, spec=instant, at=at)
        _note(changes, key, at, state, reading, None, result, question)
        result["series"][key] = [(at, reading.value)]
    return result


def _note(changes, key, minute, state, reading, open_firing, result, question):
    """Record firings and resolves; returns the group's open firing (or None)."""
    for change in changes:
        if change.kind == "firing" and open_firing is None:
            open_firing = {
                "group": labels_of(question.group_by, key),
                "fired_at": minute,
                "resolved_at": None,
                "severity": change.severity,
                "peak": reading.value if reading else None,
            }
            result["firings"].append(open_firing)
        elif change.kind == "escalated" and open_firing is not None:
            open_firing["severity"] = change.severity
        elif change.kind == "resolved" and open_firing is not None:
            open_firing["resolved_at"] = minute
            open_firing = None
    if open_firing is not None and reading is not None and reading.value is not None:
        lower_is_worse = question.metric == "anomaly" or question.direction == "below"
        peak = open_firing["peak"]
        if peak is None or (reading.value < peak if lower_is_worse else reading.value > peak):
            open_firing["peak"] = reading.value
    return open_firing
