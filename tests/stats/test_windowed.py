"""stats.windowed: exact minute windows (rollup quarter hours + raw edges) equal the charts'
answers on aligned windows and an independent count on any window."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from stats import questions
from stats.window import Filters, Window
from stats.windowed import per_minute_counts, window_counts

pytestmark = pytest.mark.django_db


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def expected(events, start, end, key=lambda e: e.cp_id, keep=lambda e: True) -> dict:
    calls, errors = Counter(), Counter()
    for e in events:
        if start <= e.ts < end and keep(e):
            calls[key(e)] += 1
            errors[key(e)] += e.is_error
    return {(k,): (calls[k], errors[k]) for k in calls}


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (utc(2026, 10, 20, 10, 0), utc(2026, 10, 21, 13, 45)),
        (utc(2026, 10, 25, 0, 0), utc(2026, 10, 26, 0, 0)),  # London's 25-hour day
        (utc(2026, 10, 25, 18, 15), utc(2026, 10, 25, 18, 45)),  # around IST midnight
    ],
)
def test_on_quarter_hour_windows_it_equals_the_charts_breakdown_and_totals(events, start, end):
    window = Window(start=start, end=end, tz=UTC)
    for by in ("cp_id", "code", "category", "endpoint", "account_code"):
        rows = questions.breakdown(window=window, by=by, limit=10_000, filters=Filters())
        got = window_counts(start=start, end=end, filters=Filters(), group=(by,))
        assert got == {(r["key"],): (r["events"], r["errors"]) for r in rows}, by
    totals = questions.totals(window=window, filters=Filters())
    assert window_counts(start=start, end=end, filters=Filters()) == {
        (): (totals["events"], totals["errors"])
    }


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (utc(2026, 10, 20, 10, 7), utc(2026, 10, 20, 10, 12)),  # inside one quarter hour
        (utc(2026, 10, 20, 10, 7), utc(2026, 10, 21, 13, 52)),  # edges and quarter hours
        (utc(2026, 10, 25, 0, 59), utc(2026, 10, 25, 2, 1)),  # London's repeated hour
    ],
)
def test_on_any_minute_window_it_counts_exactly_the_events_inside(events, start, end):
    assert window_counts(start=start, end=end, filters=Filters(), group=("cp_id",)) == expected(
        events, start, end
    )
    code_filter = Filters(code=(503, 500), cp_id=(4,))
    assert window_counts(start=start, end=end, filters=code_filter, group=("endpoint",)) == (
        expected(
            events,
            start,
            end,
            key=lambda e: e.endpoint,
            keep=lambda e: e.code in (503, 500) and e.cp_id == 4,
        )
    )


def test_per_minute_counts_add_up_to_the_window(events):
    start, end = utc(2026, 10, 20, 10, 0), utc(2026, 10, 20, 16, 0)
    series = per_minute_counts(start=start, end=end, filters=Filters(), group=("cp_id",))
    assert {key: (sum(c), sum(e)) for key, (c, e) in series.items()} == expected(events, start, end)
    for key, (calls, _) in series.items():
        assert len(calls) == 360
        minute = start + timedelta(minutes=100)
        assert (
            calls[100]
            == expected(events, minute, minute + timedelta(minutes=1)).get(key, (0, 0))[0]
        )
