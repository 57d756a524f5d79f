"""Replay an unsaved rule minute by minute over the last days: when would it have fired?

The counts of the whole range come from one query (`stats.windowed.per_minute_counts`: calls
and errors per minute and group from the raw rows of the range); each minute's window is a
difference of running sums, and each group goes through `alerts.machine.step`, the function
the evaluator calls, with the readings `alerts.values.reading_of` makes for the evaluator.
Silences are not replayed (the question is "will this rule page me?").

`anomaly` rules ask `alerts.anomaly.assess_anomalies` at each quarter hour instead of each
minute (the detector reads weeks of history per call).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import accumulate
from typing import Any

from alerts.machine import Reading, Spec, State, severity_of, step
from alerts.values import WEEK, Question, anomaly_readings, labels_of, reading_of
from stats.windowed import per_minute_counts

MINUTE = timedelta(minutes=1)
ANOMALY_STEP = timedelta(minutes=15)


def replay(
    *, question: Question, spec: Spec, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Firings of the rule between start and end (whole UTC minutes): one dict per firing,
    {"group", "fired_at", "resolved_at" (None if still firing), "severity", "peak"}, oldest
    first, and the value series of the worst group (see `replay_with_series`)."""
    return replay_with_series(question=question, spec=spec, start=start, end=end)["firings"]


def replay_with_series(
    *, question: Question, spec: Spec, start: datetime, end: datetime
) -> dict[str, Any]:
    """{"firings": [...], "series": {group key text: [(minute, value), ...] every 15 min}}."""
    if question.metric == "anomaly":
        minutes = _steps(start, end, ANOMALY_STEP)
        readings_at = (anomaly_readings(question, at=m) for m in minutes)
    else:
        minutes = _steps(start, end, MINUTE)
        readings_at = _sliding_readings(question, start=start, end=end, minutes=minutes)
    return _run(question, spec, minutes, readings_at)


def _steps(start: datetime, end: datetime, step_size: timedelta) -> list[datetime]:
    count = int((end - start) / step_size)
    return [start + n * step_size for n in range(1, count + 1)]


def _sliding_readings(question: Question, *, start: datetime, end: datetime, minutes):
    """Per evaluated minute: group key -> Reading, from running sums of per-minute counts."""
    back = question.window * (2 if question.metric == "calls" else 1)
    if question.metric == "change":
        back = WEEK + question.window
    first = start - back
    series = per_minute_counts(start=first, end=end, filters=question.filters, group=question.group)
    if not question.group and not series:
        series = {(): ([0] * int((end - first) / MINUTE), [0] * int((end - first) / MINUTE))}
    sums = {key: (_prefix(calls), _prefix(errors)) for key, (calls, errors) in series.items()}
    width = question.window_minutes
    week = int(WEEK / MINUTE)

    def window(key, index: int) -> tuple[int, int]:
        calls, errors = sums[key]
        lo = max(index - width, 0)
        if index <= 0:
            return 0, 0
        return calls[index] - calls[lo], errors[index] - errors[lo]

    silent_check = question.metric == "calls" and question.direction == "below"
    for minute in minutes:
        index = int((minute - first) / MINUTE)
        readings = {}
        for key in sums:
            now = window(key, index)
            gone_silent = silent_check and window(key, index - width)[0]
            if question.group and not now[0] and not gone_silent:
                continue  # as the evaluator: a group with no calls has no reading
            before = window(key, index - week) if question.metric == "change" else (0, 0)
            readings[key] = reading_of(question, now, before)
        yield readings


def _prefix(values: list[int]) -> list[int]:
    return [0, *accumulate(values)]


def _run(question: Question, spec: Spec, minutes, readings_at) -> dict[str, Any]:
    states: dict[tuple, State] = {}
    open_firings: dict[tuple, dict[str, Any]] = {}
    firings: list[dict[str, Any]] = []
    series: dict[tuple, list] = {}
    for n, (minute, readings) in enumerate(zip(minutes, readings_at, strict=False)):
        keys = set(readings) | {k for k, s in states.items() if s.status in ("pending", "firing")}
        for key in keys:
            reading = readings.get(key) or _absent(question)
            previous = states.get(key, State())
            if previous.status in ("ok", "resolved") and not severity_of(reading, spec):
                continue  # nothing can change: the fast path of a quiet group
            state, changes = step(previous, reading=reading, spec=spec, at=minute)
            states[key] = state
            _note(changes, key, minute, state, reading, open_firings, firings, question)
        if n % 15 == 14 or question.metric == "anomaly":
            for key, reading in readings.items():
                series.setdefault(key, []).append((minute, reading.value))
    return {"firings": firings, "series": series}


def _absent(question: Question) -> Reading:
    value = {"errors": 0.0, "calls": 0.0, "error_rate": 0.0}.get(question.metric)
    return Reading(calls=0, errors=0, value=value)


def _note(changes, key, minute, state, reading, open_firings, firings, question) -> None:
    for change in changes:
        if change.kind == "firing" and key not in open_firings:
            firing = {
                "group": labels_of(question.group_by, key),
                "fired_at": minute,
                "resolved_at": None,
                "severity": change.severity,
                "peak": reading.value,
            }
            open_firings[key] = firing
            firings.append(firing)
        elif change.kind == "escalated" and key in open_firings:
            open_firings[key]["severity"] = change.severity
        elif change.kind == "resolved" and key in open_firings:
            open_firings.pop(key)["resolved_at"] = minute
    if key in open_firings and reading.value is not None:
        firing = open_firings[key]
        worse = _worse(question, spec_direction=question.direction)
        if firing["peak"] is None or worse(reading.value, firing["peak"]):
            firing["peak"] = reading.value


def _worse(question: Question, *, spec_direction: str):
    if question.metric == "anomaly" or spec_direction == "below":
        return lambda a, b: a < b
    return lambda a, b: a > b
