"""The latency read API: percentiles within 5 % (or 1 ms) of the exact nearest-rank value of
the stored events, counted here from the generated latencies; calls without a latency count for
nothing; the slowest calls listed slowest first, page after page; bad input is a 400."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from ingest import store
from ingest.catalog import SEED_BY_CODE
from ingest.events import clean_event
from ingest.times import EPOCH
from stats import latency, questions
from stats.buckets import bucket_starts
from stats.sql import hourly_latency_query
from stats.window import Filters, Window

LATENCY = "/api/v1/stats/latency/"
BREAKDOWN = "/api/v1/stats/breakdown/"
EVENTS = "/api/v1/events/"
MEDIANS = {"order_create": 900.0, "tracking_status": 180.0, "label": 2500.0}


def exact(values: list[float], p: float) -> float | None:
    values = sorted(values)
    if not values:
        return None
    return values[max(1, math.ceil(Fraction(str(p)) * len(values) / 100)) - 1]


def close_enough(got: float | None, want: float | None) -> bool:
    if got is None or want is None:
        return got is want
    return abs(got - want) <= max(0.05 * want, 1.0)


@pytest.fixture
def start() -> datetime:
    """Three whole hours ago (UTC), so the test's hours are whole and in the past."""
    now = timezone.now().astimezone(UTC)
    return now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)


@pytest.fixture
def stored(db, start) -> list[dict]:
    """Lognormal latencies per endpoint over the first two of three hours (the third is
    empty), a 20 s tail, ties and calls without a latency."""
    rng = random.Random(24)
    made = []
    for n in range(600):
        endpoint = rng.choice(list(MEDIANS))
        latency = rng.lognormvariate(math.log(MEDIANS[endpoint]), 0.6)
        if n % 10 == 0:
            latency = None
        elif n % 17 == 0:
            latency = 20_000.0
        elif n % 13 == 0:
            latency = 450.0
        made.append(
            {
                "timestamp": (start + timedelta(seconds=rng.randrange(7200))).isoformat(),
                "endpoint": endpoint,
                "http_status": 200 if n % 9 else 503,
                "cp_id": 1 + n % 3,
                "latency_ms": latency,
                "event_id": f"lat-{n}",
            }
        )
    now = timezone.now()
    store.write_events(
        [clean_event(raw, now=now, catalog=SEED_BY_CODE, horizon=EPOCH) for raw in made],
        token_id=None,
    )
    return made


def window(start: datetime) -> dict:
    return {"start": start.isoformat(), "end": (start + timedelta(hours=3)).isoformat()}


def test_hourly_percentiles_are_within_5_percent_of_the_exact_ones(read_client, start, stored):
    body = read_client.get(
        LATENCY, window(start) | {"interval": "hour", "tz": "UTC", "percentiles": "50,95,99.9"}
    ).json()
    hours: dict[int, list[float]] = defaultdict(list)
    for event in stored:
        if event["latency_ms"] is not None:
            hour = int((datetime.fromisoformat(event["timestamp"]) - start).total_seconds() // 3600)
            hours[hour].append(event["latency_ms"])
    assert [point["calls"] for point in body["totals"]] == [len(hours[h]) for h in range(3)]
    for h, point in enumerate(body["totals"]):
        for p, key in ((50, "p50"), (95, "p95"), (99.9, "p99.9")):
            assert close_enough(point[key], exact(hours[h], p)), (h, key)
    assert body["totals"][2] == {"t": body["totals"][2]["t"], "calls": 0} | dict.fromkeys(
        ("p50", "p95", "p99.9")
    )


def test_series_by_endpoint_keep_the_limit_and_merge_the_rest_into_other(
    read_client, start, stored
):
    body = read_client.get(
        LATENCY, window(start) | {"interval": "day", "group_by": "endpoint", "limit": 1}
    ).json()
    by_endpoint: dict[str, list[float]] = defaultdict(list)
    for event in stored:
        if event["latency_ms"] is not None:
            by_endpoint[event["endpoint"]].append(event["latency_ms"])
    busiest = max(by_endpoint, key=lambda e: len(by_endpoint[e]))
    [top, other] = body["series"]
    assert top["key"] == busiest and other["key"] == "other"
    assert other["label"] == "2 other endpoints"
    rest = [v for e, values in by_endpoint.items() if e != busiest for v in values]
    for series, values in ((top, by_endpoint[busiest]), (other, rest)):
        assert sum(point["calls"] for point in series["points"]) == len(values)
        merged_points = [point for point in series["points"] if point["calls"]]
        if len(merged_points) == 1:  # the window is inside one day
            assert close_enough(merged_points[0]["p95"], exact(values, 95))


def test_breakdown_rows_carry_the_p50_and_p95_of_their_calls(read_client, start, stored):
    rows = read_client.get(BREAKDOWN, window(start) | {"by": "endpoint"}).json()
    for row in rows:
        values = [e["latency_ms"] for e in stored if e["endpoint"] == row["key"]]
        values = [v for v in values if v is not None]
        assert close_enough(row["p50_ms"], exact(values, 50)), row
        assert close_enough(row["p95_ms"], exact(values, 95)), row


def test_slowest_calls_come_slowest_first_on_every_page(read_client, start, stored):
    params = window(start) | {"sort": "-latency", "min_latency_ms": 1000, "limit": 7}
    seen, url = [], EVENTS
    while url:
        page = read_client.get(url, params if url == EVENTS else None).json()
        seen += page["results"]
        url = page["next"]
    want = sorted((e["latency_ms"] for e in stored if (e["latency_ms"] or 0) >= 1000), reverse=True)
    assert [row["latency_ms"] for row in seen] == want
    assert len({row["id"] for row in seen}) == len(seen)


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"percentiles": "0"}, "percentiles"),
        ({"percentiles": "100"}, "percentiles"),
        ({"percentiles": "abc"}, "percentiles"),
        ({"percentiles": "99.95"}, "percentiles"),
        ({"percentiles": "1,2,3,4,5,6"}, "percentiles"),
        ({"group_by": "courier"}, "group_by"),
    ],
)
def test_bad_latency_parameters_are_a_400_naming_them(read_client, params, name):
    response = read_client.get(LATENCY, params)
    assert response.status_code == 400
    assert name in response.json()["detail"]


@pytest.mark.parametrize(
    "params",
    [{"min_latency_ms": "-1"}, {"min_latency_ms": "fast"}, {"sort": "latency"}],
)
def test_bad_event_list_latency_parameters_are_a_400(read_client, params):
    response = read_client.get(EVENTS, params)
    assert response.status_code == 400
    assert set(response.json()["detail"]) == set(params)


def test_a_newest_first_cursor_does_not_continue_a_slowest_first_list(read_client):
    newest_cursor = "MjAyNi0wMS0wMVQwMDowMDowMCswMDowMHwx"  # base64 of "<time>|1"
    response = read_client.get(EVENTS, {"sort": "-latency", "cursor": newest_cursor})
    assert response.status_code == 400 and "cursor" in response.json()["detail"]


QUARTER = timedelta(minutes=15)


@pytest.mark.parametrize(
    ("offset", "length", "zone", "interval", "group_by", "filters", "hourly"),
    [
        (timedelta(0), timedelta(hours=3), "UTC", "hour", "endpoint", {}, True),
        (QUARTER, timedelta(hours=2, minutes=30), "UTC", "hour", "none", {}, True),
        (QUARTER * 3, timedelta(minutes=30), "UTC", "hour", "cp_id", {"cp_id": (1, 3)}, True),
        (timedelta(0), timedelta(hours=3), "Asia/Tokyo", "day", "endpoint", {}, True),
        (timedelta(0), timedelta(hours=3), "UTC", "hour", "none", {"endpoint": ("label",)}, True),
        (timedelta(0), timedelta(hours=3), "Asia/Kolkata", "hour", "endpoint", {}, False),
        (timedelta(0), timedelta(hours=3), "UTC", "hour", "endpoint", {"cp_id": (2,)}, False),
    ],
)
def test_the_hourly_latency_rollups_answer_what_the_quarter_hours_answer(
    stored, start, offset, length, zone, interval, group_by, filters, hourly
):
    """The hourly rollups (with the 15-minute rollup at partial hours) give the very answer
    the 15-minute rollups give, when the question fits them; the rest never reach them."""
    window = Window(start=start + offset, end=start + offset + length, tz=ZoneInfo(zone))
    wanted = Filters(**filters)
    group = [] if group_by == "none" else [group_by]
    edges = bucket_starts(start=window.start, end=window.end, interval=interval, tz=window.tz)
    query = hourly_latency_query(
        window=window, filters=wanted, by=group, interval=interval, edges=edges
    )
    assert (query is not None) is hourly

    def both(ask):
        new = ask()
        with (
            mock.patch.object(questions, "hourly_latency_query", lambda **kwargs: None),
            mock.patch.object(latency, "hourly_latency_query", lambda **kwargs: None),
        ):
            return new, ask()

    new, old = both(
        lambda: questions.latency_timeseries(
            window=window,
            interval=interval,
            group_by=group_by,
            filters=wanted,
            percentiles=(50, 95, 99.9),
            limit=2,
        )
    )
    assert new == old and any(point["calls"] for point in new["totals"])
    new, old = both(lambda: latency.histograms_by(window=window, filters=wanted, by=group))
    assert new == old and new
