"""One raw event (whatever JSON value a shipper sent) -> a clean, tagged, redacted event.

Pure Python on purpose: the web process checks a whole batch before `store.py` opens its
transaction, and these rules are tested without a database. The catalog is passed in.

The rules live in four modules: this one reads and checks the fields; `times.py` reads a time,
`redaction.py` takes secrets out, `storable.py` says what PostgreSQL cannot store.

Decisions a caller should know:
- A naive RFC 3339 time is taken as UTC (times.py).
- Errors are keyed by the field name the shipper sent (`@timestamp`, `awb`), or by the canonical
  name when the field is missing, so a 400 points at the line to fix in their config.
- Secrets are redacted before anything is hashed or stored; a redacted value is "[REDACTED]"
  (null and "" are kept: they hide nothing and show that the key was missing).
- `request`, `response` and `extra` (the unknown fields together) are each capped at 16 KB of
  compact JSON: past that, the value is kept as {"truncated": true, "text": <its first 16 KB>}
  (see `_capped`), so the event is stored and the overflow shows, rather than rejected.
- `event_key` leaves out `category` and `is_error`: they follow from the catalog, which operators
  edit, and a shipper's retry after an edit must still be a duplicate. A content key is "h2:"
  (orjson's sorted-key JSON, a tenth of the time of the first version); an event at a time
  when the first version ("h:", json's) may have stored it also carries that key
  (`legacy_key`), and the store counts a match on either as a duplicate.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import orjson

from ingest.catalog import CodeInfo, clickpost_code, tag
from ingest.redaction import CACHED_CHARS, is_secret_name, redact, redact_text, redacted
from ingest.storable import MAX_DEPTH, Refused, json_problem, key_problem, text_problem
from ingest.times import MAX_FUTURE, to_time, usual_time

BODY_MAX_BYTES = 16384
_SURELY_UNDER_CAP = BODY_MAX_BYTES // 4  # characters: under the cap even at 4 bytes each
MESSAGE_MAX_CHARS = 2000
ENDPOINT_MAX_CHARS = 200
TEXT_MAX_CHARS = 100
EVENT_ID_MAX_CHARS = 128
LATENCY_MAX_MS = 1e9
INT32_MAX = 2**31 - 1
STATUS_REQUIRED = "required unless code or response.meta.status is given"

_TIME_KEYS = ("timestamp", "@timestamp", "time", "date")
_ENDPOINT_KEYS = ("endpoint", "api", "path", "url")
_HTTP_STATUS_KEYS = ("http_status", "status_code")
_WAYBILL_KEYS = ("waybill", "awb")
_ORDER_ID_KEYS = ("order_id", "reference_number")

# SPEC endpoint table, as the part of the path after /api/vN/ (any N), lower case, no slashes.
_ENDPOINT_PATHS: dict[str, tuple[str, ...]] = {
    "order_create": ("create-order", "create-b2b-order"),
    "order_edit": ("edit-order",),
    "tracking_register": ("tracking/awb-register",),
    "tracking_unregister": ("tracking/awb-unregister",),
    "tracking_status": ("track-order", "updated-order"),
    "order_cancel": ("cancel-order",),
    "webhook_register": ("tracking/register-webhook",),
    "recommendation": ("recommendation_api", "recommendation"),
    "serviceability": ("serviceability_api",),
    "edd": ("predicted_sla_api", "global_edd"),
    "ndr": ("ndr-update-api", "ndr/update"),
    "pickup": ("create-pickup",),
    "label": ("fetch/shippinglabel",),
}
ENDPOINT_NAMES: tuple[str, ...] = tuple(_ENDPOINT_PATHS)
_NAME_BY_PATH = {path: name for name, paths in _ENDPOINT_PATHS.items() for path in paths}
_VERSIONED_PATH = re.compile(r"(?:^|/)api/v[0-9]+/+(.*)$", re.IGNORECASE)

_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# Built once: json.dumps with options builds a new encoder on every call.
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
# The content hash's JSON: sorted keys and ASCII only, so one event always hashes the same.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True)
_CANONICAL_TEXT = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# Not frozen: a frozen dataclass sets each of its 21 fields through object.__setattr__, which
# made building one several times dearer than reading the event. Nothing changes one after.
@dataclass(slots=True)
class CleanEvent:
    ts: datetime
    endpoint: str
    http_status: int | None
    code: int
    category: str
    is_error: bool
    cp_id: int | None
    courier: str
    waybill: str
    order_id: str
    account_code: str
    message: str
    latency_ms: float | None
    request: Any | None
    response: Any | None
    extra: dict
    event_key: str
    # The compact JSON text of `request`, `response` and `extra` that store.py writes, made once
    # here (capping needs it anyway); None for an event built by hand: the store serializes then.
    request_json: str | None = field(default=None, compare=False, repr=False)
    response_json: str | None = field(default=None, compare=False, repr=False)
    extra_json: str | None = field(default=None, compare=False, repr=False)
    # The first version's content key, for an event old enough that it may be stored under it.
    legacy_key: str | None = field(default=None, compare=False, repr=False)


class InvalidEvent(Exception):
    """An event that cannot be stored, with every reason per field: {"timestamp": ["required"]}."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


def clean_event(
    raw: Any,
    *,
    now: datetime,
    catalog: Mapping[int, CodeInfo],
    default_timestamp: datetime | None = None,
    context: Mapping[str, Any] | None = None,
    horizon: datetime | None = None,
    legacy_before: datetime | None = None,
) -> CleanEvent:
    """The clean, tagged, redacted event, or InvalidEvent listing every bad field.

    `now` (aware) bounds the future and `horizon` the past (default: RETENTION_DAYS before
    `now`); `default_timestamp` stands in when the event has no time (protocol doors pass the
    log record's own time); `context` (Loki labels, OTLP attributes) is merged into `extra`,
    where the event's own keys win; an event before `legacy_before` (when the store may hold
    events under the first key version) also gets that version's key (`legacy_key`).
    """
    event = _as_object(raw)
    oldest = horizon or retention_horizon(now)
    if default_timestamp is None and not context:
        plan = _plan(tuple(event))  # `_plain_event`, a call less: it runs for every event
        if plan is not None:
            fast = plan[0](event, plan[1], now, oldest, catalog, legacy_before)
            if fast is not None:
                return fast
    return _clean_carefully(
        event,
        now=now,
        horizon=oldest,
        catalog=catalog,
        default_timestamp=default_timestamp,
        context=context,
        legacy_before=legacy_before,
    )


def _clean_carefully(
    event: dict,
    *,
    now: datetime,
    horizon: datetime,
    catalog: Mapping[int, CodeInfo],
    default_timestamp: datetime | None,
    context: Mapping[str, Any] | None,
    legacy_before: datetime | None = None,
) -> CleanEvent:
    """Every rule, field by field: what `clean_event` does for any event `_plain_event` does
    not take, and what it must equal for those it does (tests/ingest/test_plain_events.py)."""
    reader = _Reader(event)
    oldest = horizon
    fields = _read_fields(reader, now=now, horizon=oldest, default_timestamp=default_timestamp)
    fields["extra"] = reader.extra(context or {})
    code = _choose_code(reader, event, fields)
    if reader.errors or code is None:  # no code: _choose_code filed why
        raise InvalidEvent(reader.errors)
    return _build(fields, code=code, catalog=catalog, legacy_before=legacy_before)


# --- the plain event: most events, read without the careful walk ---

# Each key a plain event may name its fields by -> the field (`_read_fields`' aliases).
_FIELD_OF_KEY: dict[str, str] = {
    **dict.fromkeys(_TIME_KEYS, "ts"),
    **dict.fromkeys(_ENDPOINT_KEYS, "endpoint"),
    **dict.fromkeys(_HTTP_STATUS_KEYS, "http_status"),
    "code": "raw_code",
    "cp_id": "cp_id",
    "courier": "courier",
    **dict.fromkeys(_WAYBILL_KEYS, "waybill"),
    **dict.fromkeys(_ORDER_ID_KEYS, "order_id"),
    "account_code": "account_code",
    "latency_ms": "latency_ms",
    "event_id": "event_id",
    "message": "message",
    "request": "request",
    "response": "response",
}
_PLAIN_DEFAULTS: dict[str, Any] = {
    "ts": None,
    "endpoint": None,
    "http_status": None,
    "raw_code": None,
    "cp_id": None,
    "courier": "",
    "waybill": "",
    "order_id": "",
    "account_code": "",
    "latency_ms": None,
    "event_id": None,
    "message": "",
    "request": None,
    "response": None,
}
# orjson serializes these natively; a JSON value never holds one, so each sends the event to
# the careful reader (which names it "not a JSON value").
_STRICT_JSON = (
    orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)
# In a compact JSON text holding no escaped quote: every string, and every key (a string that
# a colon follows: a value is followed by a comma or a bracket).
_QUOTED = re.compile(r'"([^"]*)"')
_KEY = re.compile(r'"([^"]*)":')


# A plain reader: `_plain_event` for events whose fields one `_Shape` describes, given the
# event, the keys of its `extra` and the batch's bounds.
_PlainReader = Callable[
    [dict, tuple, datetime, datetime, Mapping[int, CodeInfo], "datetime | None"],
    "CleanEvent | None",
]


@dataclass(frozen=True, slots=True)
class _Shape:
    """Where the fields are: the key naming the time, the (field, key) of each other field
    given but `request` and `response`, by field name, their keys (None: not given), and whether
    any key is left for `extra`. Events with other keys for `extra`, or the same keys in another
    order, have the same shape (every step is checked on its own, so order does not matter)."""

    time_key: str
    scalars: tuple[tuple[str, str], ...]
    request_key: str | None
    response_key: str | None
    has_extra: bool


# Events of one shipper repeat the same few tuples of keys: each one's reader and `extra` keys
# are kept (per process, bounded), so an event's keys are not each looked up and counted again.
_PLANS: dict[tuple, tuple[_PlainReader, tuple[str, ...]] | None] = {}
_PLANS_MAX = 4096
# A shape's reader is compiled the second time the shape is seen (a compile costs a millisecond
# and a half: a shape seen once is read carefully, so a shipper whose every event differs pays
# none), for at most _READERS_MAX shapes a process (a shipper has a few; past that, a process
# reads new shapes carefully rather than spend memory and compiles on them).
_READERS: dict[_Shape, _PlainReader] = {}
_READERS_MAX = 256
_SEEN_ONCE: set[_Shape] = set()


def _plan(keys: tuple, *, eager: bool = False) -> tuple[_PlainReader, tuple[str, ...]] | None:
    """The plain reader for events with these keys and their keys for `extra`; None when a
    field is named twice, the time or the endpoint is not named, or a key is not a string (the
    careful reader's cases), and the first time their shape is seen, unless `eager`."""
    plan = _PLANS.get(keys, _Shape)  # the class itself: not made yet
    if plan is not _Shape:
        return plan  # type: ignore[return-value]
    named = [(_FIELD_OF_KEY.get(key), key) for key in keys]
    key_of = {name: key for name, key in named if name is not None}
    given = [name for name, _ in named if name is not None]
    made = None
    if (
        len(key_of) == len(given)
        and "ts" in key_of
        and "endpoint" in key_of
        and all(key.__class__ is str for key in keys)
    ):
        extra_keys = tuple(key for name, key in named if name is None)
        shape = _Shape(
            time_key=key_of["ts"],
            scalars=tuple(
                sorted(
                    (name, key)
                    for name, key in key_of.items()
                    if name not in ("ts", "request", "response")
                )
            ),
            request_key=key_of.get("request"),
            response_key=key_of.get("response"),
            has_extra=bool(extra_keys),
        )
        reader = _READERS.get(shape)
        if reader is None:
            if not eager and (shape not in _SEEN_ONCE or len(_READERS) >= _READERS_MAX):
                if len(_SEEN_ONCE) >= _PLANS_MAX:
                    _SEEN_ONCE.clear()
                _SEEN_ONCE.add(shape)
                return None  # not kept in _PLANS: asked again, the shape may be compiled
            reader = _compile(shape)
            if len(_READERS) < _READERS_MAX:
                _READERS[shape] = reader
        made = (reader, extra_keys)
    if len(_PLANS) >= _PLANS_MAX:
        _PLANS.clear()
    _PLANS[keys] = made
    return made


def _plain_event(
    event: dict,
    *,
    now: datetime,
    horizon: datetime,
    catalog: Mapping[int, CodeInfo],
    legacy_before: datetime | None = None,
) -> CleanEvent | None:
    """The clean event, when `event` is plain: each field named once, valid, and nothing for
    redaction to change (proved from the compact JSON text, which the store needs anyway);
    None for anything else (an alias twice, a bad value, a possible secret, NUL, deep nesting,
    a value JSON has no form for), which `_clean_carefully` then reads. It never refuses an
    event: every error comes from the careful reader, in its words. (`clean_event` takes this
    path from the second event of a shape on; this reads the first one too.)"""
    plan = _plan(tuple(event), eager=True)
    if plan is None:
        return None
    read, extra_keys = plan
    return read(event, extra_keys, now, horizon, catalog, legacy_before)


# --- the plain reader of one shape, written out as Python source and compiled ---
#
# Read field by field through a table of readers, a plain event cost a call, a dict store and a
# loop step per field, then `_build`'s dict juggling: most of the event's time. A shape's reader
# is that same sequence written out for its fields only: each field's usual type (an int in
# range, ASCII text, a float) is checked inline, and anything else goes to the field's reader in
# `_PLAIN_READERS`, so the rules stay those readers' (and `_build`'s: `_finish`). Keys enter the
# source only through repr() of a str, never as code.

_NO_EVENT = "        return None"
# Null and blank text (`_absent`) leave an optional field at its default, as the careful reader
# does (syslog-ng and rsyslog templates send "" for a value they lack).
_ABSENT = "v is None or (v.__class__ is str and not v.strip())"
_SCALAR_SOURCE = {
    "int": """\
    v = event[{key}]
    if v.__class__ is int and {low} <= v <= {high}:
        {name} = v
    elif """
    + _ABSENT
    + """:
        {name} = None
    elif ({name} := _reader_{name}(v)) is None:
        return None
""",
    "text": """\
    v = event[{key}]
    if v.__class__ is str and v.isascii():
        {name} = v.strip()
        if not {name}:
            {name} = {default!r}
        elif len({name}) > {limit} or "\\x00" in v:
            return None
    elif """
    + _ABSENT
    + """:
        {name} = {default!r}
    elif ({name} := _reader_{name}(v)) is None:
        return None
""",
    "endpoint": """\
    v = event[{key}]
    if v.__class__ is str and v.isascii() and len(v) <= CACHED_CHARS:
        if "\\x00" in v or not v.strip():
            return None
        endpoint = _cached_endpoint_name(v)
    elif v is None or (endpoint := _reader_endpoint(v)) is None:
        return None
""",
    "latency": """\
    v = event[{key}]
    if v.__class__ is float and 0 <= v <= LATENCY_MAX_MS:
        latency_ms = v
    elif """
    + _ABSENT
    + """:
        latency_ms = None
    elif (latency_ms := _reader_latency_ms(v)) is None:
        return None
""",
    "message": """\
    v = event[{key}]
    if v.__class__ is str and v.isascii():
        if "\\x00" in v:
            return None
        message = v if v.strip() else ""
    elif """
    + _ABSENT
    + """:
        message = ""
    elif (message := _reader_message(v)) is None:
        return None
""",
}
_SCALAR_KIND = {
    "endpoint": ("endpoint", {}),
    "http_status": ("int", {"low": 100, "high": 599}),
    "raw_code": ("int", {"low": 0, "high": INT32_MAX}),
    "cp_id": ("int", {"low": 0, "high": INT32_MAX}),
    "courier": ("text", {"limit": TEXT_MAX_CHARS}),
    "waybill": ("text", {"limit": TEXT_MAX_CHARS}),
    "order_id": ("text", {"limit": TEXT_MAX_CHARS}),
    "account_code": ("text", {"limit": TEXT_MAX_CHARS}),
    "latency_ms": ("latency", {}),
    "event_id": ("text", {"limit": EVENT_ID_MAX_CHARS}),
    "message": ("message", {}),
}
_JSON_SOURCE = """\
    {name} = event[{key}]
    if {name} is None or ({name}.__class__ is str and not {name}.strip()):
        {name} = {name}_json = None
    else:
        {name}_json = _json_text({name})
        if {name}_json is None:
            return None
"""


def _compile(shape: _Shape) -> _PlainReader:
    """The plain reader of events of this shape: what reading them through
    `_PLAIN_READERS` and `_build` gives (tests/ingest/test_plain_events.py), field by field."""
    given = {name for name, _ in shape.scalars}
    lines = [
        "def read(event, extra_keys, now, horizon, catalog, legacy_before):",
        f"    v = event[{shape.time_key!r}]",
        "    ts = usual_time(v) if v.__class__ is str else None",
        "    if ts is None or not horizon <= ts <= now + MAX_FUTURE:",
        "        ts = _read_time(v, now=now, horizon=horizon)",
        "        if ts is None:",
        "    " + _NO_EVENT,
    ]
    for name, key in shape.scalars:
        kind, limits = _SCALAR_KIND[name]
        source = _SCALAR_SOURCE[kind]
        default = _PLAIN_DEFAULTS[name]
        lines.append(source.format(name=name, key=repr(key), default=default, **limits))
    for name, json_key in (("request", shape.request_key), ("response", shape.response_key)):
        if json_key is None:
            lines.append(f"    {name} = {name}_json = None")
        else:
            lines.append(_JSON_SOURCE.format(name=name, key=repr(json_key)))
    if shape.has_extra:
        lines += [
            "    extra = {key: event[key] for key in extra_keys}",
            "    extra_json = _json_text(extra)",
            "    if extra_json is None:",
            _NO_EVENT,
        ]
    else:
        lines.append('    extra, extra_json = {}, "{}"')
    lines += [
        "    joined = f\"{extra_json}\\n{request_json or ''}\\n{response_json or ''}\"",
        # One look at the joined texts for what only the walk can tell (a NaN or deep nesting).
        "    if _maybe_unstorable(joined) and _unstorable(request, response, extra):",
        _NO_EVENT,
        "    if not _redaction_free(joined):",
        _NO_EVENT,
    ]
    for name in _SCALAR_KIND:
        if name not in given:
            lines.append(f"    {name} = {_PLAIN_DEFAULTS[name]!r}")
    lines.append(
        "    return _finish(ts, endpoint, http_status, raw_code, cp_id, courier, waybill,"
        " order_id, account_code, latency_ms, event_id, message, request, response, extra,"
        " request_json, response_json, extra_json, catalog, legacy_before)"
    )
    namespace: dict[str, Any] = {
        "usual_time": usual_time,
        "MAX_FUTURE": MAX_FUTURE,
        "CACHED_CHARS": CACHED_CHARS,
        "LATENCY_MAX_MS": LATENCY_MAX_MS,
        "_read_time": _read_time,
        "_cached_endpoint_name": _cached_endpoint_name,
        "_json_text": _json_text,
        "_maybe_unstorable": _maybe_unstorable,
        "_unstorable": _unstorable,
        "_redaction_free": _redaction_free,
        "_finish": _finish,
        **{f"_reader_{name}": read for name, read in _PLAIN_READERS.items()},
    }
    exec("\n".join(lines), namespace)  # noqa: S102 - our own source; keys only as repr(str)
    return namespace["read"]


def _finish(
    ts: datetime,
    endpoint: str,
    http_status: int | None,
    raw_code: int | None,
    cp_id: int | None,
    courier: str,
    waybill: str,
    order_id: str,
    account_code: str,
    latency_ms: float | None,
    event_id: str | None,
    message: str,
    request: Any,
    response: Any,
    extra: dict,
    request_json: str | None,
    response_json: str | None,
    extra_json: str,
    catalog: Mapping[int, CodeInfo],
    legacy_before: datetime | None,
) -> CleanEvent | None:
    """`_build` of a plain event's checked fields, with `_choose_code`'s code (None: no code,
    the careful reader's case); the same steps, without a dict of fields to pass them in."""
    meta = _NO_META if response is None or (raw_code is not None and message) else _meta(response)
    code = clickpost_code(
        code=raw_code,
        meta_status=None if raw_code is not None else _meta_status(meta),
        http_status=http_status,
    )
    if code is None:
        return None
    message = _plain_message(message or _meta_message(meta))
    if request_json is not None and len(request_json) > _SURELY_UNDER_CAP:
        request, request_json = _capped(request, request_json)
    if response_json is not None and len(response_json) > _SURELY_UNDER_CAP:
        response, response_json = _capped(response, response_json)
    if len(extra_json) > _SURELY_UNDER_CAP:
        extra, extra_json = _capped(extra, extra_json)  # type: ignore[assignment]
    legacy_key = None
    if event_id:
        event_key = "id:" + event_id
    else:
        fields = {
            "ts": ts,
            "endpoint": endpoint,
            "http_status": http_status,
            "cp_id": cp_id,
            "courier": courier,
            "waybill": waybill,
            "order_id": order_id,
            "account_code": account_code,
            "latency_ms": latency_ms,
            "message": message,
            "request": request,
            "response": response,
            "extra": extra,
            "code": code,
        }
        event_key = _content_key(fields)
        if legacy_before is not None and ts < legacy_before:
            legacy_key = _legacy_content_key(fields)
    found = tag(code=code, http_status=http_status, endpoint=endpoint, catalog=catalog)
    return CleanEvent(
        ts,
        endpoint,
        http_status,
        code,
        found.category,
        found.is_error,
        cp_id,
        courier,
        waybill,
        order_id,
        account_code,
        message,
        latency_ms,
        request,
        response,
        extra,
        event_key,
        request_json,
        response_json,
        extra_json,
        legacy_key,
    )


_NO_META: dict = {}


def _redacted_message(message: str) -> str:
    """The message as stored: stripped, redacted, cut to MESSAGE_MAX_CHARS."""
    return redact_text(message.strip())[:MESSAGE_MAX_CHARS]


_cached_redacted_message = lru_cache(maxsize=1024)(_redacted_message)


def _plain_message(message: str) -> str:
    """`_redacted_message`, kept for short messages (a shipper repeats a few)."""
    if len(message) <= CACHED_CHARS:
        return _cached_redacted_message(message)
    return _redacted_message(message)


# Each reader returns what the careful reader makes of a field's (non-null) value, or None
# when it would file an error or would change the value (then it is the careful reader's).
# A string is refused when blank (absent) or when storable.text_problem refuses it (NUL, lone
# surrogates): that check is written out in each reader, a call being dearer than the check.


def _plain_text(value: str) -> str | None:
    """`value` stripped, unless the careful reader would refuse it or take it as absent."""
    text = value.strip()
    if not text or "\x00" in value or (not value.isascii() and text_problem(value)):
        return None
    return text


def _checked(value: Any, parse: Callable[[Any], Any]) -> Any:
    """`parse(value)`, when the careful reader would hand `value` to it and it accepts it."""
    if value.__class__ is str:
        if _plain_text(value) is None:
            return None
    elif json_problem(value, depth=1):
        return None
    try:
        return parse(value)
    except Refused:
        return None


def _read_time(value: Any, *, now: datetime, horizon: datetime) -> datetime | None:
    if value.__class__ is str:  # the usual shape proves the text plain: no blank, NUL, surrogate
        usual = usual_time(value)
        if usual is not None and horizon <= usual <= now + MAX_FUTURE:
            return usual
    return _checked(value, lambda v: to_time(v, now=now, horizon=horizon))


def _int_reader(low: int, high: int) -> Callable[[Any], int | None]:
    def read(value: Any) -> int | None:
        if value.__class__ is int:  # the usual case, without the calls (not a bool)
            return value if low <= value <= high else None
        return _checked(value, lambda v: _to_int(v, low, high))

    return read


def _text_reader(limit: int) -> Callable[[Any], str | None]:
    def read(value: Any) -> str | None:
        if value.__class__ is not str:
            return _checked(value, lambda v: _to_text(v, limit))
        text = value.strip()  # `_to_text` of a string, and `_plain_text`, without the calls
        if not text or len(text) > limit or "\x00" in value:
            return None
        return text if value.isascii() or not text_problem(value) else None

    return read


def _read_latency(value: Any) -> float | None:
    if value.__class__ is float:  # NaN fails both comparisons
        return value if 0 <= value <= LATENCY_MAX_MS else None
    return _checked(value, _to_latency)


def _read_endpoint(value: Any) -> str | None:
    if value.__class__ is not str or "\x00" in value or not value.strip():
        return None
    if not value.isascii() and text_problem(value):
        return None
    return endpoint_name(value)


def _read_message(value: Any) -> str | None:
    """A string as sent (`_build` strips it); anything else is the careful reader's."""
    if value.__class__ is not str or "\x00" in value or not value.strip():
        return None
    return value if value.isascii() or not text_problem(value) else None


_PLAIN_READERS: dict[str, Callable[[Any], Any]] = {
    "endpoint": _read_endpoint,
    "http_status": _int_reader(100, 599),
    "raw_code": _int_reader(0, INT32_MAX),
    "cp_id": _int_reader(0, INT32_MAX),
    "courier": _text_reader(TEXT_MAX_CHARS),
    "waybill": _text_reader(TEXT_MAX_CHARS),
    "order_id": _text_reader(TEXT_MAX_CHARS),
    "account_code": _text_reader(TEXT_MAX_CHARS),
    "latency_ms": _read_latency,
    "event_id": _text_reader(EVENT_ID_MAX_CHARS),
    "message": _read_message,
}


def _json_text(value: Any) -> str | None:
    """The compact JSON text of `value`, or None where orjson refuses it (lone surrogates,
    integers past 64 bits, what is not JSON). PostgreSQL may still refuse the text: orjson
    writes NaN and Infinity as null and nests 254 levels (`_maybe_unstorable`)."""
    try:
        return orjson.dumps(value, option=_STRICT_JSON).decode()
    except (orjson.JSONEncodeError, TypeError):
        return None


def _maybe_unstorable(text: str) -> bool:
    """Whether JSON texts (`_json_text`'s, or several joined) may hold NaN or Infinity, or
    nest too deeply (that needs as many brackets); when not, none of their values has a
    problem for `json_problem` but NUL, which `_redaction_free` refuses."""
    return "null" in text or text.count("{") + text.count("[") >= MAX_DEPTH - 1


def _unstorable(*values: Any) -> bool:
    """Whether `json_problem` finds a problem in any of `values` (fields: depth 1)."""
    return any(json_problem(value, depth=1) for value in values)


def _redaction_free(text: str) -> bool:
    """Whether redaction would change nothing in the JSON texts `text` joins (by newlines,
    which no compact JSON text holds unescaped).

    Redaction only changes a value under a secret-looking name (a key, or the `name`/`key` of a
    {"name", "value"} pair), or text holding `=`, a quote or "bearer": with no `=`, no escaped
    quote and no "bearer" in the text, it is enough that no string in it is a secret name.
    """
    lowered = text.lower()
    if "=" in text or '\\"' in text or "\\u0000" in text or "earer" in lowered:
        return False
    # Every secret name, lower-cased, holds one of these, and orjson escapes no letter.
    if not (
        "key" in lowered
        or "token" in lowered
        or "secret" in lowered
        or "passw" in lowered
        or "pwd" in lowered
        or "authorization" in lowered
        or "cookie" in lowered
        or "credentials" in lowered
    ):
        return True
    # Only keys can be secret names, and the `name` of a {"name", "value"} pair ("key" is a
    # secret name itself): every string is looked at when there is a "name" key.
    strings = tuple(_QUOTED.findall(text) if '"name":' in text else _KEY.findall(text))
    secret = _NAMES_SECRET.get(strings)
    if secret is None:
        secret = _names_secret(strings)
    return not secret


# Events of one shipper repeat the same few sets of key names: the verdict on a set is kept
# (per process, bounded) instead of asking `is_secret_name` of each name of every event.
_NAMES_SECRET: dict[tuple[str, ...], bool] = {}
_NAMES_SECRET_MAX = 4096


def _names_secret(strings: tuple[str, ...]) -> bool:
    """Whether any of `strings` (JSON string bodies, escapes not undone) is a secret name."""
    secret = False
    for string in strings:
        if "\\" in string:
            string = orjson.loads(f'"{string}"')  # the name as sent, escapes undone
        if is_secret_name(string):
            secret = True
            break
    if len(_NAMES_SECRET) >= _NAMES_SECRET_MAX:
        _NAMES_SECRET.clear()
    _NAMES_SECRET[strings] = secret
    return secret


def endpoint_name(value: str) -> str:
    """The SPEC name of a name, path or URL (host, /api/vN/ version and query ignored).

    An unknown endpoint is kept, so it still shows on the dashboard, but with its query
    secrets redacted and cut to 200 characters.
    """
    if len(value) <= CACHED_CHARS:
        return _cached_endpoint_name(value)
    return _endpoint_name(value)


def _endpoint_name(value: str) -> str:
    text = value.strip()
    if text.lower() in _ENDPOINT_PATHS:
        return text.lower()
    name = _NAME_BY_PATH.get(_versionless_path(text))
    return name or redact_text(text)[:ENDPOINT_MAX_CHARS]


_cached_endpoint_name = lru_cache(maxsize=1024)(_endpoint_name)


class _Reader:
    """Takes fields out of one event and collects every field's errors."""

    def __init__(self, event: dict) -> None:
        self.rest = dict(event)
        self.errors: dict[str, list[str]] = {}

    def fail(self, key: str, reason: str) -> None:
        self.errors.setdefault(key, []).append(reason)

    def take(self, keys: tuple[str, ...]) -> tuple[str, Any]:
        """(key sent, value) of the first present alias (see _absent); every alias is consumed."""
        rest = self.rest
        found_key, found = keys[0], None
        for key in keys:
            value = rest.pop(key, None)
            if value is not None and found is None and not _absent(value):
                found_key, found = key, value
        return found_key, found

    def read(
        self,
        keys: tuple[str, ...],
        parse: Callable[[Any], Any],
        *,
        required: bool = False,
        default: Any = None,
    ) -> Any:
        """The parsed value of a field, or None when it is absent or bad (the error is filed)."""
        key, value = self.take(keys)
        if value is None:
            if default is None:
                if required:
                    self.fail(key, "required")
                return None
            value = default  # the door's own value (a datetime): not JSON to check
        else:
            problem = json_problem(value, depth=1)
            if problem:
                self.fail(key, problem)
                return None
        try:
            return parse(value)
        except Refused as bad:
            self.fail(key, str(bad))
            return None

    def read_json(self, key: str) -> Any:
        """A JSON field's redacted value, checked on the same walk; None when absent or bad."""
        key, value = self.take((key,))
        if value is None:
            return None
        try:
            return redacted(value, depth=1, check=True)
        except Refused:
            self.fail(key, json_problem(value, depth=1) or "is not a JSON value")
            return None

    def extra(self, context: Mapping[str, Any]) -> dict:
        """The fields nobody read, over `context`, checked and redacted."""
        merged = {**context, **self.rest}
        if len(merged) == len(context) + len(self.rest):  # no field is in both
            try:
                return redacted(merged, depth=0, check=True)
            except Refused:
                pass  # the loop below files each bad field's own reason
        kept: dict[str, Any] = {}
        for key, value in [*context.items(), *self.rest.items()]:
            name_problem = key_problem(key)
            if name_problem:
                self.fail("event", f"a field name {name_problem}")
                continue
            problem = json_problem(value, depth=1)
            if problem:
                self.fail(key, problem)
                continue
            kept[key] = value
        return redact(kept)


def _absent(value: Any) -> bool:
    """Null or blank text: syslog-ng and rsyslog templates send "" for a value they lack."""
    return value is None or (isinstance(value, str) and not value.strip())


def _as_object(raw: Any) -> dict:
    """The event as a dict; a framing error (duck-typed `Unparsable`) keeps its line number."""
    if isinstance(raw, dict):
        return raw
    if hasattr(raw, "line_no") and hasattr(raw, "message"):
        raise InvalidEvent({"event": [f"line {raw.line_no}: {raw.message}"]})
    raise InvalidEvent({"event": ["must be a JSON object"]})


def retention_horizon(now: datetime) -> datetime:
    """The oldest time an event may have: RETENTION_DAYS before `now` (older would be pruned)."""
    from django.conf import settings  # read at each call: tests change it

    return now - timedelta(days=settings.RETENTION_DAYS)


def _read_fields(
    reader: _Reader, *, now: datetime, horizon: datetime, default_timestamp: datetime | None
) -> dict[str, Any]:
    """Every known field, parsed; the unread rest stays in `reader.rest` for `extra`."""

    def text(limit: int) -> Callable[[Any], str]:
        return lambda value: _to_text(value, limit)

    return {
        "ts": reader.read(
            _TIME_KEYS,
            lambda v: to_time(v, now=now, horizon=horizon),
            required=True,
            default=default_timestamp,
        ),
        "endpoint": reader.read(_ENDPOINT_KEYS, _to_endpoint, required=True),
        "http_status": reader.read(_HTTP_STATUS_KEYS, lambda v: _to_int(v, 100, 599)),
        "raw_code": reader.read(("code",), lambda v: _to_int(v, 0, INT32_MAX)),
        "cp_id": reader.read(("cp_id",), lambda v: _to_int(v, 0, INT32_MAX)),
        "courier": reader.read(("courier",), text(TEXT_MAX_CHARS)) or "",
        "waybill": reader.read(_WAYBILL_KEYS, text(TEXT_MAX_CHARS)) or "",
        "order_id": reader.read(_ORDER_ID_KEYS, text(TEXT_MAX_CHARS)) or "",
        "account_code": reader.read(("account_code",), text(TEXT_MAX_CHARS)) or "",
        "latency_ms": reader.read(("latency_ms",), _to_latency),
        "event_id": reader.read(("event_id",), text(EVENT_ID_MAX_CHARS)),
        "message": reader.read(("message",), _message_text) or "",
        "request": reader.read_json("request"),
        "response": reader.read_json("response"),
    }


def _choose_code(reader: _Reader, event: dict, fields: dict[str, Any]) -> int | None:
    """SPEC rule 1, with response.meta.status as the fallback; files "required" when none."""
    meta = _meta(fields["response"])
    code = clickpost_code(
        code=fields["raw_code"],
        meta_status=_meta_status(meta),
        http_status=fields["http_status"],
    )
    if code is None and all(_absent(event.get(key)) for key in ("code", *_HTTP_STATUS_KEYS)):
        reader.fail("http_status", STATUS_REQUIRED)
    return code


def _build(
    fields: dict[str, Any],
    *,
    code: int,
    catalog: Mapping[int, CodeInfo],
    legacy_before: datetime | None = None,
    request_json: str | None = None,
    response_json: str | None = None,
    extra_json: str | None = None,
) -> CleanEvent:
    """The CleanEvent from checked fields: tag, message fallback, caps and the event key.
    `request_json`, `response_json`, `extra_json`: their compact JSON, where already made."""
    event_id = fields.pop("event_id")
    del fields["raw_code"]
    message = fields["message"] or _meta_message(_meta(fields["response"]))
    fields["message"] = redact_text(message.strip())[:MESSAGE_MAX_CHARS]
    # Capped only when the text may pass the cap (`_capped` is a call per field, every event).
    if request_json is None or len(request_json) > _SURELY_UNDER_CAP:
        fields["request"], request_json = _capped(fields["request"], request_json)
    if response_json is None or len(response_json) > _SURELY_UNDER_CAP:
        fields["response"], response_json = _capped(fields["response"], response_json)
    if extra_json is None or len(extra_json) > _SURELY_UNDER_CAP:
        fields["extra"], extra_json = _capped(fields["extra"], extra_json)
    fields["code"] = code
    event_key = "id:" + event_id if event_id else _content_key(fields)
    legacy_key = None
    if not event_id and legacy_before is not None and fields["ts"] < legacy_before:
        legacy_key = _legacy_content_key(fields)
    found = tag(
        code=code, http_status=fields["http_status"], endpoint=fields["endpoint"], catalog=catalog
    )
    # Positional, in field order: keyword arguments cost more than the rest of this function.
    return CleanEvent(
        fields["ts"],
        fields["endpoint"],
        fields["http_status"],
        code,
        found.category,
        found.is_error,
        fields["cp_id"],
        fields["courier"],
        fields["waybill"],
        fields["order_id"],
        fields["account_code"],
        fields["message"],
        fields["latency_ms"],
        fields["request"],
        fields["response"],
        fields["extra"],
        event_key,
        request_json,
        response_json,
        extra_json,
        legacy_key,
    )


def _content_key(fields: dict[str, Any]) -> str:
    """ "h2:" + 32 hex of SHA-256 over the sorted-key JSON of the event's content (orjson's;
    json's, not ASCII-escaped, for the rare content orjson has no form for: an integer past 64
    bits). The same content always takes the same branch, so it always hashes the same.

    Only what the shipper sent counts (not the catalog's category), so a retried batch hashes
    the same even after an operator edits the catalog. The time is its `isoformat()`, which is
    how orjson writes an aware UTC datetime (tests/ingest/test_plain_events.py).
    """
    try:
        canonical = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        content = {**fields, "ts": fields["ts"].isoformat()}
        canonical = _CANONICAL_TEXT.encode(content).encode()
    return "h2:" + hashlib.sha256(canonical).digest()[:16].hex()  # hexdigest()[:32]


def _legacy_content_key(fields: dict[str, Any]) -> str:
    """The first version: "h:" + 32 hex of SHA-256 over json's sorted-key, ASCII-only JSON."""
    content = {**fields, "ts": fields["ts"].isoformat()}
    canonical = _CANONICAL.encode(content)
    return "h:" + hashlib.sha256(canonical.encode("ascii")).hexdigest()[:32]


# --- field parsers: each returns the value or raises Refused(reason) ---


def _to_endpoint(value: Any) -> str:
    if not isinstance(value, str):
        raise Refused("must be a string")
    return endpoint_name(value)


def _versionless_path(text: str) -> str:
    """'https://host/api/v3/create-order/?key=x' -> 'create-order'; '' when not /api/vN/."""
    path = re.split(r"[?#]", text, maxsplit=1)[0]
    match = _VERSIONED_PATH.search(path)
    return match.group(1).strip("/").lower() if match else ""


def _whole_number(value: Any) -> int:
    """503, 503.0 and " 503 " are 503; True is not a number; 30+ digit text is out of range."""
    if isinstance(value, bool):
        raise Refused("must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
        if len(value.strip().lstrip("+-")) > 30:
            raise Refused("is out of range")
        return int(value.strip())
    raise Refused("must be an integer")


def _to_int(value: Any, low: int, high: int) -> int:
    number = _whole_number(value)
    if not low <= number <= high:
        raise Refused(f"must be between {low} and {high}")
    return number


def _to_latency(value: Any) -> float:
    """Milliseconds as a finite float from 0 to 1e9; decimal text is fine."""
    if isinstance(value, bool):
        raise Refused("must be a number")
    if isinstance(value, int):
        number = float(value) if abs(value) <= LATENCY_MAX_MS else math.inf
    elif isinstance(value, float):
        number = value
    elif isinstance(value, str) and len(value) <= 64 and _DECIMAL_TEXT.fullmatch(value.strip()):
        number = float(value.strip())
    else:
        raise Refused("must be a number")
    if not (math.isfinite(number) and 0 <= number <= LATENCY_MAX_MS):
        raise Refused("must be a number from 0 to 1000000000")
    return number


def _to_text(value: Any, limit: int) -> str:
    """A stripped string; a number (a waybill sent as 123) becomes its decimal text."""
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    elif isinstance(value, float) and math.isfinite(value):
        text = str(int(value)) if value.is_integer() else repr(value)
    else:
        raise Refused("must be a string")
    if len(text) > limit:
        raise Refused(f"must be at most {limit} characters")
    return text


def _message_text(value: Any) -> str:
    """A string as sent; anything else as its compact JSON text (redacted first)."""
    return value if isinstance(value, str) else _compact(redact(value))


# --- response.meta, caps ---


def _meta(response: Any) -> dict:
    meta = response.get("meta") if isinstance(response, dict) else None
    return meta if isinstance(meta, dict) else {}


def _meta_status(meta: dict) -> int | None:
    """The fallback code; a status Clickpost sent as junk is ignored, not an event error."""
    sent = meta.get("status")
    if type(sent) is int:  # the usual case, without the call (not a bool)
        return sent if 0 <= sent <= INT32_MAX else None
    try:
        status = _whole_number(sent)
    except Refused:
        return None
    return status if 0 <= status <= INT32_MAX else None


def _meta_message(meta: dict) -> str:
    message = meta.get("message")
    if message is None:
        return ""
    return message if isinstance(message, str) else _compact(message)


def _compact(value: Any) -> str:
    return _COMPACT.encode(value)


def _capped(value: Any, text: str | None = None) -> tuple[Any, str | None]:
    """(the value, its compact JSON), the value becoming {"truncated": true, "text": ...} when
    that JSON passes 16 KB; (None, None) for None. `text`: that JSON, when already made."""
    if value is None:
        return None, None
    if text is None:
        text = _storage_json(value)
    size = len(text) if text.isascii() else len(text.encode("utf-8"))
    if size <= BODY_MAX_BYTES:
        return value, text
    capped = {"truncated": True, "text": text[:BODY_MAX_BYTES]}
    return capped, _storage_json(capped)


def _storage_json(value: Any) -> str:
    """The compact JSON text store.py writes: orjson's (a tenth of json's time), else json's
    for what orjson refuses (an integer past 64 bits). PostgreSQL parses either into the same
    jsonb; the text only differs in spelling some floats (1e16, not 1e+16)."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return _compact(value)
