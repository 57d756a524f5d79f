"""Issue 15 in a real Chromium: the overview's switches (group-by, benign) live in the address,
hovers say what a bar means, the courier ranking and prefix search work, the events page counts,
the reports page warns and offers its summary, the API docs lead back, and the phone layout
holds (legend under the plot, scroll hints on wide tables, aligned checkbox, upright labels)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from ingest.pipeline import RawItem, ingest_items
from tests.browser.conftest import DESKTOP, PHONE, charts_drawn, log_in, screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _call(n: int, *, minutes_ago: float, **fields) -> dict:
    return {
        "event_id": f"3am-{n}",
        "timestamp": (timezone.now() - timedelta(minutes=minutes_ago)).isoformat(),
        "endpoint": "tracking_status",
        "http_status": 200,
        "cp_id": 4,
        "courier": "Delhivery",
        "account_code": "urbanwear-wh1",
        "waybill": f"AWB-3AM-{n:03d}",
        "order_id": f"ORD-URBA-{n:03d}",
        **fields,
    }


@pytest.fixture
def night(app):
    """Two hours of calls: Delhivery healthy and busy, Smartr small and failing, 323s."""
    calls = [_call(n, minutes_ago=2 + n) for n in range(90)]
    calls += [_call(100 + n, minutes_ago=3 + 2 * n, cp_id=130, courier="Smartr") for n in range(25)]
    calls += [
        _call(200 + n, minutes_ago=4 + 2 * n, cp_id=130, courier="Smartr", http_status=503)
        for n in range(25)
    ]
    calls += [
        _call(300 + n, minutes_ago=5 + n, code=323, endpoint="order_create") for n in range(12)
    ]
    calls += [_call(400 + n, minutes_ago=8 + 3 * n, code=330) for n in range(6)]
    outcome = ingest_items([RawItem(c) for c in calls], token_id=None)
    assert outcome.rejected == 0, outcome.errors
    return calls


def test_group_by_courier_is_one_click_and_stays_in_the_address(page, app, user, night, console):
    log_in(page, app)
    page.goto(f"{app}/?range=24h")
    charts_drawn(page)
    page.click('a[data-group="courier"]')
    page.wait_for_url("**group=cp_id**")
    charts_drawn(page)
    legend = page.eval_on_selector_all(
        '[data-figure="rate-figure"] .legendtext', "texts => texts.map(t => t.textContent)"
    )
    assert set(legend) == {"Smartr", "Delhivery"}
    page.select_option("select[name=range]", "1h")  # a preset applies at once
    page.wait_for_url("**range=1h**")
    assert "group=cp_id" in page.url
    assert console.errors == []


def test_a_bars_hover_says_its_share_of_all_calls(page, app, user, night, console):
    log_in(page, app)
    page.goto(f"{app}/?range=24h")
    charts_drawn(page)
    bars = page.locator('[data-figure="rate-figure"] .barlayer .point path')
    # The tallest bar: the last one may be a sliver (a partial bucket at the edge of now).
    boxes = [bars.nth(i).bounding_box() for i in range(bars.count())]
    box = max((b for b in boxes if b), key=lambda b: b["height"])
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector('[data-figure="rate-figure"] .hoverlayer .hovertext')
    hover = page.locator('[data-figure="rate-figure"] .hoverlayer').text_content()
    assert "of all calls" in hover and " errors of " in hover
    assert console.errors == []


def test_benign_codes_have_a_tile_and_a_filter(page, app, user, night, console):
    log_in(page, app)
    page.goto(f"{app}/?range=24h")
    assert page.locator('[data-tile="benign"]').inner_text() == "12"
    errors = page.locator('[data-tile="errors"]').inner_text()
    assert errors == "43"  # 25 of Smartr + 12 benign + 6: the benign still count as errors
    page.click('a[data-benign="hide"]')
    page.wait_for_url("**benign=hide**")
    assert page.locator('[data-tile="errors"]').inner_text() == "31"
    assert console.errors == []


def test_courier_health_puts_the_small_failing_courier_first(page, app, user, night, console):
    log_in(page, app)
    page.goto(f"{app}/?range=24h")
    first = page.locator('table[data-table="health"] tbody tr').first
    assert first.get_attribute("data-cp-id") == "130"
    assert "503" in first.inner_text()
    first.locator("a").click()
    page.wait_for_url("**cp_id=130**")
    assert page.locator("h1 .count").inner_text() == "25 failures"
    assert console.errors == []


def test_heatmap_keeps_clear_of_its_caption(page, app, user, night, console):
    log_in(page, app)
    page.goto(f"{app}/?range=24h")
    charts_drawn(page)
    chart = page.locator('[data-figure="heatmap-figure"]').bounding_box()
    caption = page.locator("p.caption").bounding_box()
    assert chart["y"] + chart["height"] <= caption["y"] + 1
    ticks = page.locator('[data-figure="heatmap-figure"] .xtick text')
    boxes = [ticks.nth(i).bounding_box() for i in range(ticks.count())]
    for left, right in zip(boxes, boxes[1:], strict=False):
        assert left["x"] + left["width"] <= right["x"] + 1  # x labels do not overlap
    assert console.errors == []


def test_prefix_search_lists_matches_and_opens_one(page, app, user, night, console):
    log_in(page, app)
    page.fill("header input[name=q]", "ORD-URBA-0")
    page.press("header input[name=q]", "Enter")
    page.wait_for_url("**/search/?q=ORD-URBA-0")
    links = page.locator('table[data-table="matches"] tbody a')
    assert links.count() == 20  # bounded
    links.first.click()
    page.wait_for_url("**/orders/ORD-URBA-0*/")
    assert console.errors == []


def test_reports_page_warns_and_offers_the_summary(page, app, user, night, console, tmp_path):
    log_in(page, app)
    page.goto(f"{app}/reports/")
    assert page.locator('[data-warning="coverage"]').is_visible()
    with page.expect_download() as download:
        page.click("a[data-summary-csv]")
    assert download.value.suggested_filename.startswith("clickpost-summary-")
    assert console.errors == []


def test_api_docs_list_the_doors_and_lead_back(page, app, user, console):
    log_in(page, app)
    page.goto(f"{app}/api/docs/")
    doors = page.locator('table[data-table="doors"]').inner_text()
    for path in ("/v1/logs", "/loki/api/v1/push", "/_bulk", "/api/v1/events/"):
        assert path in doors
    page.click('a[data-link="dashboard"]')
    page.wait_for_url(f"{app}/")
    assert console.errors == []


def test_phone_legend_tables_checkbox_and_report_labels(chromium, app, user, night, console):
    context = chromium.new_context(viewport=PHONE, is_mobile=True)
    phone = context.new_page()
    console.watch(phone)
    try:
        log_in(phone, app)
        phone.goto(f"{app}/?range=24h&group=cp_id")
        charts_drawn(phone)
        legend = phone.locator('[data-figure="rate-figure"] .legend').bounding_box()
        plot = phone.locator('[data-figure="rate-figure"] .nsewdrag').first.bounding_box()
        assert legend["height"] < plot["height"] and legend["y"] >= plot["y"] + plot["height"]
        assert phone.locator(".scroll-hint:not([hidden])").count() >= 1
        screenshot(phone, "overview-phone-3am", full_page=False)

        phone.goto(f"{app}/events/?range=24h")
        check = phone.locator("label.check").bounding_box()
        box = phone.locator("label.check input").bounding_box()
        assert abs((box["y"] + box["height"] / 2) - (check["y"] + check["height"] / 2)) <= 3

        year, week, _ = timezone.now().isocalendar()
        phone.goto(f"{app}/reports/?week={year}-W{week:02d}")
        charts_drawn(phone)
        angle = phone.evaluate(
            "document.querySelector('[data-figure=weekly-figure]')._fullLayout.xaxis.tickangle"
        )
        assert angle == -90
    finally:
        context.close()
    assert console.errors == []


def test_desktop_screenshots_of_the_new_pieces(page, app, user, night, console):
    page.set_viewport_size(DESKTOP)
    log_in(page, app)
    page.goto(f"{app}/?range=1h&group=cp_id")
    charts_drawn(page)
    screenshot(page, "overview-3am")
    page.goto(f"{app}/search/?q=ORD-URBA")
    screenshot(page, "search-prefix", full_page=False)
    assert console.errors == []
