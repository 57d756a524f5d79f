"""Raw-event readers: the paginated event list, search, one event, shipment timelines."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from ingest.models import Event
from ingest.pipeline import RawItem, ingest_items
from tests import read_dataset

W44 = {"start": "2026-10-26", "end": "2026-11-02", "tz": "Europe/London"}
W44_UTC = (datetime(2026, 10, 26, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
EVENTS = "/api/v1/events/"


def in_w44(events) -> list:
    return [e for e in events if W44_UTC[0] <= e.ts < W44_UTC[1]]


def generated_ids(rows: list[dict]) -> list[str]:
    """The generator's event_id of each listed row (ids -> idempotency keys)."""
    keys = dict(Event.objects.filter(id__in=[r["id"] for r in rows]).values_list("id", "event_key"))
    return [keys[r["id"]].removeprefix("id:") for r in rows]


def follow(client, params: dict, *, between_pages=None) -> list[dict]:
    rows, response = [], client.get(EVENTS, params)
    while True:
        assert response.status_code == 200, response.content[:300]
        body = response.json()
        rows += body["results"]
        if body["next"] is None:
            return rows
        if between_pages:
            between_pages()
        link = urlsplit(body["next"])
        response = client.get(f"{link.path}?{link.query}")


def test_paging_lists_every_matching_event_once_newest_first(read_client, events):
    rows = follow(read_client, W44 | {"errors_only": "true", "limit": 37})
    expected = [e.event_id for e in in_w44(events) if e.is_error]
    listed = generated_ids(rows)
    assert Counter(listed) == Counter(expected)
    stamps = [(datetime.fromisoformat(r["timestamp"]), r["id"]) for r in rows]
    assert stamps == sorted(stamps, reverse=True)


def test_paging_stays_exact_while_new_events_arrive_between_pages(read_client, events):
    arrivals = iter(range(1000))

    def arrive():
        n = next(arrivals)
        late = W44_UTC[0] + timedelta(days=3, seconds=n)  # inside the window, any page
        new = W44_UTC[1] - timedelta(seconds=n + 1)  # newest of the window
        ingest_items(
            [
                RawItem(
                    {
                        "event_id": f"late-{n}",
                        "timestamp": late.isoformat(),
                        "code": 503,
                        "endpoint": "label",
                        "cp_id": 4,
                    }
                ),
                RawItem(
                    {
                        "event_id": f"new-{n}",
                        "timestamp": new.isoformat(),
                        "code": 503,
                        "endpoint": "label",
                        "cp_id": 4,
                    }
                ),
            ],
            token_id=None,
        )

    params = W44 | {"cp_id": "4", "code": "503", "limit": 5}
    rows = follow(read_client, params, between_pages=arrive)
    listed = generated_ids(rows)
    expected = {e.event_id for e in in_w44(events) if e.cp_id == 4 and e.code == 503}
    assert len(listed) == len(set(listed))  # nothing twice
    assert expected <= set(listed)  # nothing missed
    assert {i for i in listed if i.startswith("new-")} == set()  # newer than the first page


def test_filters_on_raw_events_match_a_count(read_client, events):
    rows = follow(read_client, W44 | {"cp_id": "0", "account_code": "freshcart", "limit": 500})
    expected = [e.event_id for e in in_w44(events) if e.cp_id == 0 and e.account == "freshcart"]
    assert Counter(generated_ids(rows)) == Counter(expected)
    assert all(r["cp_id"] is None and r["courier"] == "" for r in rows)


@pytest.mark.parametrize("typed", ["AWB00012", "awb00012"])
def test_q_finds_a_waybill_exactly_in_any_case(read_client, events, typed):
    rows = follow(read_client, W44 | {"q": typed, "limit": 500})
    expected = [e.event_id for e in in_w44(events) if e.waybill == "AWB00012"]
    assert expected and Counter(generated_ids(rows)) == Counter(expected)


def test_q_finds_an_order_id(read_client, events):
    rows = follow(read_client, W44 | {"q": "ORD-7", "limit": 500})
    expected = [e.event_id for e in in_w44(events) if e.order_id == "ORD-7"]
    assert expected and Counter(generated_ids(rows)) == Counter(expected)


def test_q_else_matches_a_substring_of_the_message_in_any_case(read_client, events):
    rows = follow(read_client, W44 | {"q": "timeout CONTACTING", "limit": 500})
    expected = [e.event_id for e in in_w44(events) if e.message == read_dataset.SLOW_MESSAGE]
    assert expected and Counter(generated_ids(rows)) == Counter(expected)


def test_q_wildcards_are_matched_literally(read_client, events):
    assert follow(read_client, W44 | {"q": "%_"}) == []


def test_event_detail_shows_the_redacted_request_and_the_response(read_client, events):
    failing = next(e for e in in_w44(events) if e.code_field == "meta" and e.code == 319)
    event_id = Event.objects.get(event_key=f"id:{failing.event_id}").id
    body = read_client.get(f"/api/v1/events/{event_id}/").json()
    assert body["request"] == {"waybill": failing.waybill, "api_key": "[REDACTED]"}
    assert body["response"]["meta"]["status"] == 319
    assert (body["code"], body["category"], body["is_error"]) == (319, "order_creation", True)
    assert body["meaning"] == "Error In Order Placing To Courier Partner"
    assert body["timestamp"] and body["action"]


def _shipment_with_a_clear_last_event(events, attribute: str) -> str:
    by_id: dict[str, list] = {}
    for event in events:
        if getattr(event, attribute):
            by_id.setdefault(getattr(event, attribute), []).append(event)
    for value, shipment in sorted(by_id.items()):
        stamps = sorted(e.ts for e in shipment)
        if len(stamps) > 3 and stamps[-1] != stamps[-2]:
            return value
    raise AssertionError("no shipment with a single latest event")


@pytest.mark.parametrize(("attribute", "path"), [("waybill", "waybills"), ("order_id", "orders")])
def test_timeline_summarises_every_event_of_the_shipment(read_client, events, attribute, path):
    value = _shipment_with_a_clear_last_event(events, attribute)
    shipment = sorted((e for e in events if getattr(e, attribute) == value), key=lambda e: e.ts)
    body = read_client.get(f"/api/v1/{path}/{value}/", {"tz": "UTC"}).json()
    summary = body["summary"]
    assert summary[attribute] == value
    assert (summary["events"], summary["errors"]) == (
        len(shipment),
        sum(e.is_error for e in shipment),
    )
    assert datetime.fromisoformat(summary["first_seen"]) == shipment[0].ts
    assert datetime.fromisoformat(summary["last_seen"]) == shipment[-1].ts
    assert summary["last_code"] == shipment[-1].code
    assert [datetime.fromisoformat(r["timestamp"]) for r in body["events"]] == [
        e.ts for e in shipment
    ]
