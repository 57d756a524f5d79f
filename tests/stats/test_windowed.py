"""stats.windowed: exact minute windows (rollup quarter hours + raw edges) equal the charts'
answers on aligned windows and an independent count on any window."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stats import questions
from stats.window import DIMENSIONS, Filters, Window
from stats.windowed import EdgeMemory, edge_ranges, per_minute_counts, read_edges, window_counts
from tests.read_dataset import NOW

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


FILTER_CHOICES = [
    Filters(),
    Filters(code=(503, 500), cp_id=(4,)),
    Filters(category=("server", "service")),
    Filters(account_code=("acme",), endpoint=("order_create", "tracking_register")),
    Filters(cp_id=(0, 4, 7)),
]


def _count_per_minute(events, start, end, filters, group, without=()) -> dict:
    """The independent answer: each event in Python (cp_id 0 is "none", as the source spells it)."""
    size = int((end - start) / timedelta(minutes=1))
    series: dict = {}
    for e in events:
        if not start <= e.ts < end or e.code in without:
            continue
        values = {d: getattr(e, "account" if d == "account_code" else d) for d in DIMENSIONS}
        if any(values[d] not in getattr(filters, d) for d in filters.dims()):
            continue
        calls, errors = series.setdefault(tuple(values[d] for d in group), ([0] * size, [0] * size))
        slot = int((e.ts - start) / timedelta(minutes=1))
        calls[slot] += 1
        errors[slot] += e.is_error
    return series


@given(
    first=st.integers(min_value=-3 * 24 * 60, max_value=3 * 24 * 60),
    minutes=st.integers(min_value=1, max_value=3 * 24 * 60),
    chosen=st.sampled_from(FILTER_CHOICES),
    group=st.sampled_from(
        [(), ("cp_id",), ("code",), ("account_code",), ("endpoint", "code"), ("cp_id", "code")]
    ),
    without=st.sampled_from([(), (503,), (500, 503, 1)]),
)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_per_minute_counts_are_every_minutes_own_count(
    events, first, minutes, chosen, group, without
):
    """The preview's read, minute by minute, equals an independent count of the events: any
    range (inside, across or outside the data set), filters, grouping and codes left out."""
    start = utc(2026, 10, 21, 9, 0) + timedelta(minutes=first)
    end = start + timedelta(minutes=minutes)
    got = per_minute_counts(
        start=start, end=end, filters=chosen, group=group, without_codes=without
    )
    assert got == _count_per_minute(events, start, end, chosen, group, without)


@given(
    starts=st.lists(st.integers(min_value=0, max_value=2 * 24 * 60), min_size=1, max_size=4),
    minutes=st.integers(min_value=1, max_value=180),
    chosen=st.sampled_from(FILTER_CHOICES),
    group=st.sampled_from([(), ("cp_id",), ("code",), ("account_code",), ("endpoint", "code")]),
    dims_sets=st.sampled_from(
        [
            [DIMENSIONS],
            [("cp_id", "code"), ("code",)],
            [("code", "account_code"), ("endpoint", "code", "category"), ("cp_id", "code")],
            [("code", "cp_id"), DIMENSIONS],
            [()],
        ]
    ),
)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_edges_read_once_for_many_windows_count_as_each_windows_own_raw_read(
    events, starts, minutes, chosen, group, dims_sets
):
    """Whatever sets of dimensions the edges were counted by: a window they hold is summed
    from them, one they do not is read, and either equals the window's own raw read."""
    base = utc(2026, 10, 20, 10, 3)
    windows = [(base + timedelta(minutes=s), base + timedelta(minutes=s + minutes)) for s in starts]
    shared = read_edges((piece for a, b in windows for piece in edge_ranges(a, b)), dims_sets)
    needed = {*chosen.dims(), *group}
    held = any(needed <= set(dims) for dims in dims_sets)
    for a, b in windows:
        for piece in edge_ranges(a, b):
            assert shared.covers(*piece, dims=needed) == held
        alone = window_counts(start=a, end=b, filters=chosen, group=group)
        assert window_counts(start=a, end=b, filters=chosen, group=group, edges=shared) == alone


def test_shared_edges_hold_the_edge_minutes_events(events):
    start, end = utc(2026, 10, 20, 10, 7), utc(2026, 10, 21, 13, 52)
    shared = read_edges(edge_ranges(start, end))
    rows = shared.sets[DIMENSIONS]
    assert rows
    assert shared.covered == [(start, utc(2026, 10, 20, 10, 15)), (utc(2026, 10, 21, 13, 45), end)]
    assert sum(row[-2] for piece in rows.values() for row in piece) == sum(
        1
        for e in events
        if start <= e.ts < utc(2026, 10, 20, 10, 15) or utc(2026, 10, 21, 13, 45) <= e.ts < end
    )


def _late_event(at: datetime, n: int) -> None:
    """One call stored through the ingest pipeline (its rollups with it), at `at`."""
    from ingest.pipeline import RawItem, ingest_items

    item = {
        "event_id": f"late-edge-{n}",
        "timestamp": at.isoformat(),
        "endpoint": "order_create",
        "cp_id": 7,
        "courier": "Delhivery",
        "account_code": "acme",
        "http_status": 503,
    }
    outcome = ingest_items([RawItem(item)], token_id=None)
    assert (outcome.accepted, outcome.rejected) == (1, 0), outcome.errors


def _held(edges) -> tuple:
    """What a read of edges holds, rows in a fixed order."""
    sets = {dims: {n: sorted(rows) for n, rows in s.items()} for dims, s in edges.sets.items()}
    return edges.covered, edges.bounds, sets


def test_edges_kept_in_memory_equal_a_fresh_read_minute_after_minute_and_after_late_rows(events):
    """An evaluator's memory of the edge minutes reads each minute once (the newest; a minute
    of a window is held until it is a start edge, across quarter hours), and holds nothing
    stale: rows stored late into minutes it holds (the current quarter hour and one long
    finished) are counted the next minute, as a fresh read counts them."""
    memory = EdgeMemory()
    dims_sets = [("cp_id", "code"), ("code", "account_code"), DIMENSIONS, ()]
    base = NOW - timedelta(days=1, minutes=53)  # 11:07 UTC: two quarter hours are crossed

    def windows(at: datetime) -> list[tuple[datetime, datetime]]:
        return [(at - timedelta(minutes=w), at) for w in (5, 15, 60)]

    read_before = 0
    for n in range(20):
        at = base + timedelta(minutes=n)
        if n in (9, 14):
            _late_event(at - timedelta(minutes=2, seconds=10), n)  # a held minute, this quarter
            _late_event(at - timedelta(minutes=58), n + 100)  # a held minute, long finished
        ranges = [piece for a, b in windows(at) for piece in edge_ranges(a, b)]
        kept = read_edges(ranges, dims_sets, memory=memory, keep=windows(at))
        assert _held(kept) == _held(read_edges(ranges, dims_sets)), at
        read_now, read_before = memory.raw_minutes_read - read_before, memory.raw_minutes_read
        if n == 0:
            assert read_now == 60  # the longest window's minutes, once
        elif n not in (9, 14):
            assert read_now == 1, (at, read_now)  # the newest minute only
    assert set(memory.marks) == {at - timedelta(minutes=k) for k in range(1, 61)}
