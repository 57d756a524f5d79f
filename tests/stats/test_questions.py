"""stats.questions (and stats.buckets, stats.sql under it): bucket edges (pure), the choice of
source, and the aggregates, counted independently of the SQL."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from stats import buckets, questions
from stats.errors import ReadError
from stats.window import Filters, Window

LONDON = ZoneInfo("Europe/London")
IST = ZoneInfo("Asia/Kolkata")
NEPAL = ZoneInfo("Asia/Kathmandu")
W44 = Window(
    start=datetime(2026, 10, 26, tzinfo=UTC), end=datetime(2026, 11, 2, tzinfo=UTC), tz=LONDON
)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# ---------------------------------------------------------------- bucket_starts (pure)


def test_london_spring_forward_day_has_23_hourly_buckets():
    day = datetime(2026, 3, 29, tzinfo=LONDON)
    starts = questions.bucket_starts(
        start=day, end=datetime(2026, 3, 30, tzinfo=LONDON), interval="hour", tz=LONDON
    )
    assert len(starts) == 23
    assert [s.astimezone(UTC).hour for s in starts[:3]] == [0, 1, 2]
    assert [s.hour for s in starts[:3]] == [0, 2, 3]  # 01:00 local never happens


def test_london_fall_back_day_has_25_hourly_buckets_with_01_twice():
    starts = questions.bucket_starts(
        start=datetime(2026, 10, 25, tzinfo=LONDON),
        end=datetime(2026, 10, 26, tzinfo=LONDON),
        interval="hour",
        tz=LONDON,
    )
    assert len(starts) == 25
    assert [s.isoformat() for s in starts[1:3]] == [
        "2026-10-25T01:00:00+01:00",
        "2026-10-25T01:00:00+00:00",
    ]


def test_day_buckets_start_at_local_midnight_in_half_and_quarter_hour_zones():
    for zone, utc_start in ((IST, utc(2026, 10, 19, 18, 30)), (NEPAL, utc(2026, 10, 19, 18, 15))):
        starts = questions.bucket_starts(
            start=utc(2026, 10, 20), end=utc(2026, 10, 22), interval="day", tz=zone
        )
        assert starts[0] == utc_start
        assert all(s.hour == s.minute == 0 for s in starts)
        assert len(starts) == 3


def test_hour_buckets_in_ist_start_at_the_local_hour_half_past_utc():
    starts = questions.bucket_starts(
        start=utc(2026, 1, 1), end=utc(2026, 1, 1, 2), interval="hour", tz=IST
    )
    assert [s.astimezone(UTC).strftime("%H:%M") for s in starts] == ["23:30", "00:30", "01:30"]


def test_week_buckets_start_on_monday_across_a_dst_change():
    starts = questions.bucket_starts(
        start=utc(2026, 10, 20), end=utc(2026, 11, 3), interval="week", tz=LONDON
    )
    assert [s.isoformat() for s in starts] == [
        "2026-10-19T00:00:00+01:00",
        "2026-10-26T00:00:00+00:00",
        "2026-11-02T00:00:00+00:00",
    ]


def test_minute_buckets_cover_the_window_one_per_minute():
    starts = questions.bucket_starts(
        start=utc(2026, 1, 1, 0, 0, 30), end=utc(2026, 1, 1, 0, 3), interval="minute", tz=IST
    )
    assert [s.astimezone(UTC).minute for s in starts] == [0, 1, 2]


def _plain_bucket_starts(start, end, interval, tz):
    """The calendar without bucket_starts' shortcut: every edge from _next_start."""
    starts, current = [], buckets._local_floor(start, interval, tz)
    while current < end:
        starts.append(current.astimezone(tz))
        current = buckets._next_start(current, interval, tz)
    return starts


@pytest.mark.parametrize(
    "zone",
    ["Europe/London", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe", "America/St_Johns"],
)
@pytest.mark.parametrize(("interval", "span"), [("hour", 400), ("minute", 2)])
def test_the_shortcut_for_minutes_and_hours_finds_the_same_edges_across_dst(zone, interval, span):
    """Lord Howe moves its clocks by 30 minutes: there the shortcut must step aside."""
    tz = ZoneInfo(zone)
    for start in (utc(2026, 3, 27, 23, 7, 5), utc(2026, 10, 3, 14, 30), utc(2026, 4, 4, 14, 31)):
        end = start + timedelta(days=span)
        fast = questions.bucket_starts(start=start, end=end, interval=interval, tz=tz)
        assert [(t, t.utcoffset()) for t in fast] == [
            (t, t.utcoffset()) for t in _plain_bucket_starts(start, end, interval, tz)
        ]


def test_minute_interval_over_48_hours_is_refused_naming_interval():
    window = Window(start=utc(2026, 1, 1), end=utc(2026, 1, 3, 0, 15), tz=UTC)
    with pytest.raises(ReadError) as refused:
        questions.check_interval(window=window, interval="minute")
    assert refused.value.field == "interval"


def test_more_than_5000_buckets_is_refused_and_5000_is_allowed():
    questions.check_interval(
        window=Window(start=utc(2026, 1, 1), end=utc(2026, 1, 1) + timedelta(hours=5000), tz=UTC),
        interval="hour",
    )
    with pytest.raises(ReadError):
        questions.check_interval(
            window=Window(
                start=utc(2026, 1, 1), end=utc(2026, 1, 1, 0, 15) + timedelta(hours=5000), tz=UTC
            ),
            interval="hour",
        )


# ---------------------------------------------------------------- source choice (pure)


def test_narrowest_rollup_covers_grouping_and_filters_else_raw_events():
    assert questions.choose_source(dims=set()).table == "ingest_rollup_category"
    assert questions.choose_source(dims={"category"}).table == "ingest_rollup_category"
    assert questions.choose_source(dims={"category", "code"}).table == "ingest_rollup_code"
    assert questions.choose_source(dims={"cp_id", "code"}).table == "ingest_rollup_courier"
    assert questions.choose_source(dims={"account_code"}).table == "ingest_rollup_account"
    assert questions.choose_source(dims={"cp_id", "endpoint"}).table == "ingest_event"
    assert questions.choose_source(dims=set(), interval="minute").table == "ingest_event"


def test_whole_utc_days_are_those_inside_the_window_that_no_bucket_edge_splits():
    ist_window = Window(start=utc(2026, 10, 19, 9, 15), end=utc(2026, 10, 29, 22), tz=IST)
    assert questions.whole_utc_days(ist_window) == (utc(2026, 10, 20), utc(2026, 10, 29))
    utc_days = questions.bucket_starts(
        start=utc(2026, 10, 19), end=utc(2026, 10, 30), interval="day", tz=UTC
    )
    assert questions.whole_utc_days(ist_window, utc_days) == (utc(2026, 10, 20), utc(2026, 10, 29))
    ist_days = questions.bucket_starts(
        start=ist_window.start, end=ist_window.end, interval="day", tz=IST
    )
    assert questions.whole_utc_days(ist_window, ist_days) is None  # edges at 18:30 UTC
    short = Window(start=utc(2026, 10, 19, 0, 15), end=utc(2026, 10, 20, 23, 45), tz=UTC)
    assert questions.whole_utc_days(short) is None


def test_long_breakdowns_read_whole_days_from_the_daily_rollup_and_edges_from_quarters(db, events):
    """IST 14:45 on the 19th to 03:30 on the 30th: the whole UTC days from the daily rollup,
    the two partial days from the quarter hours, and together exactly the window's calls."""
    window = Window(start=utc(2026, 10, 19, 9, 15), end=utc(2026, 10, 29, 22), tz=IST)
    sql, params = questions.aggregate_query(
        source=questions.choose_source(dims={"code"}),
        window=window,
        filters=Filters(),
        group=["code"],
    )
    got = {code: calls for code, calls, _ in questions.fetch(sql, params)}
    assert got == Counter(e.code for e in within(events, window))
    assert "ingest_rollup_code_daily" in sql and sql.count("UNION ALL") == 2


def test_grouping_by_a_dimension_outside_the_source_is_refused():
    with pytest.raises(ValueError):
        questions.aggregate_query(
            source=questions.ROLLUPS[0], window=W44, filters=Filters(), group=["cp_id"]
        )


# ---------------------------------------------------------------- aggregates (database)


def within(events, window: Window) -> list:
    return [e for e in events if window.start <= e.ts < window.end]


def test_totals_equal_a_count_of_the_window_and_the_week_before(db, events):
    got = questions.totals(window=W44, filters=Filters())
    now, before = within(events, W44), within(events, W44.previous())
    assert (got["events"], got["errors"]) == (len(now), sum(e.is_error for e in now))
    assert (got["previous_events"], got["previous_errors"]) == (
        len(before),
        sum(e.is_error for e in before),
    )
    assert got["change"] == pytest.approx(got["errors"] / got["previous_errors"] - 1, abs=1e-6)
    assert isinstance(got["events"], int)


def test_raw_fallback_counts_endpoints_of_one_courier(db, events):
    """Filter cp_id and group by endpoint: no rollup has both, the raw rows answer."""
    rows = questions.breakdown(window=W44, by="endpoint", limit=50, filters=Filters(cp_id=(4,)))
    expected = Counter(e.endpoint for e in within(events, W44) if e.cp_id == 4 and e.is_error)
    assert {r["key"]: r["errors"] for r in rows if r["errors"]} == expected


def test_rollup_and_raw_answers_agree_per_account(db, events):
    from_rollup = questions.breakdown(window=W44, by="account_code", limit=10, filters=Filters())
    from_raw = questions.breakdown(
        window=W44, by="account_code", limit=10, filters=Filters(endpoint=("order_create",))
    )
    expected = Counter(e.account for e in within(events, W44) if e.is_error)
    expected_create = Counter(
        e.account for e in within(events, W44) if e.is_error and e.endpoint == "order_create"
    )
    assert {r["key"]: r["errors"] for r in from_rollup} == expected
    assert {r["key"]: r["errors"] for r in from_raw} == expected_create
    assert {r["key"]: r["label"] for r in from_rollup}[""] == "no account"


def test_heatmap_cells_count_errors_per_courier_and_category(db, events):
    got = questions.heatmap(window=W44, filters=Filters())
    expected = Counter((e.cp_id, e.category) for e in within(events, W44) if e.is_error)
    cells = {
        (courier["key"], category): got["errors"][i][j]
        for i, courier in enumerate(got["couriers"])
        for j, category in enumerate(got["categories"])
        if got["errors"][i][j]
    }
    assert cells == expected
    labels = {c["key"]: c["label"] for c in got["couriers"]}
    assert labels == {
        4: "Delhivery",
        5: "Blue Dart",
        3: "Ecom Express",
        999: "cp 999",
        0: "no courier",
    }


def test_code_counts_list_the_catalog_and_unknown_codes_seen(db, events):
    rows = {row["code"]: row for row in questions.code_counts(window=W44, filters=Filters())}
    seen = Counter(e.code for e in within(events, W44))
    failing = Counter(e.code for e in within(events, W44) if e.is_error)
    assert {code: row["events"] for code, row in rows.items() if row["events"]} == seen
    assert {code: row["errors"] for code, row in rows.items() if row["errors"]} == failing
    assert rows[777]["in_catalog"] is False and rows[777]["category"] == "unknown"
    assert rows[150]["category"] == "unknown" and rows[150]["errors"] == 0
    assert rows[301]["in_catalog"] is True and rows[301]["events"] == 0  # never seen: still listed


def test_breakdowns_over_partial_edge_days_in_ist_equal_a_count_of_the_window(db, events):
    """Whole UTC days come from the daily rollups, the edges (IST 14:45 on the 19th to IST
    03:30 on the 30th) from the quarter hours: together exactly the window's events."""
    window = Window(
        start=datetime(2026, 10, 19, 14, 45, tzinfo=IST),
        end=datetime(2026, 10, 30, 3, 30, tzinfo=IST),
        tz=IST,
    )
    assert questions.whole_utc_days(window) == (utc(2026, 10, 20), utc(2026, 10, 29))
    now, before = within(events, window), within(events, window.previous())
    for by, value in (("code", "code"), ("cp_id", "cp_id"), ("account_code", "account")):
        rows = questions.breakdown(window=window, by=by, limit=50, filters=Filters())
        assert {r["key"]: r["events"] for r in rows} == Counter(getattr(e, value) for e in now)
        assert {r["key"]: r["errors"] for r in rows if r["errors"]} == Counter(
            getattr(e, value) for e in now if e.is_error
        )
        assert {r["key"]: r["previous_errors"] for r in rows if r["previous_errors"]} == Counter(
            getattr(e, value) for e in before if e.is_error
        )
    filtered = questions.breakdown(
        window=window, by="code", limit=50, filters=Filters(cp_id=(4,), category=("server",))
    )
    assert {r["key"]: r["events"] for r in filtered} == Counter(
        e.code for e in now if e.cp_id == 4 and e.category == "server"
    )


def test_utc_day_timeseries_by_code_from_daily_rollups_equal_a_count(db, events):
    window = Window(start=utc(2026, 10, 19, 6), end=utc(2026, 11, 1, 12, 30), tz=UTC)
    got = questions.timeseries(
        window=window, interval="day", group_by="code", filters=Filters(), limit=50
    )
    counted: Counter = Counter()
    for series in got["series"]:
        for point in series["points"]:
            counted[(point["t"].date().isoformat(), series["key"])] += point["events"]
    assert +counted == Counter((e.ts.date().isoformat(), e.code) for e in within(events, window))
