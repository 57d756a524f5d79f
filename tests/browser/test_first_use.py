"""What a new user following the README tripped over, seen in a real Chromium: the grouped
chart's grey "others", hatched low-volume bars, courier names, bidi controls shown not applied,
"top 10 of N" couriers, when the report's data starts, every door on /api/docs/, a text
response shown as text, and the events page counting as the overview does. Screenshots of the
pages changed go to .local/screenshots/ (docs/screenshots/ with UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard import charts
from ingest.pipeline import RawItem, ingest_items
from tests.browser.conftest import PHONE, charts_drawn, log_in, screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

RLO = "\u202e"
COURIERS = 12  # more than the palette (8) and than the health table's top 10
HTML_PAGE = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>nginx</body>\r\n</html>"


def _call(n: int, *, minutes_ago: float, cp_id: int, **fields) -> dict:
    return {
        "event_id": f"first-use-{n}",
        "timestamp": (timezone.now() - timedelta(minutes=minutes_ago)).isoformat(),
        "endpoint": "order_create",
        "http_status": 200,
        "cp_id": cp_id,
        "courier": f"Courier {cp_id}",
        "account_code": "acme",
        "waybill": f"FU-{n:05d}",
        **fields,
    }


@pytest.fixture
def first_use(app):
    """Twelve couriers over the last day, each failing now and then, most of the traffic in
    busy hours and four calls (three failing) alone in a quiet hour; one courier known only
    by cp_id on some calls; a shipper's text with a bidi override; an HTML 502 page."""
    calls, n = [], 0
    for cp_id in range(1, COURIERS + 1):
        for i in range(30):
            failing = i % (cp_id + 2) == 0
            calls.append(
                _call(n, minutes_ago=60 + i * 20 + cp_id, cp_id=cp_id, code=500 if failing else 200)
            )
            n += 1
    quiet = 12 * 60 + 30  # minutes ago: an hour with nothing else in it
    calls += [
        _call(n + i, minutes_ago=quiet + i, cp_id=1, code=503 if i else 200) for i in range(4)
    ]
    n += 4
    for i in range(3):  # calls that name cp_id 2 but no courier
        bare = _call(n + i, minutes_ago=5 + i, cp_id=2, code=200)
        del bare["courier"]
        calls.append(bare)
    n += 3
    sneaky = f"refund {RLO}gpj.exe"
    calls.append(_call(n, minutes_ago=4, cp_id=3, code=500, message=sneaky, waybill="FU-BIDI"))
    calls.append(_call(n + 1, minutes_ago=3, cp_id=3, http_status=502, response=HTML_PAGE))
    outcome = ingest_items([RawItem(call) for call in calls], token_id=None)
    assert outcome.rejected == 0, outcome.errors
    return calls


def _figure_data(page, name: str) -> list[dict]:
    return page.evaluate(
        f"""() => document.querySelector('[data-figure="{name}"]').data.map(t => ({{
            name: t.name, color: t.marker && t.marker.color,
            pattern: t.marker && t.marker.pattern && t.marker.pattern.shape,
            text: t.text }}))"""
    )


def test_the_overview_grouped_by_courier(page, app, user, first_use, console):
    log_in(page, app)
    page.goto(f"{app}/?range=24h&group=cp_id")
    charts_drawn(page)
    traces = _figure_data(page, "rate-figure")
    colours = [t["color"] for t in traces]
    assert traces[-1]["name"] == f"{COURIERS - charts.MAX_SERIES} other couriers"
    assert colours[-1] == charts.OTHER_COLOR and len(set(colours)) == len(colours)
    # The quiet hour's bars are hatched and say why on hover; the caption says so.
    hatched = [t for t in traces if "/" in (t["pattern"] or [])]
    assert hatched and all(
        "too few to rate" in text
        for t in hatched
        for text, shape in zip(t["text"], t["pattern"], strict=True)
        if shape == "/"
    )
    caption = page.locator('[data-caption="rate"]').inner_text()
    assert "Hatched: fewer than 20 calls, too few to rate" in caption
    # Courier health: the top 10 of 12, and a link to all of them.
    assert page.locator("[data-health-count]").inner_text().startswith(f"Top 10 of {COURIERS}")
    assert page.locator('table[data-table="health"] tbody tr').count() == 10
    screenshot(page, "overview-grouped")
    page.click("a[data-health-all]")
    page.wait_for_url("**all_couriers=true**")
    assert page.locator('table[data-table="health"] tbody tr').count() == COURIERS
    assert console.errors == []


def _overview_then_events(page, app) -> tuple[str, str]:
    """The overview's calls tile and window for the last 24 h, then the events page of the same
    range. The window ends at the current minute (and starts on a quarter hour): when a minute
    turns between the two loads (xx:29:59, then xx:30:00) both pages are loaded once more, so
    the comparison below sees one window, not the clock."""
    for _ in range(2):
        page.goto(f"{app}/?range=24h")
        charts_drawn(page)
        calls_tile = page.locator('[data-tile="calls"]').inner_text()
        window = page.locator("[data-window]").inner_text()
        page.goto(f"{app}/events/?range=24h")
        if page.locator("[data-window]").inner_text() == window:
            break
    return calls_tile, window


def test_events_count_names_bidi_and_a_text_response(page, app, user, first_use, console):
    log_in(page, app)
    calls_tile, window = _overview_then_events(page, app)
    count = page.locator("[data-count]")
    assert count.get_attribute("data-count") == str(len(first_use))
    assert count.inner_text().startswith(calls_tile)
    assert page.locator("[data-window]").inner_text() == window
    # A call naming cp_id 2 and no courier shows the courier's name.
    row = page.locator("table.events tbody tr", has_text="FU-00364")  # a bare call
    assert "Courier 2" in row.inner_text() and "—" not in row.locator("td").nth(5).inner_text()
    # The bidi override is shown, not applied.
    bidi = page.locator("table.events tbody tr", has_text="FU-BIDI")
    text = bidi.inner_text()
    assert RLO not in text and "refund ⟨RLO⟩gpj.exe" in text
    screenshot(page, "events-first-use")
    bidi.locator("td a").first.click()
    page.wait_for_url("**/events/*/")
    assert "⟨RLO⟩" in page.locator("dl.facts").nth(1).inner_text()
    page.go_back()
    page.locator("table.events tbody tr", has_text="502").locator("td a").first.click()
    page.wait_for_url("**/events/*/")
    shown = page.locator('[data-json="response"]').inner_text()
    assert shown.replace("\r\n", "\n") == HTML_PAGE.replace("\r\n", "\n")
    assert "\\r\\n" not in shown
    screenshot(page, "event-detail-text")
    assert console.errors == []


def test_the_docs_list_every_door_with_its_credential(page, app, user, console):
    log_in(page, app)
    page.goto(f"{app}/api/docs/")
    doors = page.locator('table[data-table="doors"]').inner_text()
    for name in ("Splunk", "Seq", "Better Stack", "Logz.io", "HTTPHandler", "Loki", "OTLP"):
        assert name in doors
    assert "Authorization: Splunk $TOKEN" in doors
    page.wait_for_selector(".opblock-tag", timeout=15_000)  # Swagger UI drew the schema
    assert page.locator(".opblock-tag", has_text="protocol doors").count() == 1
    screenshot(page, "api-docs", full_page=False)
    assert console.errors == []


def test_the_phone_overview_grouped_by_courier(chromium, app, user, first_use, console):
    context = chromium.new_context(viewport=PHONE, is_mobile=True)
    phone = context.new_page()
    console.watch(phone)
    try:
        log_in(phone, app)
        phone.goto(f"{app}/?range=24h&group=cp_id")
        charts_drawn(phone)
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"] + 1
        screenshot(phone, "overview-grouped-phone")
        phone.goto(f"{app}/events/?range=24h")
        screenshot(phone, "events-phone", full_page=False)
    finally:
        context.close()
    assert console.errors == []


def test_the_report_says_when_its_data_starts(page, app, user, console):
    now = timezone.now()
    monday = (now - timedelta(days=now.weekday() + 7)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    late = [_call(n, minutes_ago=0, cp_id=4) for n in range(7)]
    for day, call in enumerate(late):  # every day of last week, from 09:00 on
        call["timestamp"] = (monday + timedelta(days=day, hours=9)).isoformat()
    assert ingest_items([RawItem(call) for call in late], token_id=None).rejected == 0
    log_in(page, app)
    page.goto(f"{app}/reports/?tz=UTC")
    notes = page.locator('[data-warning="coverage"]').inner_text()
    assert f"the data starts {monday + timedelta(hours=9):%Y-%m-%d %H:%M}" in notes
    assert "7 of 7" not in notes
    screenshot(page, "reports-data-start")
    assert console.errors == []
