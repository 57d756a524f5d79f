"""Latency on the pages, in a real headless Chromium at desktop and phone width: the overview's
latency chart on a log axis (a 20 s tail beside the usual 400 ms), a click on a point opens
that interval's slowest calls slowest first, the courier health table's p95, and the events
page's order switch."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from ingest.pipeline import RawItem, ingest_items
from tests.browser.conftest import PHONE, charts_drawn, log_in, screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
COURIERS = {4: "Delhivery", 5: "Blue Dart"}


def _calls() -> list[dict]:
    """Six hours of two couriers around 400 ms; Blue Dart's last two hours take ~20 s (and
    succeed: only latency shows it)."""
    now, calls = timezone.now(), []
    for n in range(360):
        cp_id = 4 if n % 2 else 5
        minutes_ago = 1 + n
        slow = cp_id == 5 and minutes_ago < 120
        calls.append(
            {
                "event_id": f"lat-e2e-{n}",
                "timestamp": (now - timedelta(minutes=minutes_ago)).isoformat(),
                "endpoint": "tracking_status",
                "http_status": 200,
                "cp_id": cp_id,
                "courier": COURIERS[cp_id],
                "latency_ms": (18_000 + 40 * (n % 50)) if slow else 300 + 5 * (n % 40),
            }
        )
    return calls


@pytest.fixture
def traffic(app):
    outcome = ingest_items([RawItem(call) for call in _calls()], token_id=None)
    assert outcome.rejected == 0, outcome.errors


def _latencies(page) -> list[float]:
    cells = page.eval_on_selector_all(
        "table.events tbody tr td:last-child", "cells => cells.map(c => c.innerText)"
    )
    return [float(text.replace(",", "")) for text in cells]


def test_latency_chart_on_a_log_axis_opens_the_slowest_calls(page, app, user, traffic, console):
    log_in(page, app)
    page.goto(f"{app}/?range=24h&group=cp_id")
    charts_drawn(page)
    chart = page.locator('[data-figure="latency-figure"]')
    assert chart.locator(".main-svg").count() >= 1
    ticks = chart.locator(".ytick text").evaluate_all("els => els.map(e => e.textContent)")
    assert any(t.endswith(" s") for t in ticks) and any(t.endswith(" ms") for t in ticks), ticks
    assert page.locator('[data-table="health"] [data-p95]').count() == 2
    chart.scroll_into_view_if_needed()
    screenshot(page, "overview-latency")

    link = page.evaluate(
        "() => JSON.parse(document.getElementById('latency-figure').textContent)"
        ".data.find(t => t.name.startsWith('Blue Dart')).customdata.filter(Boolean).pop()"
    )
    page.goto(f"{app}{link}")
    query = parse_qs(urlsplit(page.url).query)
    assert query["sort"] == ["-latency"] and query["cp_id"] == ["5"]
    latencies = _latencies(page)
    assert latencies and latencies == sorted(latencies, reverse=True)
    assert min(latencies) >= int(query["min_latency_ms"][0])
    screenshot(page, "events-slowest")

    page.click('[data-sort="newest first"]')
    assert "sort=-latency" not in page.url
    assert console.errors == []


def test_latency_chart_fits_a_phone_screen(chromium, app, user, traffic, console):
    context = chromium.new_context(viewport=PHONE)
    phone = context.new_page()
    console.watch(phone)
    log_in(phone, app)
    phone.goto(f"{app}/?range=24h")
    charts_drawn(phone)
    chart = phone.locator('[data-figure="latency-figure"]')
    box = chart.bounding_box()
    assert box and box["width"] <= PHONE["width"]
    chart.scroll_into_view_if_needed()
    screenshot(phone, "overview-latency-mobile", full_page=False)
    context.close()
    assert console.errors == []


def test_latency_chart_says_it_is_loading_then_that_it_failed(page, app, user, traffic, console):
    """The page shows before its latency chart: "Loading" where the chart will be, and when
    its request fails, a sentence in its place (the rest of the page drawn all the same)."""
    held = []
    log_in(page, app)
    page.route("**/overview/latency/**", lambda route: held.append(route))
    page.goto(f"{app}/?range=24h")
    chart = page.locator('[data-figure-url*="/overview/latency/"]')
    for _ in range(100):  # the page is shown; its chart's request is held until answered
        if held:
            break
        page.wait_for_timeout(100)
    assert held and "Loading the latency chart" in chart.inner_text()
    held[0].fulfill(status=500, body="boom")
    page.wait_for_selector('[data-state="error"]')
    assert "could not be loaded" in chart.inner_text()
    charts_drawn(page)  # the others are drawn; the failed one is no longer waited for
    assert [e for e in console.errors if "500" not in e] == []
