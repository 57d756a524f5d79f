"""GET /api/v1/open-failures/ (list, CSV, summary), POST dismiss and GET dismissed: the contract,
the edges (unknown names, not open, too many), and dismiss then reopen."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from ingest import store
from tests.ingest.test_open_failures import call
from tokens.auth import create_token

URL = "/api/v1/open-failures/"


@pytest.fixture
def admin_client(db) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {create_token(name='a', scopes=['admin'])[1]}")
    return client


@pytest.fixture
def stored(db):
    """o1 failing for 30 h (3 calls), o2 for 2 h at another courier, w1 (waybill only) 10 min,
    o3 closed by a later success, o4 closed by a benign code."""
    now = timezone.now()
    h = timedelta(hours=1)
    store.write_events(
        [
            call(now - 30 * h, 503, key="1"),
            call(now - 20 * h, 503, key="2"),
            call(now - 1 * h, 316, key="3"),
            call(now - 2 * h, 316, order_id="o2", cp_id=9, key="4"),
            call(now - timedelta(minutes=10), 400, order_id="", waybill="=w1", key="5"),
            call(now - 5 * h, 503, order_id="o3", key="6"),
            call(now - 4 * h, 200, order_id="o3", key="7"),
            call(now - 5 * h, 503, order_id="o4", key="8"),
            call(now - 4 * h, 323, order_id="o4", key="9"),
        ],
        token_id=None,
    )
    return now


def test_the_list_is_oldest_wait_first_with_the_streak(read_client, stored):
    body = read_client.get(URL).json()
    assert [r["order_id"] or r["waybill"] for r in body["results"]] == ["o1", "o2", "=w1"]
    first = body["results"][0]
    assert first["attempts"] == 3 and first["code"] == 316 and first["cp_id"] == 7
    assert first["action"].startswith("Fix the courier partner credentials")
    assert first["retryable"] is False
    assert body["next"] is None


def test_filters_and_cursor(read_client, stored):
    assert [r["order_id"] for r in read_client.get(URL, {"cp_id": 9}).json()["results"]] == ["o2"]
    assert len(read_client.get(URL, {"older_than_minutes": 60}).json()["results"]) == 2
    assert len(read_client.get(URL, {"code": "400"}).json()["results"]) == 1
    assert read_client.get(URL, {"retryable": "true"}).json()["results"] == []
    page = read_client.get(URL, {"limit": 2}).json()
    assert len(page["results"]) == 2 and page["next"]
    rest = read_client.get(page["next"]).json()
    assert [r["waybill"] for r in rest["results"]] == ["=w1"] and rest["next"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"endpoint": "no_such_endpoint"}, "endpoint"),
        ({"action": "Dance."}, "action"),
        ({"cursor": "nonsense"}, "cursor"),
        ({"older_than_minutes": "-1"}, "older_than_minutes"),
        ({"retryable": "maybe"}, "retryable"),
    ],
)
def test_bad_filters_are_400_naming_them(read_client, stored, query, field):
    response = read_client.get(URL, query)
    assert response.status_code == 400
    assert field in response.json()["detail"]


def test_csv_streams_every_row_neutralised(read_client, stored):
    response = read_client.get(URL, {"format": "csv"})
    assert response.status_code == 200 and response.streaming
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["waybill"] for r in rows][-1] == "'=w1"
    assert rows[0]["order_id"] == "o1" and rows[0]["attempts"] == "3"


def test_summary_counts_with_waits(read_client, stored):
    body = read_client.get(URL + "summary/").json()
    assert (body["open"], body["over_1h"], body["over_24h"]) == (3, 2, 1)
    couriers = {row["key"]: row for row in body["by"]["courier"]}
    assert couriers[7]["open"] == 2 and couriers[7]["label"] == "Delhivery"
    assert {row["key"] for row in body["by"]["code"]} == {316, 400}
    assert sum(group["open"] for group in body["what_to_do"]) == 3
    assert read_client.get(URL + "summary/", {"cp_id": 9}).json()["open"] == 1


def test_dismiss_then_a_newer_failure_reopens(admin_client, read_client, stored):
    refs = [
        {"endpoint": "order_create", "order_id": "o1"},
        {"endpoint": "order_create", "order_id": "o3"},
    ]
    response = admin_client.post(
        URL + "dismiss/", {"refs": refs, "note": "cancelled by hand"}, format="json"
    )
    assert response.status_code == 200
    assert [r["status"] for r in response.json()["results"]] == ["dismissed", "not_open"]
    assert "o1" not in [r["order_id"] for r in read_client.get(URL).json()["results"]]
    dismissed = read_client.get(URL + "dismissed/").json()["results"]
    assert dismissed[0]["order_id"] == "o1" and dismissed[0]["note"] == "cancelled by hand"
    assert dismissed[0]["dismissed_by"] == "token:a" and dismissed[0]["reopened"] is False
    timeline = read_client.get("/api/v1/orders/o1/").json()
    assert timeline["dismissals"][0]["note"] == "cancelled by hand"
    # A late, older failure does not reopen it; a newer one does.
    store.write_events([call(stored - timedelta(hours=3), 503, key="late")], token_id=None)
    assert "o1" not in [r["order_id"] for r in read_client.get(URL).json()["results"]]
    store.write_events([call(stored, 503, key="new")], token_id=None)
    assert "o1" in [r["order_id"] for r in read_client.get(URL).json()["results"]]
    assert read_client.get(URL + "dismissed/").json()["results"][0]["reopened"] is True


def test_dismiss_needs_staff_or_admin_and_a_bounded_list(read_client, admin_client, stored):
    body = {"refs": [{"endpoint": "order_create", "order_id": "o1"}], "note": "x"}
    assert read_client.post(URL + "dismiss/", body, format="json").status_code == 403
    staff = get_user_model().objects.create_user("boss", password="pw-long-enough", is_staff=True)
    client = APIClient()
    client.force_login(staff)
    assert client.post(URL + "dismiss/", body, format="json").status_code == 200
    many = {"refs": [{"endpoint": "order_create", "order_id": f"x{i}"} for i in range(10_000)]}
    response = admin_client.post(URL + "dismiss/", {**many, "note": "x"}, format="json")
    assert response.status_code == 413 and "refs" in response.json()["error"]
    bad = admin_client.post(
        URL + "dismiss/", {"refs": [{"endpoint": "order_create"}], "note": "x"}, format="json"
    )
    assert bad.status_code == 400
    assert admin_client.post(URL + "dismiss/", {"refs": []}, format="json").status_code == 400


def test_open_at_a_moment_counts_what_was_open_then(stored):
    from stats.open_failures import headline, open_at

    assert open_at(at=timezone.now() + timedelta(minutes=1)) == (headline(now=stored)[0], 1)
    # Five hours ago o1 (since 30 h) and o3 (its success came 4 h ago) were open.
    assert open_at(at=stored - timedelta(hours=4, minutes=30)) == (3, 1)


def test_weekly_summary_csv_and_mail_carry_the_open_count(stored):
    from stats.reports import last_whole_week
    from stats.weekly_summary import SUMMARY_COLUMNS, summary_csv_lines
    from subscriptions.mail import report_email

    week = last_whole_week(today=timezone.now().date() + timedelta(days=7))  # this week
    lines = list(summary_csv_lines(week=week, tz=timezone.get_current_timezone()))
    rows = list(csv.DictReader(io.StringIO("".join(lines))))
    assert SUMMARY_COLUMNS[-2:] == ("open_at_end", "open_over_24h")
    total = next(row for row in rows if row["section"] == "total")
    assert (total["open_at_end"], total["open_over_24h"]) == ("3", "1")
    mail = report_email(week=week, tz=timezone.get_current_timezone(), to=["ops@example.com"])
    assert "Open failures at the week's end: 3, of which 1 waiting over 24 h" in mail.body
