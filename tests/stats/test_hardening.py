"""Issue 13, the read room: each defect an outside test found, as the fact the fix protects.

#1 no response grows with a dimension's cardinality; #2 a raw-event query opens only the day
partitions its window can hold; #4 no CSV cell is a live formula; #10 an id holding "/" is
reachable through the API; #13 a blank `tz` means "not given" everywhere; #7 a NUL byte in a
page's address or filter is a 400, not a 500.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from ingest import partitions
from ingest.models import CodeEntry, Event
from ingest.pipeline import RawItem, ingest_items
from stats import questions, reports
from stats.window import Filters, Window

TIMESERIES = "/api/v1/stats/timeseries/"
OTHER = "other"  # SPEC "Read API": the key of the series summing the rest
SPAN = timedelta(hours=6)


@pytest.fixture
def user_client(client, django_user_model, settings):
    settings.STORAGES = {  # templates resolve {% static %} without a collectstatic manifest
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    client.force_login(django_user_model.objects.create_user("ops", password="pw-123456789"))
    return client


def send(*events: dict) -> None:
    defaults = {"endpoint": "label", "http_status": 200}
    outcome = ingest_items([RawItem(defaults | e) for e in events], token_id=None)
    assert outcome.accepted == len(events), outcome


def recent(minutes: int) -> str:
    return (timezone.now() - timedelta(minutes=minutes)).isoformat()


def window_params() -> dict:
    now = timezone.now()
    return {"start": (now - SPAN).isoformat(), "end": now.isoformat(), "tz": "UTC"}


def window() -> Window:
    now = timezone.now()
    return Window(start=now - SPAN, end=now, tz=timezone.get_current_timezone())


# ---------------------------------------------------------------- #1 unbounded series


@pytest.fixture
def many_values(db) -> list[dict]:
    """60 unknown codes, 60 couriers and 60 accounts, value n failing n + 1 times."""
    events = [
        {
            "event_id": f"many-{n}-{k}",
            "timestamp": recent(30 + k),
            "endpoint": "label",
            "http_status": 200,
            "code": 7000 + n,
            "cp_id": 100 + n,
            "courier": f"Courier {n}",
            "account_code": f"acct-{n}",
        }
        for n in range(60)
        for k in range(n + 1)
    ]
    send(*events)
    return events


@pytest.mark.parametrize(("group_by", "field"), [("code", "code"), ("cp_id", "cp_id")])
@pytest.mark.parametrize("limit", [None, 50])
def test_timeseries_keeps_the_limit_series_with_most_errors_and_sums_the_rest_as_other(
    read_client, many_values, group_by, field, limit
):
    asked = {"interval": "minute", "group_by": group_by, **window_params()}
    body = read_client.get(TIMESERIES, asked | ({"limit": limit} if limit else {})).json()
    shown = limit or 10
    errors = Counter(e[field] for e in many_values)
    top = [key for key, _ in errors.most_common(shown)]
    series = body["series"]
    assert [s["key"] for s in series] == [*top, OTHER]
    got = {s["key"]: sum(p["errors"] for p in s["points"]) for s in series}
    assert got[OTHER] == sum(errors.values()) - sum(errors[key] for key in top)
    noun = {"code": "code", "cp_id": "courier"}[group_by]  # the label names what a group is
    assert series[-1]["label"] == f"{60 - shown} other {noun}s"
    for index, total in enumerate(body["totals"]):  # nothing lost, nothing counted twice
        assert sum(s["points"][index]["errors"] for s in series) == total["errors"]


def test_timeseries_by_account_is_bounded_too(read_client, many_values):
    asked = {"interval": "hour", "group_by": "account_code", "limit": 5, **window_params()}
    body = read_client.get(TIMESERIES, asked).json()
    assert [s["key"] for s in body["series"]] == [f"acct-{n}" for n in range(59, 54, -1)] + [OTHER]


@pytest.mark.parametrize(
    ("url", "params"),
    [
        (TIMESERIES, {"group_by": "code", "limit": "51"}),
        ("/api/v1/stats/breakdown/", {"limit": 51}),
    ],
)
def test_more_than_50_series_or_rows_is_refused(read_client, url, params):
    response = read_client.get(url, params)
    assert response.status_code == 400
    assert response.json()["error"].startswith("limit: ")


def test_the_heatmap_keeps_its_couriers_with_most_errors_and_an_other_row(many_values):
    heat = questions.heatmap(window=window(), filters=Filters(), limit=20)
    keys = [courier["key"] for courier in heat["couriers"]]
    assert keys == [100 + n for n in range(59, 39, -1)] + [OTHER]
    assert heat["couriers"][-1]["label"] == "40 other couriers"
    assert sum(heat["errors"][-1]) == sum(n + 1 for n in range(40))
    assert sum(map(sum, heat["errors"])) == len(many_values)


def test_the_code_list_is_the_catalog_and_50_unknown_codes_and_an_other_row(
    read_client, many_values
):
    rows = read_client.get("/api/v1/codes/", window_params()).json()
    unknown = [r for r in rows if not r["in_catalog"]]
    catalog = CodeEntry.objects.count()
    assert len(rows) == catalog + 51
    assert [r["code"] for r in unknown[:-1]] == [7000 + n for n in range(10, 60)]
    other = unknown[-1]
    assert other["code"] is None and other["errors"] == sum(n + 1 for n in range(10))
    assert other["meaning"] == "10 other codes not in the catalog"
    assert sum(r["events"] for r in rows) == len(many_values)


def test_the_overview_page_draws_a_bounded_heatmap(user_client, many_values):
    response = user_client.get("/", {"range": "24h"})
    assert response.status_code == 200
    figure = response.context["heatmap_figure"]["data"][0]
    assert len(figure["y"]) == 21  # 20 couriers and "40 other couriers"
    assert figure["customdata"][-1] == [None] * len(figure["x"])  # nothing to drill into


# ---------------------------------------------------------------- #2 bounded raw reads


OLD_DAYS = 5


@pytest.fixture
def old_partitions(db, settings) -> list[str]:
    """Partitions for days long before the retention horizon, as old timestamps once made."""
    settings.RETENTION_DAYS = 30
    today = timezone.now().date()
    days = [today - timedelta(days=400 + n) for n in range(OLD_DAYS)]
    partitions.ensure_partitions(days)
    names = [partitions.partition_name(day) for day in days]
    assert partitions_locked().isdisjoint(names)
    return names


def partitions_locked() -> set[str]:
    """The partitions this session has opened to read (locks last until the test's
    transaction ends; the creation of the old ones took other lock modes)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE l.pid = pg_backend_pid() AND l.mode = 'AccessShareLock' AND c.relkind = 'r' "
            "AND c.relname LIKE %s",
            [partitions.PARTITION_PREFIX + "%"],
        )
        return {name for (name,) in cursor.fetchall()}


@pytest.fixture
def shipment(db) -> int:
    """One recent call of waybill WB-OLD / order ORD-OLD; its id (found by a bounded query)."""
    send(
        {"event_id": "wb-1", "timestamp": recent(5), "code": 503}
        | {"waybill": "WB-OLD", "order_id": "ORD-OLD"}
    )
    recently = timezone.now() - timedelta(days=1)
    return Event.objects.get(event_key="id:wb-1", ts__gte=recently).id


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/waybills/WB-OLD/",
        "/api/v1/orders/ORD-OLD/",
        "/api/v1/events/?q=WB-OLD",
        "/api/v1/events/?q=no-such-id&start=2000-01-01&end=2100-01-01",
        "/api/v1/events/{id}/",
    ],
)
def test_raw_event_reads_never_open_partitions_older_than_the_retention_horizon(
    read_client, shipment, old_partitions, url
):
    response = read_client.get(url.format(id=shipment))
    assert response.status_code == 200, response.content[:300]
    assert partitions_locked().isdisjoint(old_partitions)


@pytest.mark.parametrize("url", ["/waybills/WB-OLD/", "/orders/ORD-OLD/", "/search/?q=WB-OLD"])
def test_timeline_and_search_pages_never_open_old_partitions(
    user_client, shipment, old_partitions, url
):
    assert user_client.get(url).status_code in (200, 302)
    assert partitions_locked().isdisjoint(old_partitions)


def test_a_raw_breakdown_over_decades_opens_only_the_horizons_partitions(shipment, old_partitions):
    decades = Window(
        start=timezone.now() - timedelta(days=9000),
        end=timezone.now(),
        tz=timezone.get_current_timezone(),
    )
    rows = questions.breakdown(window=decades, by="endpoint", limit=5, filters=Filters(cp_id=(0,)))
    assert sum(r["events"] for r in rows) == 1
    assert partitions_locked().isdisjoint(old_partitions)


# ---------------------------------------------------------------- #4 CSV formula injection


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_text_cell_that_a_spreadsheet_would_run_is_prefixed_with_a_quote(start):
    assert reports.neutralised(start + "1+1") == "'" + start + "1+1"
    assert reports.neutralised("Delhivery") == "Delhivery"


FORMULAS = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3"]


@pytest.fixture
def formula_week(db) -> str:
    """Last week's failing calls from couriers named like formulas, and a code whose catalog
    meaning is one (the admin can edit it)."""
    monday = timezone.now().date() - timedelta(days=timezone.now().weekday() + 7)
    at = timezone.now().replace(
        year=monday.year, month=monday.month, day=monday.day, hour=12, minute=0
    )
    send(
        *(
            {"event_id": f"f-{n}", "timestamp": at.isoformat(), "code": 503, "cp_id": 40 + n}
            | {"courier": name}
            for n, name in enumerate(FORMULAS)
        )
    )
    CodeEntry.objects.filter(code=503).update(meaning="=1+2")
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def csv_cells(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_weekly_csv_never_holds_a_live_formula(read_client, formula_week):
    response = read_client.get("/api/v1/reports/weekly/", {"week": formula_week, "tz": "UTC"})
    rows = csv_cells(b"".join(response.streaming_content).decode())
    assert sorted(r["courier"] for r in rows) == sorted("'" + name for name in FORMULAS)
    assert {r["meaning"] for r in rows} == {"'=1+2"}
    as_json = read_client.get(
        "/api/v1/reports/weekly/", {"week": formula_week, "tz": "UTC", "format": "json"}
    )
    assert b'"=HYPERLINK' in b"".join(as_json.streaming_content)  # JSON is data, not a sheet


def test_the_exported_csv_never_holds_a_live_formula(formula_week, tmp_path):
    target = tmp_path / "week.csv"
    call_command("export_weekly_report", week=formula_week, tz="UTC", output=str(target))
    rows = csv_cells(target.read_text(encoding="utf-8"))
    assert sorted(r["courier"] for r in rows) == sorted("'" + name for name in FORMULAS)
    assert not any(cell.startswith(tuple("=+-@")) for r in rows for cell in r.values())


# ---------------------------------------------------------------- #10 ids holding "/"


def test_a_waybill_or_order_id_holding_a_slash_is_fetched_through_the_api(read_client, db):
    send({"event_id": "slash", "timestamp": recent(5), "waybill": "AWB/12/3", "order_id": "ORD/9"})
    waybill = read_client.get("/api/v1/waybills/AWB%2F12%2F3/")
    order = read_client.get("/api/v1/orders/ORD%2F9/")
    assert waybill.status_code == order.status_code == 200
    assert waybill.json()["summary"]["waybill"] == "AWB/12/3"
    assert order.json()["summary"]["order_id"] == "ORD/9"


# ---------------------------------------------------------------- #13 a blank tz


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/events/{id}/?tz=",
        "/api/v1/waybills/WB-OLD/?tz=",
        "/api/v1/orders/ORD-OLD/?tz=",
        "/api/v1/reports/weekly/?week=2026-W44&tz=",
        "/api/v1/stats/timeseries/?tz=",
        "/api/v1/stats/breakdown/?tz=",
        "/api/v1/events/?tz=",
        "/api/v1/codes/?tz=",
    ],
)
def test_a_blank_tz_means_not_given_on_every_endpoint(read_client, shipment, settings, url):
    response = read_client.get(url.format(id=shipment))
    assert response.status_code == 200, response.content[:300]


# ---------------------------------------------------------------- #7 NUL bytes


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/waybills/a%00b/", "waybill"),
        ("/orders/a%00b/", "order_id"),
        ("/search/?q=a%00b", "waybill"),
        ("/events/?q=a%00b", "q"),
        ("/events/?waybill=a%00b", "waybill"),
        ("/events/?order_id=a%00b", "order_id"),
        ("/events/?endpoint=a%00b", "endpoint"),
        ("/codes/?tz=a%00b", "tz"),
    ],
)
def test_a_nul_byte_in_a_page_address_or_filter_is_a_400_page(user_client, url, field):
    response = user_client.get(url)
    assert response.status_code == 400
    assert ("<code>" + field + "</code>").encode() in response.content


@pytest.mark.parametrize(
    ("url", "field"),
    [("/api/v1/orders/a%00b/", "value"), ("/api/v1/events/?order_id=a%00b", "order_id")],
)
def test_a_nul_byte_in_the_api_is_a_400_naming_the_parameter(read_client, url, field):
    response = read_client.get(url)
    assert response.status_code == 400
    assert field in response.json()["detail"]
