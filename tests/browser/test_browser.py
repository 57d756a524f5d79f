"""What an operator does, in a real headless Chromium: log in, see the charts, click a bar and
land on exactly those failures, find a waybill's timeline and an event's request, download the
weekly CSV, and read the overview on a phone. Every test fails on any browser console error
(a CSP violation is one); the last one loads two weeks of demo traffic and leaves a screenshot
of every page (in .local/screenshots/, or docs/screenshots/ with UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import csv
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from demo.traffic import DemoTraffic
from ingest.pipeline import RawItem, ingest_items
from stats.reports import CSV_COLUMNS
from tests.browser.conftest import PHONE, charts_drawn, log_in, screenshot
from tokens.auth import create_token

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

WAYBILL, ORDER, SECRET = "AWB-E2E-1", "ORD-E2E-1", "key-e2e-do-not-show"
DEMO_PER_DAY = 2500


def _call(n: int, *, hours_ago: float, **fields) -> dict:
    return {
        "event_id": f"e2e-{n}",
        "timestamp": (timezone.now() - timedelta(hours=hours_ago)).isoformat(),
        "endpoint": "order_create",
        "http_status": 200,
        "account_code": "acme",
        "waybill": f"AWB-{n:04d}",
        "order_id": f"ORD-{n:04d}",
        "latency_ms": 120 + n,
        **fields,
    }


def _traffic() -> list[dict]:
    """Recent traffic of three couriers, one shipment with three calls, and last week's."""
    delhivery = {"cp_id": 4, "courier": "Delhivery"}
    blue_dart = {"cp_id": 5, "courier": "Blue Dart", "endpoint": "tracking_status"}
    xpressbees = {"cp_id": 6, "courier": "Xpressbees"}
    calls = [_call(n, hours_ago=0.2 + n / 10, code=324, **delhivery) for n in range(6)]
    calls += [_call(n, hours_ago=0.3 + n / 10, **delhivery) for n in range(6, 12)]
    calls += [_call(n, hours_ago=1 + n / 10, code=330, **blue_dart) for n in range(12, 15)]
    calls += [_call(n, hours_ago=1 + n / 10, **blue_dart) for n in range(15, 18)]
    calls += [_call(n, hours_ago=2.5, http_status=503, **xpressbees) for n in range(18, 22)]
    calls += [_call(n, hours_ago=2.5, **xpressbees) for n in range(22, 26)]
    shipment = {"waybill": WAYBILL, "order_id": ORDER, **delhivery}
    calls += [
        _call(26, hours_ago=3, **shipment),
        _call(27, hours_ago=2, endpoint="tracking_register", code=303, **shipment),
        _call(
            28,
            hours_ago=1,
            endpoint="tracking_status",
            code=330,
            request={"api_key": SECRET, "waybill": WAYBILL},
            response={"meta": {"status": 330, "message": "waybill does not exist"}},
            **shipment,
        ),
    ]
    last_week = 7 * 24
    calls += [_call(n, hours_ago=last_week, code=324, **delhivery) for n in range(40, 43)]
    calls += [_call(n, hours_ago=last_week, **delhivery) for n in range(43, 45)]
    return calls


@pytest.fixture
def traffic(app):
    outcome = ingest_items([RawItem(call) for call in _traffic()], token_id=None)
    assert outcome.rejected == 0, outcome.errors


def _click_center(page, locator) -> None:
    """A real mouse click where Plotly draws the element (its drag layer takes the event),
    scrolled into view first (a click by coordinates never scrolls)."""
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.wait_for_timeout(150)
    page.mouse.click(x, y)


def _tallest(page, selector: str):
    bars = page.locator(selector)
    heights = [bars.nth(i).bounding_box()["height"] for i in range(bars.count())]
    return bars.nth(heights.index(max(heights)))


def _rows(page) -> list[dict]:
    return page.eval_on_selector_all(
        "table.events tbody tr",
        "rows => rows.map(r => ({code: r.dataset.code, category: r.dataset.category,"
        " cp_id: r.dataset.cpId}))",
    )


def test_overview_charts_render_and_clicks_open_exactly_those_events(
    page, app, user, traffic, console
):
    page.goto(f"{app}/")
    page.wait_for_url("**/accounts/login/**")
    screenshot(page, "login", full_page=False)
    log_in(page, app)
    page.goto(f"{app}/?range=24h")
    charts_drawn(page, count=3)
    assert page.locator('[data-tile="calls"]').inner_text() == "29"

    _click_center(page, page.locator('[data-figure="codes-figure"] .barlayer .point path').first)
    page.wait_for_url("**/events/?**")
    rows = _rows(page)
    assert [row["code"] for row in rows] == ["324"] * 6

    page.go_back()
    charts_drawn(page)
    _click_center(page, _tallest(page, '[data-figure="rate-figure"] .barlayer .point path'))
    page.wait_for_url("**/events/?**")
    clicked = parse_qs(urlsplit(page.url).query)
    rows = _rows(page)
    assert rows and {row["category"] for row in rows} == set(clicked["category"])
    assert console.errors == []


def test_heatmap_cell_opens_that_couriers_failures(page, app, user, traffic, console):
    log_in(page, app)
    charts_drawn(page)
    heat = page.evaluate("JSON.parse(document.getElementById('heatmap-figure').textContent)")
    columns, couriers = heat["data"][0]["x"], heat["data"][0]["y"]  # traces share the axes
    row, column = couriers.index("Delhivery"), columns.index("service")
    drag = page.locator('[data-figure="heatmap-figure"] .nsewdrag').first
    drag.scroll_into_view_if_needed()
    box = drag.bounding_box()
    x = box["x"] + (column + 0.5) * box["width"] / len(columns)
    y = box["y"] + (row + 0.5) * box["height"] / len(couriers)
    page.mouse.move(x, y)
    page.wait_for_timeout(150)
    page.mouse.click(x, y)
    page.wait_for_url("**/events/?**")
    rows = _rows(page)
    assert len(rows) == 8 and {(r["cp_id"], r["category"]) for r in rows} == {("4", "service")}
    assert console.errors == []


def test_search_a_waybill_and_open_an_events_request(page, app, user, traffic, console):
    log_in(page, app)
    page.fill("header input[name=q]", WAYBILL)
    page.press("header input[name=q]", "Enter")
    page.wait_for_url(f"**/waybills/{WAYBILL}/")
    charts_drawn(page, count=1)
    assert [row["code"] for row in _rows(page)] == ["200", "303", "330"]

    page.locator("table.events tbody tr").nth(2).locator("td a").first.click()
    page.wait_for_url("**/events/*/")
    request_json = page.locator('pre[data-json="request"]').inner_text()
    assert "[REDACTED]" in request_json and SECRET not in page.content()
    assert "waybill does not exist" in page.locator('pre[data-json="response"]').inner_text()

    page.fill("header input[name=q]", ORDER)
    page.press("header input[name=q]", "Enter")
    page.wait_for_url(f"**/orders/{ORDER}/")
    assert len(_rows(page)) == 3
    assert console.errors == []


def test_events_page_filters_by_the_chosen_courier(page, app, user, traffic, console):
    log_in(page, app)
    page.goto(f"{app}/events/?errors_only=true")
    page.select_option("select[name=cp_id]", "5")
    page.click("form[data-filters] button[type=submit]")
    page.wait_for_url("**cp_id=5**")
    assert "start=" not in page.url and "endpoint=" not in page.url  # only what was chosen
    rows = _rows(page)
    assert len(rows) == 3 and {row["cp_id"] for row in rows} == {"5"}
    assert console.errors == []


def test_codes_page_lists_counts(page, app, user, traffic, console):
    log_in(page, app)
    page.goto(f"{app}/codes/?range=24h")
    row = page.locator("tr", has=page.locator("td.num a", has_text="324"))
    assert row.locator("td.num").nth(2).inner_text() == "6"
    assert console.errors == []


def test_weekly_report_previews_and_downloads_the_csv(page, app, user, traffic, console, tmp_path):
    log_in(page, app)
    page.goto(f"{app}/reports/")
    charts_drawn(page, count=1)
    with page.expect_download() as download:
        page.click("a[data-csv]")
    saved = tmp_path / "report.csv"
    download.value.save_as(saved)
    assert download.value.suggested_filename.startswith("clickpost-errors-")
    with saved.open(encoding="utf-8", newline="") as file:
        rows = list(csv.reader(file))
    assert tuple(rows[0]) == CSV_COLUMNS
    by_code = {(row[2], row[5]): row for row in rows[1:]}
    assert by_code[("324", "Delhivery")][6:8] == ["3", "5"]
    assert console.errors == []


def test_overview_fits_a_phone_screen(chromium, app, user, traffic, console):
    context = chromium.new_context(viewport=PHONE, is_mobile=True)
    phone = context.new_page()
    console.watch(phone)
    try:
        log_in(phone, app)
        charts_drawn(phone, count=3)
        overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1
    finally:
        context.close()
    assert console.errors == []


@pytest.fixture
def demo_traffic(app):
    """Two weeks of the demo generator's traffic (shipments and incidents), through the
    pipeline; the screenshots show `traffic`'s AWB-E2E-1 too."""
    records = DemoTraffic(now=timezone.now(), days=14, per_day=DEMO_PER_DAY).records()
    outcome = ingest_items([RawItem(record) for record in records], token_id=None)
    assert outcome.accepted > DEMO_PER_DAY


def test_every_page_renders_demo_traffic_for_the_screenshots(
    page, chromium, app, user, demo_traffic, traffic, console
):
    log_in(page, app)
    shots = {
        "overview": "/?range=7d",
        "events": "/events/?errors_only=true",
        "codes": "/codes/?range=7d",
        "reports": "/reports/",
    }
    for name, path in shots.items():
        page.goto(app + path)
        charts_drawn(page)
        screenshot(page, name)
    page.goto(f"{app}/waybills/{WAYBILL}/")
    charts_drawn(page, count=1)
    screenshot(page, "waybill")
    page.locator("table.events tbody tr").nth(2).locator("td a").first.click()
    page.wait_for_url("**/events/*/")
    screenshot(page, "event-detail")
    shipper, _ = create_token(name="fluent-bit-prod", scopes=["ingest"])
    recent = {"timestamp": timezone.now().isoformat(), "endpoint": "order_create"}
    ingest_items(
        [RawItem({**recent, "http_status": 200, "event_id": "shot-1"}), RawItem(recent)],
        token_id=shipper.pk,
    )
    page.goto(f"{app}/shippers/")
    screenshot(page, "shippers")
    assert console.errors == []

    context = chromium.new_context(viewport=PHONE, is_mobile=True)
    phone = context.new_page()
    console.watch(phone)
    try:
        log_in(phone, app)
        charts_drawn(phone, count=3)
        screenshot(phone, "overview-mobile")
    finally:
        context.close()
    assert console.errors == []
