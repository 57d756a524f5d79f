"""The read API: its figures equal an independent count of the generated events; bad
parameters are 400s naming the parameter; the auth matrix; the OpenAPI schema and docs."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from tests import clock

LONDON = ZoneInfo("Europe/London")
IST = ZoneInfo("Asia/Kolkata")
TIMESERIES = "/api/v1/stats/timeseries/"
BREAKDOWN = "/api/v1/stats/breakdown/"
READ_URLS = [
    TIMESERIES,
    BREAKDOWN,
    "/api/v1/events/",
    "/api/v1/codes/",
    "/api/v1/reports/weekly/?week=2026-W44",
]
# Week 44 in London: Monday 2026-10-26 00:00 GMT to Monday 2026-11-02 00:00 GMT.
W44 = {"start": "2026-10-26", "end": "2026-11-02", "tz": "Europe/London"}
W44_UTC = (datetime(2026, 10, 26, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
# The period before: the same length (168 h), though London's week 43 lasted 169 h.
BEFORE_W44_UTC = (datetime(2026, 10, 19, tzinfo=UTC), datetime(2026, 10, 26, tzinfo=UTC))


def between(events, start: datetime, end: datetime) -> list:
    return [e for e in events if start <= e.ts < end]


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def get_json(client, url: str, params: dict | None = None):
    response = client.get(url, params or {})
    assert response.status_code == 200, response.content[:500]
    return response.json()


# ---------------------------------------------------------------- figures


def test_days_by_category_in_utc_equal_a_count_of_the_events(read_client, events):
    start, end = datetime(2026, 10, 18, tzinfo=UTC), datetime(2026, 11, 4, tzinfo=UTC)
    body = get_json(
        read_client,
        TIMESERIES,
        {"start": "2026-10-18T00:00:00Z", "end": "2026-11-04T00:00:00Z", "tz": "UTC"}
        | {"interval": "day", "group_by": "category"},
    )
    shown = between(events, start, end)
    got_events, got_errors = Counter(), Counter()
    for series in body["series"]:
        for point in series["points"]:
            got_events[(point["t"][:10], series["key"])] += point["events"]
            got_errors[(point["t"][:10], series["key"])] += point["errors"]
    assert +got_events == Counter((e.ts.date().isoformat(), e.category) for e in shown)
    assert +got_errors == Counter(
        (e.ts.date().isoformat(), e.category) for e in shown if e.is_error
    )
    assert len(body["totals"]) == 17  # empty days included
    assert [p["events"] for p in body["totals"]][-1] == 0


def test_days_in_asia_kolkata_equal_a_count_by_indian_date(read_client, events):
    body = get_json(
        read_client,
        TIMESERIES,
        {"start": "2026-10-19", "end": "2026-11-02", "tz": "Asia/Kolkata", "interval": "day"},
    )
    start, end = instant(body["start"]), instant(body["end"])
    assert start == datetime(2026, 10, 18, 18, 30, tzinfo=UTC)
    expected = Counter(e.ts.astimezone(IST).date().isoformat() for e in between(events, start, end))
    got = {p["t"][:10]: p["events"] for p in body["totals"]}
    assert got == {day: expected.get(day, 0) for day in got}
    assert sum(got.values()) == sum(expected.values())
    assert all(p["t"].endswith("T00:00:00+05:30") for p in body["totals"])


def test_london_dst_day_has_25_hourly_buckets_equal_to_a_count(read_client, events):
    body = get_json(
        read_client,
        TIMESERIES,
        {"start": "2026-10-25", "end": "2026-10-26", "tz": "Europe/London", "interval": "hour"}
        | {"group_by": "code", "limit": 50},
    )
    assert len(body["totals"]) == 25
    start, end = datetime(2026, 10, 24, 23, tzinfo=UTC), datetime(2026, 10, 26, tzinfo=UTC)
    hour = lambda e: e.ts.replace(minute=0, second=0, microsecond=0)  # noqa: E731
    shown = between(events, start, end)
    assert {instant(p["t"]): p["events"] for p in body["totals"]} == {
        start + timedelta(hours=n): Counter(hour(e) for e in shown)[start + timedelta(hours=n)]
        for n in range(25)
    }
    errors_by_code = Counter((hour(e), e.code) for e in shown if e.is_error)
    got = Counter()
    for series in body["series"]:
        for point in series["points"]:
            got[(instant(point["t"]), series["key"])] += point["errors"]
    assert +got == errors_by_code


def test_minute_buckets_read_raw_events_exactly(read_client, events):
    body = get_json(
        read_client,
        TIMESERIES,
        {"start": "2026-10-25T00:45:00Z", "end": "2026-10-25T01:15:00Z", "interval": "minute"},
    )
    start, end = (
        datetime(2026, 10, 25, 0, 45, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 15, tzinfo=UTC),
    )
    minute = Counter(e.ts.replace(second=0, microsecond=0) for e in between(events, start, end))
    assert len(body["totals"]) == 30
    assert {instant(p["t"]): p["events"] for p in body["totals"] if p["events"]} == minute


def test_shares_of_the_groups_add_up_to_the_error_rate_of_the_bucket(read_client, events):
    body = get_json(read_client, TIMESERIES, W44 | {"interval": "day", "group_by": "category"})
    for index, total in enumerate(body["totals"]):
        shares = sum(series["points"][index]["share"] for series in body["series"])
        assert shares == pytest.approx(total["error_rate"], abs=1e-5)
        assert total["error_rate"] == pytest.approx(total["errors"] / total["events"], abs=1e-6)


def test_breakdown_by_code_counts_errors_now_and_the_week_before(read_client, events):
    rows = get_json(read_client, BREAKDOWN, W44 | {"by": "code", "limit": 50})
    now = Counter(e.code for e in between(events, *W44_UTC) if e.is_error)
    before = Counter(e.code for e in between(events, *BEFORE_W44_UTC) if e.is_error)
    all_calls = len(between(events, *W44_UTC))
    assert {r["key"]: r["errors"] for r in rows if r["errors"]} == now
    assert {r["key"]: r["previous_errors"] for r in rows if r["errors"]} == {
        code: before[code] for code in now
    }
    for row in rows:
        assert row["share"] == pytest.approx(row["errors"] / all_calls, abs=1e-6)
        if before[row["key"]]:
            expected = (row["errors"] - before[row["key"]]) / before[row["key"]]
            assert row["change"] == pytest.approx(expected, abs=1e-6)
    assert [r["errors"] for r in rows] == sorted((r["errors"] for r in rows), reverse=True)
    assert {r["key"]: r["label"] for r in rows}[503] == "Service Unavailable"


def test_breakdown_by_courier_counts_errors_and_labels_couriers(read_client, events):
    rows = get_json(read_client, BREAKDOWN, W44 | {"by": "cp_id", "limit": 3})
    now = Counter(e.cp_id for e in between(events, *W44_UTC) if e.is_error)
    before = Counter(e.cp_id for e in between(events, *BEFORE_W44_UTC) if e.is_error)
    assert len(rows) == 3
    assert [r["errors"] for r in rows] == sorted(now.values(), reverse=True)[:3]
    for row in rows:
        assert row["errors"] == now[row["key"]]
        assert row["previous_errors"] == before[row["key"]]
    labels = {
        r["key"]: r["label"]
        for r in get_json(read_client, BREAKDOWN, W44 | {"by": "cp_id", "limit": 10})
    }
    assert labels == {
        4: "Delhivery",
        5: "Blue Dart",
        3: "Ecom Express",
        999: "cp 999",
        0: "no courier",
    }


def test_filters_repeated_or_comma_separated_count_the_same(read_client, events):
    repeated = read_client.get(
        f"{BREAKDOWN}?by=endpoint&code=503&code=319&cp_id=4,5&start=2026-10-26&end=2026-11-02"
    )
    comma = read_client.get(
        f"{BREAKDOWN}?by=endpoint&code=503,319&cp_id=4&cp_id=5&start=2026-10-26&end=2026-11-02"
    )
    assert repeated.json() == comma.json()
    expected = Counter(
        e.endpoint
        for e in between(events, *W44_UTC)
        if e.code in (503, 319) and e.cp_id in (4, 5) and e.is_error
    )
    assert {r["key"]: r["errors"] for r in repeated.json()} == expected


def test_codes_endpoint_lists_the_catalog_with_counts_and_unknown_codes(read_client, events):
    rows = {r["code"]: r for r in get_json(read_client, "/api/v1/codes/", W44)}
    now = Counter(e.code for e in between(events, *W44_UTC))
    assert {code: r["events"] for code, r in rows.items() if r["events"]} == now
    assert rows[777]["category"] == "unknown" and not rows[777]["in_catalog"]
    assert rows[324]["meaning"].startswith("You Are Using Invalid Credential")


# ---------------------------------------------------------------- 400s


BAD = [
    (TIMESERIES, {"interval": "fortnight"}, "interval"),
    (TIMESERIES, {"group_by": "waybill"}, "group_by"),
    (TIMESERIES, {"start": "yesterday"}, "start"),
    (TIMESERIES, {"end": "2026-13-01T00:00:00Z"}, "end"),
    (TIMESERIES, {"start": "2026-10-02", "end": "2026-10-01"}, "end"),
    (TIMESERIES, {"tz": "Mars/Olympus"}, "tz"),
    (TIMESERIES, {"tz": "../../etc/passwd"}, "tz"),
    (TIMESERIES, {"start": "1900-01-01"}, "start"),
    (TIMESERIES, {"interval": "minute", "start": "2026-10-01", "end": "2026-10-04"}, "interval"),
    (TIMESERIES, {"interval": "hour", "start": "2026-01-01", "end": "2026-12-01"}, "interval"),
    (TIMESERIES, {"code": "abc"}, "code"),
    (TIMESERIES, {"cp_id": "4,x"}, "cp_id"),
    (TIMESERIES, {"cp_id": "99999999999"}, "cp_id"),
    (TIMESERIES, {"category": "nope"}, "category"),
    (BREAKDOWN, {"by": "waybill"}, "by"),
    (BREAKDOWN, {"limit": "0"}, "limit"),
    (BREAKDOWN, {"limit": "100000"}, "limit"),
    (BREAKDOWN, {"limit": "ten"}, "limit"),
    ("/api/v1/events/", {"limit": "501"}, "limit"),
    ("/api/v1/events/", {"cursor": "not-a-cursor"}, "cursor"),
    (
        "/api/v1/events/",
        {"cursor": "MjAyNi0xMC0yNlQwMDowMDowMCswMDowMHw5OTk5OTk5OTk5OTk5OTk5OTk5OTk="},
        "cursor",
    ),
    ("/api/v1/events/", {"q": "nul\x00"}, "q"),
    ("/api/v1/waybills/AWB%00/", {}, "value"),
    ("/api/v1/events/", {"errors_only": "maybe"}, "errors_only"),
    ("/api/v1/events/", {"code": "5.5"}, "code"),
    ("/api/v1/events/abc/", {}, "id"),
    ("/api/v1/events/99999999999999999999/", {}, "id"),
    ("/api/v1/codes/", {"start": "2026-10-02T00:00:00+25:00"}, "start"),
    ("/api/v1/reports/weekly/", {}, "week"),
    ("/api/v1/reports/weekly/", {"week": "2026-W54"}, "week"),
    ("/api/v1/reports/weekly/", {"week": "2026-47"}, "week"),
    ("/api/v1/reports/weekly/", {"week": "2026-W47", "format": "xml"}, "format"),
    ("/api/v1/reports/weekly/", {"week": "2026-W47", "tz": "Nowhere"}, "tz"),
    ("/api/v1/waybills/AWB1/", {"tz": "Nowhere"}, "tz"),
]


@pytest.mark.parametrize(("url", "params", "name"), BAD)
def test_bad_parameter_is_a_400_json_error_naming_it(read_client, url, params, name):
    response = read_client.get(url, params)
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert name in body["detail"]
    assert body["error"].startswith(f"{name}: ")


def test_offset_plus_turned_into_a_space_by_a_query_string_is_read_as_plus(read_client):
    body = get_json(
        read_client, TIMESERIES, {"start": "2026-10-25T05:30:00 05:30", "end": "2026-10-26"}
    )
    assert instant(body["start"]) == datetime(2026, 10, 25, tzinfo=UTC)


# ---------------------------------------------------------------- 404s


@pytest.mark.parametrize(
    "url", ["/api/v1/waybills/NO-SUCH-AWB/", "/api/v1/orders/NO-SUCH/", "/api/v1/events/1234567/"]
)
def test_unknown_shipment_or_event_is_a_404_json_error(read_client, url):
    response = read_client.get(url)
    assert response.status_code == 404
    assert "error" in response.json()


# ---------------------------------------------------------------- auth


@pytest.mark.parametrize("url", READ_URLS)
def test_reading_without_credentials_is_401(api, url):
    response = api.get(url)
    assert response.status_code == 401
    assert "error" in response.json()


@pytest.mark.parametrize("url", READ_URLS)
def test_an_ingest_only_token_cannot_read(ingest_client, url):
    assert ingest_client.get(url).status_code == 403


@pytest.mark.parametrize("url", READ_URLS)
def test_a_read_token_reads(read_client, url):
    assert read_client.get(url).status_code == 200


@pytest.mark.parametrize("url", READ_URLS)
def test_a_logged_in_session_reads(db, url):
    client = APIClient()
    client.force_login(User.objects.create_user("ops", password="a-long-password-1"))
    assert client.get(url).status_code == 200


def test_a_read_token_cannot_ingest(read_client):
    response = read_client.post("/api/v1/events/", {"timestamp": "x"}, format="json")
    assert response.status_code == 403


# ---------------------------------------------------------------- schema and docs


def test_openapi_schema_describes_every_endpoint_with_examples(api):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) >= {
        "/api/v1/events/",
        "/api/v1/events/{event_id}/",
        "/api/v1/waybills/{value}/",
        "/api/v1/orders/{value}/",
        "/api/v1/stats/timeseries/",
        "/api/v1/stats/breakdown/",
        "/api/v1/codes/",
        "/api/v1/reports/weekly/",
    }
    ingest = schema["paths"]["/api/v1/events/"]["post"]
    assert "application/x-ndjson" in ingest["requestBody"]["content"]
    assert "examples" in ingest["requestBody"]["content"]["application/json"]
    params = {p["name"] for p in schema["paths"]["/api/v1/stats/timeseries/"]["get"]["parameters"]}
    assert {"start", "end", "tz", "interval", "group_by", "code", "cp_id"} <= params


def test_docs_page_is_served_without_inline_scripts(api, settings):
    # Tests run without collectstatic: no manifest of hashed names.
    static = "django.contrib.staticfiles.storage.StaticFilesStorage"
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": static}}
    response = api.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "<script>" not in html  # the CSP allows only script files


def test_hours_in_asia_kolkata_run_from_half_past_to_half_past_utc(read_client, events):
    body = get_json(
        read_client,
        TIMESERIES,
        {"start": "2026-10-26", "end": "2026-10-27", "tz": "Asia/Kolkata", "interval": "hour"},
    )
    start = datetime(2026, 10, 25, 18, 30, tzinfo=UTC)
    local_hour = Counter(
        e.ts.astimezone(IST).replace(minute=0, second=0, microsecond=0)
        for e in between(events, start, start + timedelta(days=1))
    )
    assert len(body["totals"]) == 24
    assert {datetime.fromisoformat(p["t"]): p["events"] for p in body["totals"]} == {
        hour: local_hour[hour]
        for hour in (start.astimezone(IST) + timedelta(hours=n) for n in range(24))
    }


def test_ingest_answers_json_whatever_the_accept_header(ingest_client):
    at = clock.iso(clock.recent_day() + timedelta(hours=10))
    event = {"timestamp": at, "endpoint": "label", "http_status": 200}
    response = ingest_client.post(
        "/api/v1/events/", event, format="json", HTTP_ACCEPT="application/x-ndjson"
    )
    assert response.status_code == 200
    assert response.json()["accepted"] == 1


# ---------------------------------------------------------------- the schema is what is sent


def _component(schema: dict, ref_or_schema: dict) -> dict:
    if "$ref" in ref_or_schema:
        return schema["components"]["schemas"][ref_or_schema["$ref"].split("/")[-1]]
    return ref_or_schema


def _conforms(schema: dict, described: dict, value, where: str) -> None:
    """`value` has exactly the described properties (all required ones), recursively, and
    every date-time is an ISO 8601 time with its offset."""
    described = _component(schema, described)
    if described.get("type") == "array":
        for index, item in enumerate(value):
            _conforms(schema, described["items"], item, f"{where}[{index}]")
        return
    if described.get("format") == "date-time":
        assert datetime.fromisoformat(value).tzinfo is not None, where
        return
    if "properties" not in described or not isinstance(value, dict):
        return
    properties = described["properties"]
    assert set(value) <= set(properties), (where, set(value) - set(properties))
    assert set(described.get("required", [])) <= set(value), where
    for name, item in value.items():
        if item is not None:
            _conforms(schema, properties[name], item, f"{where}.{name}")


@pytest.mark.parametrize(
    ("path", "url", "params"),
    [
        ("/api/v1/stats/timeseries/", TIMESERIES, W44 | {"group_by": "code", "interval": "day"}),
        ("/api/v1/stats/breakdown/", BREAKDOWN, W44),
        ("/api/v1/events/", "/api/v1/events/", W44 | {"limit": 5}),
        ("/api/v1/codes/", "/api/v1/codes/", W44),
        ("/api/v1/waybills/{value}/", "/api/v1/waybills/AWB00012/", {"tz": "Asia/Kolkata"}),
    ],
)
def test_every_answer_is_exactly_what_the_openapi_schema_describes(
    read_client, events, path, url, params
):
    schema = read_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    schema = schema.json()
    described = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    _conforms(schema, described["schema"], get_json(read_client, url, params), url)


def test_an_event_detail_is_what_the_schema_describes_with_times_in_the_asked_zone(
    read_client, events
):
    event_id = get_json(read_client, "/api/v1/events/", W44 | {"limit": 1})["results"][0]["id"]
    body = get_json(read_client, f"/api/v1/events/{event_id}/", {"tz": "Asia/Kolkata"})
    schema = read_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    _conforms(schema, {"$ref": "#/components/schemas/EventDetailOut"}, body, "event")
    assert body["timestamp"].endswith("+05:30") and body["received_at"].endswith("+05:30")
