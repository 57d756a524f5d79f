"""The anomaly test's pure core (table-driven) and its reader of the rollups (stats.baselines)."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from alerts.anomaly import assess, assess_anomalies, beta_binomial_sf, usual_weeks
from ingest.pipeline import RawItem, ingest_items
from stats.baselines import baselines, rollup_for, same_hour_windows
from stats.questions import breakdown
from stats.window import Filters, Window
from tests import clock, read_dataset

IST = ZoneInfo("Asia/Kolkata")
LONDON = ZoneInfo("Europe/London")
STEADY = [(240, 7)] * 8  # 8 weeks at about 2.9%


# ---------------------------------------------------------------- the pure core


def _binomial_sf(k: int, n: int, p: Fraction) -> float:
    return float(sum(math.comb(n, x) * p**x * (1 - p) ** (n - x) for x in range(k, n + 1)))


@pytest.mark.parametrize(
    ("k", "n", "a", "b"),
    [
        (3, 20, 1.5, 28.5),
        (10, 20, 1.5, 28.5),
        (47, 2000, 320.5, 16000.5),
        (30, 2000, 320.5, 16000.5),
    ],
)
def test_beta_binomial_tail_equals_the_sum_of_its_terms(k, n, a, b):
    lg = math.lgamma
    terms = (
        math.exp(
            lg(n + 1)
            - lg(x + 1)
            - lg(n - x + 1)
            + lg(x + a)
            + lg(n - x + b)
            - lg(n + a + b)
            - lg(a)
            - lg(b)
            + lg(a + b)
        )
        for x in range(k, n + 1)
    )
    assert beta_binomial_sf(k, n, a, b) == pytest.approx(math.fsum(terms), rel=1e-8)


def test_a_very_strong_prior_gives_the_binomial_tail():
    strength = 10**9
    got = beta_binomial_sf(9, 120, 0.05 * strength, 0.95 * strength)
    assert got == pytest.approx(_binomial_sf(9, 120, Fraction(1, 20)), rel=1e-4)


@pytest.mark.parametrize(
    ("case", "calls", "errors", "history", "usual", "weeks", "anomalous"),
    [
        # 20 calls an hour: 3 failures against 5% is noise, 10 is an incident
        ("low volume, a few failures", 20, 3, [(20, 1)] * 8, 0.05, 8, False),
        ("low volume, half failing", 20, 10, [(20, 1)] * 8, 0.05, 8, True),
        ("no history", 120, 60, [], None, 0, False),
        ("two weeks are too few", 120, 60, [(240, 7)] * 2, None, 2, False),
        ("weeks without calls are not history", 120, 60, [(0, 0)] * 6 + STEADY[:2], None, 2, False),
        ("an incident week is dropped", 120, 18, [(240, 120)] + STEADY[1:], 7 / 240, 7, True),
        # a zero usual rate: improbable, but 2 of 2,000 is not a meaningful rise
        ("zero usual rate, a stray failure", 2000, 2, [(2000, 0)] * 8, 0.0, 8, False),
        ("zero usual rate, an outage", 2000, 300, [(2000, 0)] * 8, 0.0, 8, True),
        ("busy courier, doubled", 2000, 200, [(2000, 100)] * 8, 0.05, 8, True),
    ],
)
def test_assess(case, calls, errors, history, usual, weeks, anomalous):
    result = assess(calls, errors, history)
    assert result.weeks_used == weeks, case
    if usual is None:
        assert result.usual_rate is None
        assert (result.probability, result.above_usual) == (1.0, False)
    else:
        assert result.usual_rate == pytest.approx(usual)
    assert (result.probability < 1e-4 and result.above_usual) is anomalous, result


def test_the_margin_keeps_a_busy_groups_improbable_but_small_rise_quiet():
    # 20,000 calls: 5% -> 5.75% would happen by chance less than once in 100,000 windows,
    # but it is 1.15x usual, below the 1.2x margin
    result = assess(20000, 1150, [(20000, 1000)] * 8)
    assert result.probability < 1e-5
    assert not result.above_usual
    assert assess(20000, 1150, [(20000, 1000)] * 8, margin=1.1).above_usual


def test_an_erratic_history_weakens_the_prior():
    steady = assess(240, 14, [(240, 12)] * 8)
    erratic = assess(240, 14, [(240, e) for e in (2, 22, 4, 20, 6, 18, 8, 16)])
    assert steady.usual_rate == erratic.usual_rate == pytest.approx(0.05)
    assert erratic.probability > steady.probability


def test_outlier_weeks_are_a_minority_of_the_weeks():
    assert usual_weeks([(100, 1)] * 5 + [(100, 50)] * 3) == [(100, 1)] * 5
    # half and half: neither half is "usual", so nothing is dropped
    assert len(usual_weeks([(100, 1)] * 4 + [(100, 50)] * 4)) == 8


def test_summary_says_why_in_words():
    result = assess(120, 18, STEADY, when="Tuesdays 14:00–15:00 IST")
    assert result.summary == (
        "18 of 120 calls failed (15%) vs the usual 2.9% on Tuesdays 14:00–15:00 IST "
        "(8 weeks, 1,920 calls)"
    )
    thin = assess(120, 18, [], when="Tuesdays 14:00–15:00 IST").summary
    assert "too little history" in thin and "0 weeks" in thin


# ---------------------------------------------------------------- the windows


def test_same_hour_windows_are_whole_quarter_hours_a_local_week_apart():
    at = datetime(2026, 11, 24, 14, 7, tzinfo=IST)  # a Tuesday
    windows = same_hour_windows(at=at, window_minutes=60, tz=IST, weeks=8)
    assert windows[0].start == datetime(2026, 11, 24, 13, 15, tzinfo=IST)
    assert windows[0].end == datetime(2026, 11, 24, 14, 15, tzinfo=IST)
    for k, window in enumerate(windows):
        assert window.start == windows[0].start - timedelta(weeks=k)
        assert window.span == timedelta(hours=1)


def test_a_dst_change_moves_the_past_window_in_utc():
    at = datetime(2026, 11, 3, 14, 0, tzinfo=LONDON)  # Tuesday 14:00 GMT = 14:00 UTC
    windows = same_hour_windows(at=at, window_minutes=60, tz=LONDON, weeks=2)
    assert [w.end.astimezone(LONDON).hour for w in windows] == [14, 14, 14]
    assert [w.end.astimezone(UTC).hour for w in windows] == [14, 14, 13]  # 2 weeks ago: BST


def test_no_rollup_for_endpoint_by_courier():
    with pytest.raises(ValueError, match="no rollup"):
        rollup_for(filters=Filters(cp_id=(4,)), group_by="endpoint")


# ---------------------------------------------------------------- the reader, on the rollups

# Tuesday 14:00 IST (a quarter hour) of last week: nine weeks of history before it stay inside
# the retention horizon whatever today's date (tests/clock.py).
AT = (clock.weeks_ago(1) + timedelta(days=1)).astimezone(IST).replace(hour=14, minute=0)
COURIER_RATES = {4: 0.05, 5: 0.2}  # cp_id -> share of failing calls (every 20th / 5th)


def _events() -> list[tuple[int, datetime, int, bool]]:
    """(week ago, time, cp_id, is_error) for 9 weeks of the same hour, and a few outside it."""
    rows = []
    for week in range(9):
        end = AT - timedelta(weeks=week)
        for cp_id, rate in COURIER_RATES.items():
            calls = 40 + 7 * week + cp_id
            step = round(1 / rate)
            for n in range(calls):
                at = end - timedelta(minutes=60) + timedelta(seconds=n * 3600 / calls)
                rows.append(
                    (week, at, cp_id, n % step == 0 or (week == 0 and cp_id == 4 and n < 12))
                )
        rows.append((-1, end, 4, True))  # the window's end is outside it
        rows.append((-1, end - timedelta(minutes=61), 5, True))  # and a minute before its start
    return rows


@pytest.fixture(scope="module")
def history(django_db_setup, django_db_blocker):
    rows = _events()
    raw = [
        RawItem(
            {
                "event_id": f"anomaly-{i}",
                "timestamp": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                "endpoint": "order_create",
                "http_status": 503 if failed else 200,
                "cp_id": cp_id,
                "account_code": "acme",
            }
        )
        for i, (_, at, cp_id, failed) in enumerate(rows)
    ]
    with django_db_blocker.unblock():
        read_dataset.clear()
        outcome = ingest_items(raw, token_id=None)
        assert (outcome.accepted, outcome.rejected) == (len(raw), 0), outcome.errors[:3]
    yield rows
    with django_db_blocker.unblock():
        read_dataset.clear()


def _expected(rows, cp_id: int | None) -> dict[int, tuple[int, int]]:
    calls = Counter(w for w, _, cp, _ in rows if w >= 0 and cp_id in (None, cp))
    errors = Counter(w for w, _, cp, bad in rows if w >= 0 and bad and cp_id in (None, cp))
    return {week: (calls[week], errors[week]) for week in range(9)}


def test_baselines_count_each_courier_now_and_in_each_past_week(db, history):
    got = baselines(at=AT, window_minutes=60, filters=Filters(), group_by="cp_id", tz=IST)
    assert [row.key for row in got] == [4, 5]
    for row in got:
        expected = _expected(history, row.key)
        assert (row.calls, row.errors) == expected[0]
        assert list(row.history) == [expected[week] for week in range(1, 9)]


def test_baselines_without_grouping_and_with_a_filter(db, history):
    [row] = baselines(
        at=AT, window_minutes=60, filters=Filters(cp_id=(5,)), group_by="none", tz=IST, weeks=3
    )
    expected = _expected(history, 5)
    assert row.key is None
    assert ((row.calls, row.errors), list(row.history)) == (
        expected[0],
        [expected[1], expected[2], expected[3]],
    )


def test_current_window_equals_the_breakdown_for_an_aligned_window(db, history):
    window = Window(start=AT - timedelta(minutes=60), end=AT, tz=IST)
    charted = {
        r["key"]: (r["events"], r["errors"])
        for r in breakdown(window=window, by="cp_id", limit=50, filters=Filters())
    }
    got = baselines(at=AT, window_minutes=60, filters=Filters(), group_by="cp_id", tz=IST)
    assert {row.key: (row.calls, row.errors) for row in got} == charted


def test_assess_anomalies_flags_the_courier_whose_rate_rose(db, history):
    results = assess_anomalies(
        at=AT, window_minutes=60, filters=Filters(), group_by="cp_id", tz=IST
    )
    by_key = {r.key: r for r in results}
    assert by_key[4].above_usual and by_key[4].probability < 1e-4
    assert not by_key[5].above_usual
    assert results[0].key == 4  # the most improbable first
    assert "on Tuesdays 13:00–14:00 IST (8 weeks, " in by_key[4].summary
