"""alerts.preview: the replay loop (`_replay_group`) gives, on any per-minute counts, what the
loop did before its metric values were memoised per (calls, errors): the reference below is
that loop as it was (alerts/preview.py before 2026-12-07's change), kept verbatim."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.machine import Spec, State, step
from alerts.metrics import metric
from alerts.preview import MINUTE, WEEK, _absent, _note, _prefix, _replay_group, _window
from alerts.values import Question, Tally, reading_of
from stats.window import Filters

START = datetime(2026, 10, 20, 10, 7, tzinfo=UTC)


def _reference_group(question, spec, key, calls, errors, minutes, offset, result) -> None:
    width, week = question.window_minutes, int(WEEK / MINUTE)
    grouped, name = bool(question.group), question.metric
    weekly = metric(name).needs_week_before
    silent_check = name == "calls" and question.direction == "below"
    lowest = spec.warning if spec.warning is not None else spec.threshold
    state, open_firing, points = State(), None, []
    for n, minute in enumerate(minutes):
        i = offset + n + 1
        lo = max(i - width, 0)
        c, e = calls[i] - calls[lo], errors[i] - errors[lo]
        if n % 15 == 14:
            points.append((minute, _reference_value(name, c, e, calls, errors, i, week, width)))
        quiet = state.status in ("ok", "resolved")
        if quiet:
            present = c or not grouped or (silent_check and calls[lo] - calls[max(lo - width, 0)])
            if not present or c < spec.min_calls or e < spec.min_errors:
                continue
            value = _reference_value(name, c, e, calls, errors, i, week, width)
            if value is None or not spec.crosses(value, lowest):
                continue
        before = _window(calls, errors, i - week, width) if weekly else (0, 0)
        has_reading = c or not grouped or quiet
        reading = reading_of(question, Tally(c, e), Tally(*before)) if has_reading else None
        state, changes = step(state, reading=reading or _absent(question), spec=spec, at=minute)
        open_firing = _note(changes, key, minute, state, reading, open_firing, result, question)
    result["series"][key] = points


def _reference_value(name, c, e, calls, errors, i, week, width) -> float | None:
    measure = metric(name)
    assert measure.value is not None
    before = _window(calls, errors, i - week, width) if measure.needs_week_before else (0, 0)
    return measure.value((c, e), before)


RULES = [
    ("error_rate", "above", 0.2, 0.1, 5),
    ("error_rate", "above", 0.5, None, 0),
    ("errors", "above", 6, 3, 0),
    ("calls", "below", 8, None, 0),
    ("change", "above", 50, None, 3),
]


@st.composite
def minute_counts(draw, size: int) -> tuple[list[int], list[int]]:
    calls = draw(st.lists(st.integers(0, 12), min_size=size, max_size=size))
    errors = [draw(st.integers(0, c)) for c in calls]
    return calls, errors


@given(
    rule=st.sampled_from(RULES),
    width=st.sampled_from([1, 5, 15, 30]),
    grouped=st.booleans(),
    for_minutes=st.sampled_from([0, 3]),
    data=st.data(),
)
@settings(max_examples=150, deadline=None)
def test_the_replay_is_the_unmemoised_loops(rule, width, grouped, for_minutes, data):
    name, direction, threshold, warning, min_calls = rule
    question = Question(
        metric=name,
        filters=Filters(),
        group_by="cp_id" if grouped else "none",
        window_minutes=width,
        direction=direction,
    )
    spec = Spec(
        threshold=threshold,
        warning=warning,
        direction=direction,
        min_calls=min_calls,
        for_minutes=for_minutes,
        resolve_threshold=None,
    )
    replayed = data.draw(st.integers(20, 120))
    weekly = metric(name).needs_week_before
    offset = (int(WEEK / MINUTE) if weekly else 0) + 2 * width
    calls, errors = data.draw(minute_counts(offset + replayed))
    minutes = [START + (n + 1) * MINUTE for n in range(replayed)]
    key = (4,) if grouped else ()
    got: dict = {"firings": [], "series": {}}
    want: dict = {"firings": [], "series": {}}
    args = (question, spec, key, _prefix(calls), _prefix(errors), minutes, offset)
    _replay_group(*args, got)
    _reference_group(*args, want)
    assert got == want
