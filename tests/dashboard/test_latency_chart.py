"""The overview's latency figure: a log axis labelled in ms and s, gaps where a bucket has no
latency, p95 per group when grouped, and each point opening that bucket's slowest calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.utils.html import escape

from dashboard.charts import latency_figure, ms_tick
from stats.links import Drill
from stats.window import Filters
from tests.dashboard.test_pages import call, store

START = datetime(2026, 3, 2, 10, tzinfo=UTC)


def point(hour: int, calls: int, p50: float | None, p95: float | None) -> dict:
    return {"t": START + timedelta(hours=hour), "calls": calls, "p50": p50, "p95": p95}


def answer(group_by: str, series: list[dict], totals: list[dict]) -> dict:
    return {
        "interval": "hour",
        "group_by": group_by,
        "start": START,
        "end": START + timedelta(hours=len(totals)),
        "totals": totals,
        "series": series,
    }


DRILL = Drill(filters=Filters(), tz=ZoneInfo("UTC"), start=START, end=START + timedelta(hours=3))


def test_p50_and_p95_on_a_log_axis_with_gaps_and_slowest_call_links():
    totals = [point(0, 120, 380.0, 900.0), point(1, 0, None, None), point(2, 80, 410.0, 21000.0)]
    figure = latency_figure(answer("none", [], totals), drill=DRILL)
    assert figure is not None
    assert figure["layout"]["yaxis"]["type"] == "log"
    assert {"500 ms", "1 s", "20 s"} <= set(figure["layout"]["yaxis"]["ticktext"])
    p50, p95 = figure["data"]
    assert (p50["name"], p95["name"]) == ("p50", "p95")
    assert p95["y"] == [900.0, None, 21000.0] and p95["customdata"][1] is None
    query = parse_qs(urlsplit(p95["customdata"][2]).query)
    assert query["sort"] == ["-latency"] and query["min_latency_ms"] == ["19950"]
    assert "errors_only" not in query


def test_grouped_by_courier_one_p95_line_per_courier_narrowed_to_it():
    totals = [point(0, 30, 300.0, 700.0)]
    series = [
        {"key": 4, "label": "Delhivery", "points": [point(0, 20, 300.0, 600.0)]},
        {"key": "other", "label": "3 other couriers", "points": [point(0, 10, 350.0, 800.0)]},
    ]
    figure = latency_figure(answer("cp_id", series, totals), drill=DRILL)
    [line] = figure["data"]
    assert line["name"] == "Delhivery p95"
    assert parse_qs(urlsplit(line["customdata"][0]).query)["cp_id"] == ["4"]


def test_no_latency_no_figure():
    assert latency_figure(answer("none", [], [point(0, 0, None, None)]), drill=DRILL) is None


def test_ticks_read_in_the_unit_people_use():
    assert [ms_tick(v) for v in (5, 500, 2000, 120_000)] == ["5 ms", "500 ms", "2 s", "2 min"]


# ---------------------------------------------------------------- drawn after the page loads


@pytest.fixture
def user_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("ops", password="pw-123456789"))
    return client


def test_the_overview_asks_its_latency_figure_after_it_loads(user_client):
    """The page carries only the address of its latency figure (with the page's own query),
    so its time never includes the latency question; the address answers the figure."""
    store(*(call(n, latency_ms=300 + n, minutes_ago=10 + n) for n in range(6)))
    page = user_client.get("/?range=24h&group=cp_id")
    assert "latency_figure" not in page.context
    url = page.context["latency_url"]
    assert url.startswith("/overview/latency/?") and "group=cp_id" in url
    assert f'data-figure-url="{escape(url)}"' in page.content.decode()
    body = user_client.get(url).json()
    [line] = body["figure"]["data"]
    assert line["name"] == "Delhivery p95" and body["figure"]["layout"]["yaxis"]["type"] == "log"


def test_no_call_with_a_latency_answers_no_figure(user_client):
    store(call(1))
    assert user_client.get("/overview/latency/?range=24h").json() == {"figure": None}


def test_a_bad_parameter_of_the_latency_figure_is_a_400(user_client):
    assert user_client.get("/overview/latency/?range=century").status_code == 400
