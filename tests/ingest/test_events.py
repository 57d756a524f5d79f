"""ingest/events.py: one raw event -> a clean, tagged, redacted event or field errors (no DB)."""

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from ingest.catalog import SEED_BY_CODE
from ingest.events import (
    ENDPOINT_NAMES,
    CleanEvent,
    InvalidEvent,
    clean_event,
    endpoint_name,
)
from ingest.redaction import REDACTED, redact
from ingest.times import EPOCH

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
TEN = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
EPOCH_TEN = int(TEN.timestamp())
BASE = {"timestamp": "2026-03-02T10:00:00Z", "endpoint": "order_create", "http_status": 200}
SECRET = "s3cr3t-Value-42"

# The SPEC endpoint table, copied as written there.
SPEC_PATHS = {
    "order_create": [
        "/api/v1/create-order/",
        "/api/v3/create-order/",
        "/api/v4/create-order/",
        "/api/v1/create-b2b-order/",
    ],
    "order_edit": ["/api/v1/edit-order/"],
    "tracking_register": ["/api/v2/tracking/awb-register/", "/api/v3/tracking/awb-register/"],
    "tracking_unregister": ["/api/v1/tracking/awb-unregister/"],
    "tracking_status": ["/api/v2/track-order/", "/api/v1/updated-order"],
    "order_cancel": ["/api/v1/cancel-order/"],
    "webhook_register": ["/api/v1/tracking/register-webhook/"],
    "recommendation": ["/api/v1/recommendation_api/", "/api/v2/recommendation/"],
    "serviceability": [
        "/api/v1/serviceability_api/",
        "/api/v2/serviceability_api/",
        "/api/v3/serviceability_api/",
    ],
    "edd": ["/api/v2/predicted_sla_api/", "/api/v1/global_edd/"],
    "ndr": ["/api/v2/ndr-update-api", "/api/v1/ndr/update/"],
    "pickup": ["/api/v1/create-pickup/", "/api/v2/create-pickup/"],
    "label": ["/api/v1/fetch/shippinglabel/"],
}
HOSTS = ["", "https://www.clickpost.in", "https://api.clickpost.ai", "http://WWW.ClickPost.in"]


def event(*, drop=(), **fields):
    """BASE with `fields` over it and the keys in `drop` removed."""
    raw = {**BASE, **fields}
    for key in drop:
        raw.pop(key, None)
    return raw


def clean(raw, **kwargs) -> CleanEvent:
    return clean_event(raw, now=NOW, catalog=SEED_BY_CODE, **kwargs)


def errors_of(raw, **kwargs) -> dict[str, list[str]]:
    with pytest.raises(InvalidEvent) as info:
        clean(raw, **kwargs)
    return info.value.errors


# --- aliases ---


@pytest.mark.parametrize(
    ("canonical", "alias", "value", "attribute", "expected"),
    [
        ("timestamp", "@timestamp", "2026-03-02T10:00:00Z", "ts", TEN),
        ("timestamp", "time", "2026-03-02T10:00:00Z", "ts", TEN),
        ("timestamp", "date", "2026-03-02T10:00:00Z", "ts", TEN),
        ("endpoint", "api", "/api/v1/cancel-order/", "endpoint", "order_cancel"),
        ("endpoint", "path", "/api/v1/cancel-order/", "endpoint", "order_cancel"),
        (
            "endpoint",
            "url",
            "https://www.clickpost.in/api/v1/cancel-order/",
            "endpoint",
            "order_cancel",
        ),
        ("http_status", "status_code", 503, "http_status", 503),
        ("waybill", "awb", "AWB123", "waybill", "AWB123"),
        ("order_id", "reference_number", "ORD-9", "order_id", "ORD-9"),
    ],
)
def test_alias_fills_its_field_and_stays_out_of_extra(canonical, alias, value, attribute, expected):
    got = clean(event(drop=[canonical], **{alias: value}))
    assert getattr(got, attribute) == expected
    assert alias not in got.extra


def test_first_present_non_null_alias_wins_and_all_aliases_are_consumed():
    raw = event(
        drop=["timestamp"],
        **{"timestamp": None, "@timestamp": "2026-03-02T09:00:00Z", "time": "2026-03-02T08:00:00Z"},
    )
    got = clean(raw)
    assert got.ts == TEN - timedelta(hours=1)
    assert not {"timestamp", "@timestamp", "time"} & got.extra.keys()


def test_canonical_name_wins_over_alias():
    got = clean(event(http_status=200, status_code=503, waybill="W1", awb="W2"))
    assert (got.http_status, got.waybill) == (200, "W1")


# --- timestamp ---


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-02T10:00:00Z", TEN),
        ("2026-03-02 10:00:00Z", TEN),
        ("2026-03-02t10:00:00z", TEN),
        ("2026-03-02T15:30:00+05:30", TEN),
        ("2026-03-02T15:30:00+0530", TEN),
        ("2026-03-02 05:00:00-05:00", TEN),
        ("2026-03-02T10:00:00", TEN),
        ("2026-03-02 10:00:00", TEN),
        ("2026-03-02T10:00:00.5Z", TEN.replace(microsecond=500000)),
        ("2026-03-02T10:00:00.123456789Z", TEN.replace(microsecond=123456)),
        (" 2026-03-02T10:00:00Z ", TEN),
        (EPOCH_TEN, TEN),
        (EPOCH_TEN * 1000, TEN),
        (EPOCH_TEN * 10**6, TEN),
        (EPOCH_TEN * 10**9, TEN),
        (EPOCH_TEN * 10**9 + 123456789, TEN.replace(microsecond=123456)),
        (EPOCH_TEN + 0.25, TEN.replace(microsecond=250000)),
        (EPOCH_TEN + 0.123456, TEN.replace(microsecond=123456)),
        (float(EPOCH_TEN * 1000), TEN),
        (str(EPOCH_TEN), TEN),
        (str(EPOCH_TEN * 1000), TEN),
        (str(EPOCH_TEN * 10**6), TEN),
        (str(EPOCH_TEN * 10**9), TEN),
        (f"{EPOCH_TEN}.25", TEN.replace(microsecond=250000)),
    ],
)
def test_timestamp_forms_become_aware_utc(value, expected):
    got = clean(event(timestamp=value)).ts
    assert got == expected
    assert got.utcoffset() == timedelta(0)


def test_naive_timestamp_is_taken_as_utc():
    assert clean(event(timestamp="2026-03-02T10:00:00")).ts == TEN


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "2026-03-02",
        "2026-13-01T00:00:00Z",
        "2026-03-02T25:00:00Z",
        "1969-12-31T23:59:59Z",
        "1970-01-01T00:30:00+01:00",
        "0001-01-01T00:00:00+01:00",
        -5,
        "-5",
        True,
        10**30,
        "1" * 60,
        ["2026-03-02T10:00:00Z"],
    ],
)
def test_bad_timestamp_names_the_accepted_forms(value):
    (reason,) = errors_of(event(timestamp=value))["timestamp"]
    assert "RFC 3339" in reason and "epoch" in reason


def test_timestamp_more_than_five_minutes_ahead_is_rejected():
    late = (NOW + timedelta(minutes=5, seconds=1)).isoformat()
    assert errors_of(event(timestamp=late)) == {
        "timestamp": ["is more than 5 minutes in the future"]
    }


def test_timestamp_within_five_minutes_ahead_is_accepted():
    assert clean(event(timestamp=(NOW + timedelta(minutes=5)).isoformat())).ts > NOW


def test_missing_timestamp_is_required():
    assert errors_of(event(drop=["timestamp"])) == {"timestamp": ["required"]}


def test_default_timestamp_stands_in_only_when_the_event_has_none():
    record_time = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
    assert clean(event(drop=["timestamp"]), default_timestamp=record_time).ts == record_time
    assert clean(event(), default_timestamp=record_time).ts == TEN


def test_error_is_filed_under_the_alias_the_shipper_sent():
    assert errors_of(event(drop=["timestamp"], **{"@timestamp": "soon"})).keys() == {"@timestamp"}


# --- endpoint ---

ENDPOINT_CASES = [
    (host + re.sub(r"/v[0-9]+/", f"/v{version}/", path, count=1), name)
    for name, paths in SPEC_PATHS.items()
    for path in paths
    for version in (1, 3, 9)
    for host in HOSTS
]


@pytest.mark.parametrize(("value", "name"), ENDPOINT_CASES)
def test_spec_path_maps_to_its_name_for_any_version_and_host(value, name):
    assert clean(event(endpoint=value)).endpoint == name


@pytest.mark.parametrize(("name", "paths"), SPEC_PATHS.items())
def test_spec_path_maps_with_or_without_trailing_slash_query_and_fragment(name, paths):
    for path in paths:
        bare = path.rstrip("/")
        for value in (bare, bare + "/", bare + "/?key=abc&username=x", bare + "#top", bare.upper()):
            assert endpoint_name(value) == name, value


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("https://www.clickpost.in/api/v3/create-order/?key=abc&username=x", "order_create"),
        ("/api/v9/track-order", "tracking_status"),
        ("/api/v1/ndr/update/", "ndr"),
        ("/api/v2/ndr-update-api", "ndr"),
        ("/api/v1/updated-order", "tracking_status"),
        ("api/v1/cancel-order/", "order_cancel"),
        ("www.clickpost.in/api/v2/tracking/awb-register/", "tracking_register"),
    ],
)
def test_spec_examples_map_to_names(value, name):
    assert endpoint_name(value) == name


def test_endpoint_names_are_exactly_the_spec_names():
    assert set(ENDPOINT_NAMES) == set(SPEC_PATHS)


@pytest.mark.parametrize("name", sorted(SPEC_PATHS))
def test_endpoint_name_is_kept_as_a_name(name):
    assert endpoint_name(name) == name
    assert endpoint_name(f" {name.upper()} ") == name


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("/api/v1/brand-new-thing/", "/api/v1/brand-new-thing/"),
        ("create_order_v2", "create_order_v2"),
        (
            "https://x.example/api/v1/new/?username=u&key=abc&token=t",
            f"https://x.example/api/v1/new/?username=u&key={REDACTED}&token={REDACTED}",
        ),
    ],
)
def test_unknown_endpoint_is_kept_with_query_secrets_redacted(value, stored):
    assert clean(event(endpoint=value)).endpoint == stored


def test_unknown_endpoint_is_cut_to_200_characters():
    assert clean(event(endpoint="/custom/" + "x" * 500)).endpoint == ("/custom/" + "x" * 500)[:200]


@pytest.mark.parametrize("value", [None, "", "  "])
def test_missing_or_blank_endpoint_is_required(value):
    assert errors_of(event(endpoint=value)) == {"endpoint": ["required"]}


def test_endpoint_must_be_a_string():
    assert errors_of(event(endpoint=42)) == {"endpoint": ["must be a string"]}


# --- numbers, codes and tagging ---


@pytest.mark.parametrize(
    ("field", "value", "attribute", "expected"),
    [
        ("http_status", "503", "http_status", 503),
        ("http_status", " 503 ", "http_status", 503),
        ("http_status", 503.0, "http_status", 503),
        ("code", "319", "code", 319),
        ("code", "+319", "code", 319),
        ("cp_id", "7", "cp_id", 7),
        ("latency_ms", "12.5", "latency_ms", 12.5),
        ("latency_ms", "40", "latency_ms", 40.0),
        ("latency_ms", 0, "latency_ms", 0.0),
        ("waybill", 123456789, "waybill", "123456789"),
        ("order_id", 42.0, "order_id", "42"),
        ("account_code", "  acme  ", "account_code", "acme"),
        ("courier", "Delhivery", "courier", "Delhivery"),
    ],
)
def test_numbers_may_arrive_as_strings_and_ids_as_numbers(field, value, attribute, expected):
    got = getattr(clean(event(**{field: value})), attribute)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("http_status", True, "must be an integer"),
        ("http_status", "5x3", "must be an integer"),
        ("http_status", 503.5, "must be an integer"),
        ("http_status", 99, "must be between 100 and 599"),
        ("http_status", 600, "must be between 100 and 599"),
        ("http_status", 10**40, "must be between 100 and 599"),
        ("http_status", "9" * 5000, "is out of range"),
        ("code", -1, "must be between 0 and 2147483647"),
        ("code", 2**31, "must be between 0 and 2147483647"),
        ("code", False, "must be an integer"),
        ("cp_id", "1e3", "must be an integer"),
        ("cp_id", 2**40, "must be between 0 and 2147483647"),
        ("latency_ms", -1, "must be a number from 0 to 1000000000"),
        ("latency_ms", "inf", "must be a number"),
        ("latency_ms", "1e999", "must be a number from 0 to 1000000000"),
        ("latency_ms", 10**400, "must be a number from 0 to 1000000000"),
        ("latency_ms", True, "must be a number"),
        ("waybill", "W" * 101, "must be at most 100 characters"),
        ("courier", {"name": "x"}, "must be a string"),
        ("order_id", True, "must be a string"),
        ("event_id", "e" * 129, "must be at most 128 characters"),
    ],
)
def test_bad_typed_field_gives_its_reason(field, value, reason):
    assert errors_of(event(**{field: value})) == {field: [reason]}


def test_blank_text_counts_as_absent():
    got = clean(event(code="319", http_status="", cp_id="", waybill=" "))
    assert (got.code, got.http_status, got.cp_id, got.waybill) == (319, None, None, "")


def test_absent_text_fields_are_empty_strings():
    got = clean(event())
    assert (got.courier, got.waybill, got.order_id, got.account_code, got.message) == ("",) * 5
    assert (got.cp_id, got.latency_ms, got.request, got.response) == (None,) * 4


def test_202_is_a_cancellation_error_on_order_cancel():
    got = clean(event(endpoint="/api/v1/cancel-order/", http_status=202))
    assert (got.code, got.category, got.is_error) == (202, "order_cancellation", True)


def test_202_is_success_on_order_create():
    got = clean(event(endpoint="/api/v3/create-order/", http_status=202))
    assert (got.code, got.category, got.is_error) == (202, "success", False)


def test_2xx_code_with_5xx_http_status_counts_as_the_http_status():
    got = clean(event(code=200, http_status=503))
    assert (got.code, got.category, got.is_error) == (503, "server", True)


def test_code_wins_over_http_status_200():
    got = clean(event(code=323, http_status=200))
    assert (got.code, got.category, got.is_error) == (323, "order_creation", True)


def test_meta_status_is_the_fallback_code_even_as_a_string():
    got = clean(event(http_status=200, response={"meta": {"status": "324", "message": "bad"}}))
    assert (got.code, got.category, got.http_status) == (324, "service", 200)


def test_meta_status_alone_is_enough():
    got = clean(event(drop=["http_status"], response={"meta": {"status": 200}}))
    assert (got.code, got.http_status, got.is_error) == (200, None, False)


def test_junk_meta_status_is_ignored_not_rejected():
    got = clean(event(http_status=200, response={"meta": {"status": "oops"}}))
    assert got.code == 200


def test_no_code_of_any_kind_requires_http_status():
    assert errors_of(event(drop=["http_status"], response={"meta": {}})) == {
        "http_status": ["required unless code or response.meta.status is given"]
    }


def test_unknown_code_is_kept_and_tagged_unknown():
    got = clean(event(code=777))
    assert (got.code, got.category, got.is_error) == (777, "unknown", True)


def test_tracking_status_code_stays_in_extra_not_code():
    got = clean(event(clickpost_status_code=5))
    assert got.code == 200 and got.extra == {"clickpost_status_code": 5}


# --- message ---


def test_message_falls_back_to_meta_message():
    got = clean(event(response={"meta": {"status": 330, "message": "waybill does not exist"}}))
    assert got.message == "waybill does not exist"


def test_meta_message_object_is_kept_as_its_json_text():
    meta = {"status": 328, "message": {"non_field_errors": ["cp_id is required"], "b": 1}}
    got = clean(event(response={"meta": meta}))
    assert got.message == '{"non_field_errors":["cp_id is required"],"b":1}'


def test_own_message_wins_over_meta_message():
    got = clean(event(message="mine", response={"meta": {"message": "theirs"}}))
    assert got.message == "mine"


def test_non_string_message_is_its_json_text():
    assert clean(event(message={"detail": ["x"]})).message == '{"detail":["x"]}'


def test_message_is_cut_to_2000_characters():
    assert clean(event(message="m" * 5000)).message == "m" * 2000


# --- redaction ---


@pytest.mark.parametrize(
    "name",
    [
        "key",
        "api_key",
        "API-Key",
        "apikey",
        "X-Api-Key",
        "password",
        "passwd",
        "pwd",
        "token",
        "access_token",
        "refresh_token",
        "auth_token",
        "secret",
        "client_secret",
        "security_key",
        "Authorization",
        "Proxy-Authorization",
        "Cookie",
        "Set-Cookie",
        "private_key",
        "credentials",
        "courier_key",
        "session_token",
        "webhook_secret",
        "db_password",
        "http.request.header.authorization",
    ],
)
def test_secret_key_is_redacted_at_any_depth(name):
    got = redact({"a": [{"b": {name: SECRET, "keep": "x"}}]})
    assert got == {"a": [{"b": {name: REDACTED, "keep": "x"}}]}


@pytest.mark.parametrize("name", ["username", "monkey", "keys", "tokens_used", "cp_id", "waybill"])
def test_ordinary_key_is_not_redacted(name):
    assert redact({name: "visible"}) == {name: "visible"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "https://x/api/v1/create-order/?username=u&key=SECRET",
            f"https://x/api/v1/create-order/?username=u&key={REDACTED}",
        ),
        ("/a?api_key=S&Token=T#frag", f"/a?api_key={REDACTED}&Token={REDACTED}#frag"),
        ("username=u&password=p", f"username=u&password={REDACTED}"),
        ("GET /x?key=abc failed", f"GET /x?key={REDACTED} failed"),
        ("monkey=banana&keys=3", "monkey=banana&keys=3"),
        ('{"api_key": "abc", "n": 1}', f'{{"api_key": "{REDACTED}", "n": 1}}'),
        ('{"password":12345}', f'{{"password":"{REDACTED}"}}'),
        ("Authorization: Bearer abc.def-ghi", f"Authorization: Bearer {REDACTED}"),
    ],
)
def test_secrets_inside_strings_are_redacted(text, expected):
    assert redact(text) == expected


def test_name_value_header_pairs_hide_the_value():
    headers = [{"name": "X-Api-Key", "value": SECRET}, {"name": "Accept", "value": "json"}]
    assert redact(headers) == [
        {"name": "X-Api-Key", "value": REDACTED},
        {"name": "Accept", "value": "json"},
    ]


def test_null_and_empty_secret_values_are_kept_as_missing():
    assert redact({"key": None, "token": ""}) == {"key": None, "token": ""}


def test_secret_appears_nowhere_in_the_clean_event():
    raw = event(
        endpoint=f"https://www.clickpost.in/api/v3/create-order/?username=u&key={SECRET}",
        request={
            "url": f"https://www.clickpost.in/api/v3/create-order/?key={SECRET}",
            "headers": {"Authorization": f"Bearer {SECRET}", "X-Api-Key": SECRET},
            "body": {"pickup": {"courier_credentials": {"password": SECRET}}},
            "raw_body": json.dumps({"security_key": SECRET}),
        },
        response={"meta": {"status": 301, "message": f"bad key={SECRET}"}, "token": SECRET},
        debug={"api_key": SECRET, "list": [{"client_secret": SECRET}]},
    )
    got = clean(raw, context={"token": SECRET, "app": "shop"})
    assert SECRET not in repr(got)
    assert got.endpoint == "order_create" and got.code == 301
    assert got.extra["app"] == "shop" and got.extra["debug"]["api_key"] == REDACTED


def test_request_is_kept_apart_from_its_secrets():
    got = clean(event(request={"order": {"items": [1, 2]}, "password": SECRET}))
    assert got.request == {"order": {"items": [1, 2]}, "password": REDACTED}


# --- bad data anywhere is a field error ---


LONE_SURROGATE = json.loads('"\\ud800"')


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"message": "a\x00b"}, "message", "must not contain NUL characters"),
        ({"request": {"a": [{"b": "x\x00"}]}}, "request", "must not contain NUL characters"),
        (
            {"request": {"a": {"k\x00": 1}}},
            "request",
            "has a key that must not contain NUL characters",
        ),
        ({"waybill": "W\x00"}, "waybill", "must not contain NUL characters"),
        ({"courier": LONE_SURROGATE}, "courier", "is not valid Unicode"),
        ({"response": {"meta": {"message": LONE_SURROGATE}}}, "response", "is not valid Unicode"),
        ({"note": "ok" + LONE_SURROGATE}, "note", "is not valid Unicode"),
        ({"response": {"x": float("nan")}}, "response", "must not contain NaN or Infinity"),
        ({"request": {"n": 10**2000}}, "request", "contains a number too large to store"),
        ({"code": 10**2000}, "code", "contains a number too large to store"),
        ({"request": {"when": datetime(2026, 1, 1)}}, "request", "is not a JSON value"),
    ],
)
def test_unstorable_value_is_an_error_of_its_field(fields, field, reason):
    assert errors_of(event(**fields)) == {field: [reason]}


def test_bad_field_name_is_an_event_error():
    assert errors_of(event(**{"bad\x00name": 1})) == {
        "event": ["a field name must not contain NUL characters"]
    }


def nested(levels: int):
    value: object = "leaf"
    for _ in range(levels):
        value = [value]
    return value


def test_nesting_deeper_than_32_levels_is_an_error():
    # The event object is level 1, so `request` itself may hold 31 levels.
    assert clean(event(request=nested(31))).request == nested(31)
    assert errors_of(event(request=nested(32))) == {"request": ["is nested deeper than 32 levels"]}
    assert errors_of(event(extra=nested(500))) == {"extra": ["is nested deeper than 32 levels"]}


def test_integers_beyond_64_bits_are_fine_in_stored_json():
    assert clean(event(request={"n": 2**64, "m": -(2**70)})).request == {"n": 2**64, "m": -(2**70)}


# --- event shape ---


@pytest.mark.parametrize("raw", [[], "text", 42, None, True, [BASE]])
def test_non_object_event_is_rejected(raw):
    assert errors_of(raw) == {"event": ["must be a JSON object"]}


@dataclass
class Unparsable:
    line_no: int
    message: str


def test_unparsable_line_keeps_its_line_number():
    assert errors_of(Unparsable(3, "Expecting value")) == {"event": ["line 3: Expecting value"]}


def test_all_errors_of_an_event_are_collected():
    errors = errors_of(
        {"timestamp": "later", "http_status": "abc", "cp_id": -1, "request": {"a": "\x00"}}
    )
    assert errors.keys() == {"timestamp", "endpoint", "http_status", "cp_id", "request"}
    assert errors["endpoint"] == ["required"]


def test_unknown_fields_go_to_extra_and_context_is_merged_under_them():
    got = clean(event(region="north", app="own"), context={"app": "label", "job": "fluent-bit"})
    assert got.extra == {"region": "north", "app": "own", "job": "fluent-bit"}


def test_bad_context_value_is_an_error_of_its_key():
    assert errors_of(event(), context={"host": "a\x00"}) == {
        "host": ["must not contain NUL characters"]
    }


# --- response cap ---


def test_response_over_16_kb_is_stored_truncated():
    response = {"meta": {"status": 200}, "blob": "é" * 9000}  # 18,000 bytes as UTF-8
    text = json.dumps(response, separators=(",", ":"), ensure_ascii=False)
    got = clean(event(response=response))
    assert got.response == {"truncated": True, "text": text[:16384]}


def test_response_under_16_kb_is_kept_whole():
    response = {"meta": {"status": 200}, "blob": "x" * 16000}
    assert clean(event(response=response)).response == response


def test_non_json_gateway_page_is_kept_as_a_string():
    page = "<html><body>502 Bad Gateway</body></html>"
    got = clean(event(http_status=502, response=page))
    assert (got.response, got.code, got.category) == (page, 502, "unknown")


# --- event_key ---


def test_event_key_is_the_event_id_when_given():
    assert clean(event(event_id="evt-1")).event_key == "id:evt-1"
    assert clean(event(event_id=42)).event_key == "id:42"


def test_event_key_from_content_is_h_and_32_hex():
    assert re.fullmatch(r"h2:[0-9a-f]{32}", clean(event()).event_key)


def test_event_key_is_stable_for_identical_content():
    raw = event(request={"b": 1, "a": [1, 2]}, region="north", waybill="W1")
    reordered = dict(reversed(list(raw.items())))
    reordered["request"] = {"a": [1, 2], "b": 1}
    assert clean(raw).event_key == clean(json.loads(json.dumps(raw))).event_key
    assert clean(raw).event_key == clean(reordered).event_key


def test_event_key_is_the_same_for_equivalent_spellings():
    spelled = event(timestamp=EPOCH_TEN * 1000, http_status="200", endpoint="/api/v3/create-order/")
    assert clean(spelled).event_key == clean(event()).event_key


@pytest.mark.parametrize(
    "change",
    [
        {"timestamp": "2026-03-02T10:00:00.000001Z"},
        {"endpoint": "order_edit"},
        {"http_status": 201},
        {"code": 323},
        {"cp_id": 1},
        {"courier": "x"},
        {"waybill": "x"},
        {"order_id": "x"},
        {"account_code": "x"},
        {"message": "x"},
        {"latency_ms": 1},
        {"request": {}},
        {"response": {}},
        {"region": "x"},
    ],
)
def test_event_key_differs_when_any_field_differs(change):
    assert clean(event(**change)).event_key != clean(event()).event_key


def test_event_key_differs_when_context_differs():
    assert clean(event(), context={"job": "a"}).event_key != clean(event()).event_key


# --- issue 13: the retention horizon, ambiguous epochs, capped extra fields ---

HORIZON_90 = NOW - timedelta(days=90)


def test_an_event_older_than_the_retention_horizon_is_a_field_error(settings):
    settings.RETENTION_DAYS = 90
    old = (HORIZON_90 - timedelta(seconds=1)).isoformat()
    (reason,) = errors_of(event(timestamp=old))["timestamp"]
    assert reason.startswith("is older than the retention horizon (2025-12-02T12:00:00Z")
    assert clean(event(timestamp=HORIZON_90.isoformat())).ts == HORIZON_90


def test_the_horizon_follows_retention_days_and_covers_the_doors_default_time(settings):
    settings.RETENTION_DAYS = 10
    eleven_days = NOW - timedelta(days=11)
    assert (
        "retention horizon"
        in errors_of(event(drop=["timestamp"]), default_timestamp=eleven_days)["timestamp"][0]
    )
    assert "retention horizon" in errors_of(event(timestamp=0))["timestamp"][0]


def test_an_epoch_whose_unit_is_ambiguous_in_the_accepted_range_is_refused_not_guessed():
    # Read as seconds 253402300799 is 9999-12-31 (the future); as ms 1978, as us 1970-01-03 and
    # as ns 1970-01-01: with a horizon back to 1970, three readings are acceptable.
    (reason,) = errors_of(event(timestamp=253402300799), horizon=EPOCH)["timestamp"]
    assert reason.startswith("is an ambiguous epoch number")
    assert "as milliseconds 1978-01-11T21:31:40.799000Z" in reason
    assert "as microseconds 1970-01-03T22:23:22.300799Z" in reason
    assert "as seconds" not in reason


def test_an_epoch_with_one_unit_in_range_takes_that_unit():
    seventy_five = datetime(1975, 1, 1, tzinfo=UTC)
    assert clean(event(timestamp=253402300799), horizon=seventy_five).ts == datetime(
        1978, 1, 11, 21, 31, 40, 799000, tzinfo=UTC
    )
    # With the default 90-day horizon no reading of it is acceptable: the magnitude's is named.
    (reason,) = errors_of(event(timestamp=253402300799))["timestamp"]
    assert "older than the retention horizon" in reason


def test_every_unit_of_a_recent_epoch_is_unambiguous_with_the_default_horizon():
    for value in (EPOCH_TEN, EPOCH_TEN * 10**3, EPOCH_TEN * 10**6, EPOCH_TEN * 10**9):
        assert clean(event(timestamp=value)).ts == TEN


def test_unknown_extra_fields_are_capped_at_16_kb_of_json_like_request_and_response():
    big = clean(event(note="x" * 20_000, other={"a": 1}))
    assert big.extra == {"truncated": True, "text": big.extra["text"]}
    assert len(big.extra["text"]) == 16384
    assert big.extra["text"].startswith('{"note":"xxx')
    assert json.loads(big.extra_json) == big.extra
    small = clean(event(note="x" * 100))
    assert small.extra == {"note": "x" * 100}
