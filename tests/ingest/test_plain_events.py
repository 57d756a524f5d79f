"""The plain-event reader (`events._plain_event`, most events) and the careful reader
(`events._clean_carefully`, every rule field by field) give the same clean event, field by field
and JSON text by JSON text, or the same errors, on thousands of generated events: every alias,
blank and null values, NUL, lone surrogates, huge integers, NaN, deep nesting, secret names at
any depth, `key=` query strings, Bearer credentials and stringified JSON."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demo.traffic import DemoTraffic
from ingest import events
from ingest.catalog import SEED_BY_CODE
from ingest.events import CleanEvent, InvalidEvent

NOW = datetime.now(UTC).replace(microsecond=0)
HORIZON = NOW - timedelta(days=90)
CATALOG = SEED_BY_CODE

ALIASES = {
    "ts": ("timestamp", "@timestamp", "time", "date"),
    "endpoint": ("endpoint", "api", "path", "url"),
    "http_status": ("http_status", "status_code"),
    "code": ("code",),
    "cp_id": ("cp_id",),
    "courier": ("courier",),
    "waybill": ("waybill", "awb"),
    "order_id": ("order_id", "reference_number"),
    "account_code": ("account_code",),
    "latency_ms": ("latency_ms",),
    "event_id": ("event_id",),
    "message": ("message",),
    "request": ("request",),
    "response": ("response",),
}

# "\u212aey": a Kelvin sign, which lower() makes "k". "monkey", "tokenize": not secret, though
# they hold a secret name's part.
SECRET_NAMES = [
    "key",
    "api_key",
    "apiKey",
    "X-Api-Key",
    "password",
    "client_secret",
    "token",
    "\u212aey",
    "monkey",
    "tokenize",
]
ODD_TEXT = [
    "",
    "  ",
    "a\x00b",
    "\ud800",
    "é",
    "key=abc",
    "https://x/api/v2/track-order/?key=abc&u=1",
    "Bearer abcdefgh123",
    '{"password": "hunter2"}',
    'say "hi"',
    "line\r\nnext",
    "null",
]
scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.just(2**4000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(ODD_TEXT),
)
names = st.one_of(st.text(max_size=8), st.sampled_from([*SECRET_NAMES, "name", "value", "meta"]))
json_value = st.recursive(
    scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(names, inner, max_size=3)),
    max_leaves=12,
)


def nested(depth: int) -> dict:
    value: dict = {"x": 1}
    for _ in range(depth):
        value = {"x": value}
    return value


good_time = st.integers(min_value=-80 * 86400, max_value=250).map(
    lambda seconds: NOW + timedelta(seconds=seconds)
)
field_values = {
    "ts": st.one_of(
        good_time.map(lambda t: t.isoformat()),
        good_time.map(lambda t: t.timestamp()),
        good_time.map(lambda t: int(t.timestamp() * 1000)),
        st.sampled_from(["yesterday", "2001-01-01T00:00:00Z", "", None]),
        scalar,
    ),
    "endpoint": st.one_of(
        st.sampled_from(
            [
                "order_create",
                "/api/v1/cancel-order/",
                "https://api.clickpost.ai/api/v3/create-order/?key=abc",
                "custom/thing?token=x",
                "ORDER_CREATE",
            ]
        ),
        scalar,
    ),
    "http_status": st.one_of(st.integers(90, 610), st.sampled_from(["503", " 200 ", 200.0])),
    "code": st.one_of(st.sampled_from([200, 202, 304, 305, 319, 324]), st.integers(-5, 2**32)),
    "cp_id": st.one_of(st.integers(-1, 300), st.sampled_from(["6", 6.0, 2**31])),
    "latency_ms": st.one_of(st.floats(-1, 2e9), st.integers(-1, 2 * 10**9), st.just("12.5")),
    "message": st.one_of(st.text(max_size=20), st.sampled_from(ODD_TEXT), json_value),
    "request": st.one_of(json_value, st.just(nested(40)), st.just({"a": "x" * 17000})),
    "response": st.one_of(
        json_value,
        st.fixed_dictionaries(
            {"meta": st.fixed_dictionaries({"status": scalar, "message": scalar})}
        ),
        st.just(nested(31)),
    ),
}
# Each side of the 100- and 128-character limits, spaces around (the limit is after stripping).
LIMIT_TEXT = [" " + "x" * 100 + " ", "x" * 101, "\t" + "é" * 128, "x" * 129, "x" * 130]
text_value = st.one_of(
    st.text(max_size=20), st.integers(0, 10**12), st.sampled_from([*ODD_TEXT, *LIMIT_TEXT])
)


plain_names = st.sampled_from(["level", "host", "meta", "status", "result", "label", "waybill"])
plain_value = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**40), 2**40),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(alphabet=st.characters(blacklist_characters='="\x00'), max_size=10),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(plain_names, inner, max_size=3)
    ),
    max_leaves=8,
)
good_values = {
    "ts": good_time.map(lambda t: t.isoformat()),
    "endpoint": st.sampled_from(["order_create", "/api/v1/cancel-order/", "custom/thing"]),
    "http_status": st.integers(100, 599),
    "code": st.sampled_from([200, 202, 304, 305, 319, 324]),
    "cp_id": st.integers(0, 300),
    "latency_ms": st.floats(0, 1e6),
    "message": st.text(max_size=20),
    "request": plain_value,
    "response": plain_value,
}


# What shippers' templates send for a value they lack: absent for every optional field.
BLANKS = ["", "  ", "\t", None]


@st.composite
def raw_events(draw) -> dict:
    """Half start from a plain event (each field once, valid or blank) and change up to three
    things; the others are made of every alias and any value."""
    event: dict = {}
    if draw(st.booleans()):
        for field, keys in ALIASES.items():
            if field in ("ts", "endpoint", "http_status") or draw(st.booleans()):
                key = draw(st.sampled_from(keys))
                good = good_values.get(field, st.text(min_size=1, max_size=12))
                if field not in ("ts", "endpoint"):
                    good = st.one_of(good, good, good, st.sampled_from(BLANKS))
                event[key] = draw(good)
        for key in draw(st.lists(plain_names, max_size=2)):
            event.setdefault(key, draw(plain_value))
        every_key = [key for keys in ALIASES.values() for key in keys]
        for _ in range(draw(st.integers(0, 3))):
            key = draw(st.one_of(st.sampled_from(every_key), names))
            event[key] = draw(st.one_of(scalar, json_value, *field_values.values()))
        return event
    for field, keys in ALIASES.items():
        for key in draw(st.lists(st.sampled_from(keys), max_size=2, unique=True)):
            strategy = field_values.get(field, text_value)
            event[key] = draw(st.one_of(strategy, scalar) if draw(st.booleans()) else strategy)
    for key in draw(st.lists(names, max_size=3)):
        event[key] = draw(json_value)
    return event


def outcome(read, event: dict) -> tuple:
    try:
        clean = read(event)
    except InvalidEvent as invalid:
        return ("invalid", invalid.errors)
    return ("clean", clean, clean.request_json, clean.response_json, clean.extra_json)


def fast(event: dict) -> tuple:
    """`clean_event`, its plain reader compiled for the event's shape beforehand (it is only
    compiled the second time a shape is seen), so that it reads every plain event."""
    events._plan(tuple(event), eager=True)
    return outcome(
        lambda e: events.clean_event(e, now=NOW, catalog=CATALOG, horizon=HORIZON), event
    )


def careful(event: dict) -> tuple:
    return outcome(
        lambda e: events._clean_carefully(
            e, now=NOW, horizon=HORIZON, catalog=CATALOG, default_timestamp=None, context=None
        ),
        event,
    )


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_events())
def test_the_plain_reader_and_the_careful_reader_agree(event):
    assert fast(event) == careful(event)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_events())
def test_they_agree_on_what_json_decoding_gives_too(event):
    """The doors hand over orjson's values (no tuples, no NaN): the same agreement on those."""
    try:
        decoded = orjson.loads(orjson.dumps(event))
    except (orjson.JSONEncodeError, TypeError):
        return
    assert fast(decoded) == careful(decoded)


def demo_event(**changes) -> dict:
    event = {
        "timestamp": (NOW - timedelta(hours=1)).isoformat(),
        "url": "https://api.clickpost.ai/api/v2/track-order/?username=shop&key=demo-key",
        "http_status": 200,
        "response": {"meta": {"status": 200, "success": True, "message": "SUCCESS"}},
        "request": {"waybill": "006000107922", "reference_number": "ORD-1", "cp_id": 6},
        "cp_id": 6,
        "courier": "Xpressbees",
        "waybill": "006000107922",
        "order_id": "ORD-1",
        "account_code": "shop",
        "latency_ms": 541.0,
        "level": "info",
    }
    return {**event, **changes}


def plain(event: dict) -> CleanEvent | None:
    return events._plain_event(event, now=NOW, horizon=HORIZON, catalog=CATALOG)


def test_every_demo_event_takes_the_plain_path_and_equals_the_careful_one():
    """The demo's traffic is the shape shippers send: none of it needs the careful reader."""
    traffic = DemoTraffic(now=NOW, days=1, per_day=2000, seed=3)
    for k in range(600):
        event = orjson.loads(json.dumps(traffic.record(NOW - timedelta(minutes=k))))
        clean = plain(event)
        assert clean is not None, event
        assert (
            "clean",
            clean,
            clean.request_json,
            clean.response_json,
            clean.extra_json,
        ) == careful(event)


def test_the_usual_event_takes_the_plain_path_and_equals_the_careful_one():
    event = json.loads(json.dumps(demo_event()))
    clean = plain(event)
    assert clean is not None
    assert ("clean", clean, clean.request_json, clean.response_json, clean.extra_json) == careful(
        event
    )
    assert clean.endpoint == "tracking_status"


@pytest.mark.parametrize(
    "changes",
    [
        {"request": {"api_key": "abc"}},
        {"response": {"headers": [{"name": "Authorization", "value": "x"}]}},
        {"request": "user=1&password=abc"},
        {"extra_token": "abc"},
        {"request": {"body": '{"token": "abc"}'}},
        {"courier": "a\x00b"},
        {"timestamp": ""},
        {"url": None},
        {"awb": "W1"},
        {"request": nested(40)},
        {"request": {"a": "b\x00"}},
    ],
)
def test_anything_redaction_or_a_rule_might_change_goes_to_the_careful_reader(changes):
    event = demo_event(**changes)
    assert plain(event) is None
    assert fast(event) == careful(event)


@pytest.mark.parametrize(
    "changes",
    [
        {"request": None},
        {"response": None},
        {"request": "  "},
        {"courier": ""},
        {"order_id": " "},
        {"account_code": None},
        {"cp_id": ""},
        {"latency_ms": None},
        {"event_id": ""},
        {"message": ""},
        {"message": None},
        {"code": "\t", "http_status": 200},
    ],
)
def test_a_null_or_blank_optional_field_is_absent_for_both_readers(changes):
    """Shippers' templates send "" for a value they lack: the plain reader takes it too."""
    event = demo_event(**changes)
    clean = plain(event)
    assert clean is not None
    assert fast(event) == careful(event)
    assert ("clean", clean, clean.request_json, clean.response_json, clean.extra_json) == careful(
        event
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"request": {"note": "monkey business"}},
        {"response": {"tokenized": True, "meta": {"status": 200}}},
        {"region": "\u212a"},
    ],
)
def test_a_secret_names_part_outside_a_secret_name_stays_plain(changes):
    event = demo_event(**changes)
    clean = plain(event)
    assert clean is not None
    assert ("clean", clean, clean.request_json, clean.response_json, clean.extra_json) == careful(
        event
    )


def test_a_secret_name_spelled_with_a_kelvin_sign_is_redacted():
    event = demo_event(request={"\u212aey": "abc"})
    assert plain(event) is None
    assert fast(event)[1].request == {"\u212aey": "[REDACTED]"}


# --- the content key: the stored keys must not change ---

FIXED_NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (
            {
                "timestamp": "2026-03-02T10:00:00.123+00:00",
                "url": "https://api.clickpost.ai/api/v2/track-order/?username=shop&key=demo-key",
                "http_status": 200,
                "response": {"meta": {"status": 200, "success": True, "message": "SUCCESS"}},
                "request": {"waybill": "006000107922", "reference_number": "ORD-1", "cp_id": 6},
                "cp_id": 6,
                "courier": "Xpressbees",
                "waybill": "006000107922",
                "order_id": "ORD-1",
                "account_code": "shop",
                "latency_ms": 541.0,
                "level": "info",
            },
            "h2:fd0a964dae62bb2b961895f9db79c8b1",
        ),
        (
            {
                "timestamp": "2026-03-02T10:00:00Z",
                "endpoint": "order_create",
                "http_status": 200,
                "response": {"meta": {"status": 319, "message": {"non_field_errors": ["bad"]}}},
                "latency_ms": 12,
                "region": "\u00e9",
            },
            "h2:c58582ba89df0d82e954e48b1d66eb23",
        ),
        (
            {
                "@timestamp": 1772445600,
                "api": "custom/thing?token=x",
                "code": 503,
                "message": "Bearer abcdefgh123 failed",
                "request": {"api_key": "k", "n": 2**70},
            },
            "h2:93f3f115a085e6776da4e472cd22dda8",
        ),
    ],
)
def test_an_event_keeps_the_key_it_was_stored_under(raw, key):
    """Keys computed by the code before the plain reader's rewrite (commit 374535b)."""
    clean = events.clean_event(
        raw, now=FIXED_NOW, catalog=CATALOG, horizon=FIXED_NOW - timedelta(days=90)
    )
    assert clean.event_key == key


def second_key_version(clean: CleanEvent) -> str:
    """The "h2:" key as events.py's docstring defines it, written out apart from events.py."""
    content = {
        "ts": clean.ts.isoformat(),
        "endpoint": clean.endpoint,
        "http_status": clean.http_status,
        "code": clean.code,
        "cp_id": clean.cp_id,
        "courier": clean.courier,
        "waybill": clean.waybill,
        "order_id": clean.order_id,
        "account_code": clean.account_code,
        "message": clean.message,
        "latency_ms": clean.latency_ms,
        "request": clean.request,
        "response": clean.response,
        "extra": clean.extra,
    }
    try:
        canonical = orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        canonical = text.encode()
    return "h2:" + hashlib.sha256(canonical).hexdigest()[:32]


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_events())
def test_every_content_key_is_the_second_version(event):
    outcome = fast(event)
    if outcome[0] == "clean" and not outcome[1].event_key.startswith("id:"):
        assert outcome[1].event_key == second_key_version(outcome[1])


@settings(max_examples=2000, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    )
)
def test_orjson_writes_a_utc_time_as_its_isoformat(moment):
    """The content key lets orjson write the time: it must be the `isoformat()` of before."""
    assert orjson.dumps(moment) == b'"' + moment.isoformat().encode() + b'"'


def test_a_shape_is_read_carefully_the_first_time_and_plainly_from_the_second():
    """A plain reader is compiled (a millisecond and more) only for a shape seen twice, so a
    shipper whose events all differ in shape pays no compile; both readings are the same."""
    event = demo_event(**{"status_code": 201}, http_status=None)
    del event["http_status"]
    event = {"awb": event.pop("waybill"), **event}  # a shape no other test has
    keys = tuple(event)
    events._PLANS.pop(keys, None)
    events._READERS.clear()
    events._SEEN_ONCE.clear()
    careful_reading = outcome(
        lambda e: events.clean_event(e, now=NOW, catalog=CATALOG, horizon=HORIZON), event
    )
    assert events._plan(keys) is not None  # the second look compiles it
    assert careful_reading == fast(event) == careful(event)


def test_events_differing_only_in_their_extra_keys_or_key_order_share_one_reader():
    first = demo_event()
    second = {**dict(reversed(list(demo_event().items()))), "host": "a", "region": "b"}
    events._PLANS.clear()
    events._READERS.clear()
    read_first, extra_first = events._plan(tuple(first), eager=True)
    read_second, extra_second = events._plan(tuple(second), eager=True)
    assert read_first is read_second
    assert (extra_first, extra_second) == (("level",), ("level", "host", "region"))
    assert fast(second) == careful(second)
    assert list(plain(second).extra.items()) == [("level", "info"), ("host", "a"), ("region", "b")]


def test_past_the_readers_limit_a_new_shape_is_read_carefully(monkeypatch):
    monkeypatch.setattr(events, "_READERS_MAX", 0)
    monkeypatch.setattr(events, "_READERS", {})
    monkeypatch.setattr(events, "_PLANS", {})
    event = {"@timestamp": NOW.isoformat(), "api": "order_create", "status_code": 503}
    for _ in range(3):
        assert events._plan(tuple(event)) is None
    reading = outcome(
        lambda e: events.clean_event(e, now=NOW, catalog=CATALOG, horizon=HORIZON), event
    )
    assert reading == careful(event)
    assert reading[0] == "clean"
