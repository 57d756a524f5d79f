"""/open/ in Chromium at desktop and phone width: what to do first, the list, a row opening its
timeline, dismissing selected rows with a note (static JS, CSRF), the CSV link, and the
overview's tile."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from ingest.pipeline import RawItem, ingest_items
from tests.browser.conftest import PASSWORD, PHONE, log_in, screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _call(n: int, *, hours_ago: float, order_id: str, **fields) -> dict:
    return {
        "event_id": f"open-{n}",
        "timestamp": (timezone.now() - timedelta(hours=hours_ago)).isoformat(),
        "endpoint": "order_create",
        "http_status": 200,
        "account_code": "acme",
        "order_id": order_id,
        "cp_id": 4,
        "courier": "Delhivery",
        **fields,
    }


@pytest.fixture
def failing(app):
    calls = [
        _call(1, hours_ago=3.2, order_id="ORD-A", code=316),
        _call(2, hours_ago=2, order_id="ORD-A", code=316),
        _call(3, hours_ago=26, order_id="ORD-B", code=319, cp_id=5, courier="Blue Dart"),
        _call(4, hours_ago=0.5, order_id="", waybill="AWB-C", code=503, endpoint="pickup"),
        _call(5, hours_ago=5, order_id="ORD-D", code=503),
        _call(6, hours_ago=4, order_id="ORD-D", code=200),  # closed by a later success
    ]
    outcome = ingest_items([RawItem(call) for call in calls], token_id=None)
    assert outcome.rejected == 0, outcome.errors


@pytest.fixture
def staff(app, django_user_model):
    return django_user_model.objects.create_user("ops", password=PASSWORD, is_staff=True)


def test_open_page_lists_groups_opens_timelines_and_dismisses(page, app, staff, failing, console):
    log_in(page, app)
    tile = page.locator("[data-tile=open-failures]")
    screenshot(page, "overview-open-tile", full_page=False)
    assert "3" in tile.inner_text() and "oldest waiting 1 d 2 h" in tile.inner_text()
    tile.click()
    page.wait_for_url(f"{app}/open/")
    todo = page.locator("[data-table=what-to-do] tbody tr")
    assert todo.count() == 3
    rows = page.locator("[data-table=open-failures] tbody tr")
    assert [rows.nth(i).locator("td").nth(1).inner_text() for i in range(3)] == [
        "ORD-B",
        "ORD-A",
        "waybill AWB-C",
    ]
    screenshot(page, "open-failures")
    csv_link = page.locator("[data-csv]").get_attribute("href")
    assert csv_link.startswith("/api/v1/open-failures/?") and "format=csv" in csv_link

    rows.nth(0).locator("input[data-ref]").check()
    page.fill("[data-note]", "cancelled by the customer")
    page.click("[data-dismiss-button]")
    page.wait_for_function(
        "() => document.querySelectorAll('[data-table=open-failures] tbody tr').length === 2"
    )
    page.click("text=ORD-A")
    page.wait_for_url(f"{app}/orders/ORD-A/")

    page.goto(f"{app}/orders/ORD-B/")
    assert "cancelled by the customer" in page.locator("[data-dismissals]").inner_text()

    page.goto(f"{app}/open/?cp_id=4&older_than_minutes=60")
    assert page.locator("[data-table=open-failures] tbody tr").count() == 1
    assert page.locator("input[name=older_than_minutes]").input_value() == "60"
    assert console.errors == []


def test_open_page_fits_a_phone(chromium, app, staff, failing, console):
    context = chromium.new_context(viewport=PHONE)
    phone = context.new_page()
    console.watch(phone)
    log_in(phone, app)
    phone.goto(f"{app}/open/")
    width = phone.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 1
    screenshot(phone, "open-failures-mobile")
    context.close()
    assert console.errors == []
