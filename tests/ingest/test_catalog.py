"""Tagging follows SPEC's five rules, over every code of the catalog and every edge they name."""

from __future__ import annotations

import re

import pytest

from ingest.catalog import (
    CATEGORIES,
    SEED,
    SEED_BY_CODE,
    Tag,
    clickpost_code,
    current_catalog,
    tag,
)
from tests.shared import ERROR_CODES, require

SECTION_CATEGORY = {
    "Server Response Code": "server",
    "Clickpost Service Error Code": "service",
    "Order Creation Error Code": "order_creation",
    "Clickpost Webhook Error Code": "webhook",
    "Order Cancellation Error Code": "order_cancellation",
}


def published_codes() -> dict[int, str]:
    """code -> category, read from Clickpost's published table independently of the seed."""
    found, section = {}, None
    for line in require(ERROR_CODES).read_text().splitlines():
        if line.strip() in SECTION_CATEGORY:
            section = SECTION_CATEGORY[line.strip()]
        elif section and (match := re.search(r"^(\d{3})|(\d{3})$", line.strip())):
            code = int(match.group(1) or match.group(2))
            found[code] = "success" if code == 200 else section
    return found


def test_seed_holds_every_published_code_in_its_published_category():
    published = published_codes()
    assert len(published) >= 45
    for code, category in published.items():
        assert SEED_BY_CODE[code].category == category, code


def test_seed_knows_102_as_success_and_every_entry_has_an_action():
    assert SEED_BY_CODE[102].category == "success"
    assert all(info.action and info.meaning for info in SEED)
    assert {info.category for info in SEED} <= set(CATEGORIES)


@pytest.mark.parametrize("info", SEED, ids=lambda i: str(i.code))
def test_every_catalog_code_off_the_cancel_endpoint(info):
    got = tag(code=info.code, http_status=200, endpoint="order_create", catalog=SEED_BY_CODE)
    if 200 <= info.code < 300:
        assert got == Tag("success", False)
    else:
        assert got == Tag(info.category, info.category != "success")


@pytest.mark.parametrize(
    "code, endpoint, expected",
    [
        (202, "order_cancel", Tag("order_cancellation", True)),
        (202, "order_create", Tag("success", False)),
        (202, "tracking_register", Tag("success", False)),
        (350, "order_cancel", Tag("order_cancellation", True)),
        (350, "order_create", Tag("order_cancellation", True)),
        (600, "tracking_status", Tag("order_cancellation", True)),
        (200, "order_cancel", Tag("success", False)),
        (201, "order_cancel", Tag("success", False)),
        (102, "order_create", Tag("success", False)),
        (422, "order_create", Tag("service", True)),
        (504, "label", Tag("server", True)),
        (429, "ndr", Tag("server", True)),
    ],
)
def test_rules_two_to_four(code, endpoint, expected):
    assert tag(code=code, http_status=200, endpoint=endpoint, catalog=SEED_BY_CODE) == expected


@pytest.mark.parametrize(
    "code, http_status, expected",
    [
        (999, 200, Tag("unknown", True)),  # code >= 300
        (299, 200, Tag("success", False)),  # any 2xx
        (150, 200, Tag("unknown", False)),  # below 300 with an OK status
        (150, 502, Tag("unknown", True)),  # below 300 but an error status
        (150, None, Tag("unknown", False)),
        (418, 418, Tag("unknown", True)),  # 4xx not in the catalog
        (505, 505, Tag("unknown", True)),
    ],
)
def test_unknown_codes(code, http_status, expected):
    got = tag(code=code, http_status=http_status, endpoint="order_create", catalog=SEED_BY_CODE)
    assert got == expected


@pytest.mark.parametrize(
    "code, meta_status, http_status, expected",
    [
        (323, 200, 200, 323),  # the event's code first
        (None, 323, 200, 323),  # then response.meta.status
        (None, None, 503, 503),  # then the HTTP status
        (200, None, 503, 503),  # a 2xx code loses to a 4xx/5xx HTTP status
        (None, 200, 500, 500),
        (None, 202, 404, 404),
        (323, None, 500, 323),  # a non-2xx code keeps its own meaning
        (200, None, 302, 200),  # 3xx HTTP does not override
        (None, None, None, None),
    ],
)
def test_rule_one_chooses_the_clickpost_code(code, meta_status, http_status, expected):
    assert clickpost_code(code=code, meta_status=meta_status, http_status=http_status) == expected


def test_catalog_is_loaded_by_the_migration_and_admin_edits_are_seen(db):
    from ingest.models import CodeEntry

    assert current_catalog() == SEED_BY_CODE
    CodeEntry.objects.create(
        code=777, category="service", meaning="New code", is_error=True, action="Look"
    )
    assert current_catalog()[777].category == "service"
    got = tag(code=777, http_status=200, endpoint="edd", catalog=current_catalog())
    assert got == Tag("service", True)
