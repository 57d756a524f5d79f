"""OTLP/HTTP logs (`POST /v1/logs`): a request body -> raw items, and OTLP's reply.

JSON (`application/json`, OTLP's JSON mapping: lowerCamelCase or proto field names, int64 as
strings or numbers) and binary protobuf (`application/x-protobuf`) are read; without a
Content-Type the body tells which. Each log record is one item (records.py): its body is the
event, over the record's own attributes (typed AnyValues, decoded), over its `severityText`,
trace and span ids, over the resource's attributes, so a call logged as attributes is found;
`timeUnixNano`, else `observedTimeUnixNano`, is the default time. A body that cannot be
decoded at all is a FramingError (400); a record that is no event is a rejection counted in
the reply's `partialSuccess`, as the OTLP spec asks.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Iterable
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

from ingest.doors.records import (
    event_from_body,
    media_type,
    rejection_summary,
    time_from_nanos,
)
from ingest.framing import FramingError
from ingest.pipeline import IngestOutcome, RawItem

PROTOBUF_TYPES = ("application/x-protobuf", "application/protobuf")
JSON_TYPE = "application/json"
_ANY_VALUE_KINDS = (
    "stringValue",
    "intValue",
    "doubleValue",
    "boolValue",
    "kvlistValue",
    "arrayValue",
    "bytesValue",
)
_INT_TEXT = re.compile(r"[+-]?[0-9]{1,20}")
# OpenTelemetry's semantic-convention attribute names -> the event field they are (an
# attribute already named as the field wins).
SEMANTIC_NAMES = {
    "http.response.status_code": "http_status",
    "http.status_code": "http_status",
    "url.full": "url",
    "http.url": "url",
    "url.path": "path",
    "http.target": "path",
}


def is_protobuf(content_type: str | None, body: bytes) -> bool:
    """True for a protobuf request, False for JSON; 415 for any other Content-Type."""
    media = media_type(content_type)
    if media in PROTOBUF_TYPES:
        return True
    if media == JSON_TYPE or media.endswith("+json"):
        return False
    if not media:
        stripped = body.lstrip()
        return bool(stripped) and not stripped.startswith(b"{")
    raise FramingError(
        415, f"Content-Type {media!r} is not OTLP; send application/json or application/x-protobuf"
    )


def decode(body: bytes, *, protobuf: bool) -> list[RawItem]:
    """One RawItem per log record, in order; FramingError(400) when the body is not OTLP."""
    return _decode_protobuf(body) if protobuf else _decode_json(body)


def reply(outcome: IngestOutcome, *, total: int, protobuf: bool) -> tuple[bytes, str]:
    """ExportLogsServiceResponse bytes and their Content-Type, in the request's encoding.

    Rejected records are counted in `partialSuccess`; a full success is the empty message.
    """
    message = ExportLogsServiceResponse()
    if outcome.rejected:
        message.partial_success.rejected_log_records = outcome.rejected
        message.partial_success.error_message = rejection_summary(
            outcome, total=total, noun="log record"
        )
    if protobuf:
        return message.SerializeToString(), PROTOBUF_TYPES[0]
    return json.dumps(json_format.MessageToDict(message)).encode(), JSON_TYPE


def _item(
    *,
    body: Any,
    resource: dict,
    attributes: dict,
    severity: Any,
    trace_id: Any,
    span_id: Any,
    time: Any,
    observed: Any,
) -> RawItem:
    """The record's event: its body over its attributes over the resource's (OpenTelemetry puts
    a call's fields in attributes, as `http_status` or the semantic names `SEMANTIC_NAMES` maps);
    severity and trace ids beside them."""
    fields = dict(resource)
    for key, value in (("severity", severity), ("trace_id", trace_id), ("span_id", span_id)):
        if value:
            fields[key] = value
    fields.update(attributes)
    for semantic, name in SEMANTIC_NAMES.items():
        if semantic in fields and name not in fields:
            fields[name] = fields.pop(semantic)
    when = time_from_nanos(time) or time_from_nanos(observed)
    return RawItem(event_from_body(body, fields), default_timestamp=when)


# ---------------------------------------------------------------- protobuf


def _decode_protobuf(body: bytes) -> list[RawItem]:
    try:
        request = ExportLogsServiceRequest.FromString(body)
    except DecodeError as error:
        raise FramingError(400, f"body is not an OTLP ExportLogsServiceRequest: {error}") from None
    items: list[RawItem] = []
    for resource_logs in request.resource_logs:
        resource = _proto_attributes(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                items.append(
                    _item(
                        body=_proto_any(record.body) if record.HasField("body") else None,
                        resource=resource,
                        attributes=_proto_attributes(record.attributes),
                        severity=record.severity_text,
                        trace_id=record.trace_id.hex(),
                        span_id=record.span_id.hex(),
                        time=record.time_unix_nano,
                        observed=record.observed_time_unix_nano,
                    )
                )
    return items


def _proto_any(value) -> Any:
    """An AnyValue as plain Python: kvlist -> dict, array -> list, bytes -> base64 text."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "kvlist_value":
        return _proto_attributes(value.kvlist_value.values)
    if kind == "array_value":
        return [_proto_any(item) for item in value.array_value.values]
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return getattr(value, kind)


def _proto_attributes(pairs: Iterable) -> dict:
    return {pair.key: _proto_any(pair.value) for pair in pairs}


# ---------------------------------------------------------------- JSON


def _decode_json(body: bytes) -> list[RawItem]:
    if not body.strip():
        return []
    try:
        request = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise FramingError(400, f"body is not valid OTLP JSON: {error}") from None
    if not isinstance(request, dict):
        raise FramingError(400, 'body is not OTLP JSON: expected {"resourceLogs": [...]}')
    try:
        return list(_json_records(request))
    except RecursionError:
        raise FramingError(400, "body is not OTLP JSON: values are nested too deeply") from None


def _json_records(request: dict) -> Iterable[RawItem]:
    for resource_logs in _list(request, "resourceLogs"):
        resource = _json_attributes(_get(_get(resource_logs, "resource"), "attributes"))
        scopes = _list(resource_logs, "scopeLogs") + _list(
            resource_logs, "instrumentationLibraryLogs"
        )
        for scope_logs in scopes:
            for record in _list(scope_logs, "logRecords"):
                if not isinstance(record, dict):
                    yield RawItem(record)  # rejected: not an object
                    continue
                yield _item(
                    body=_json_any(_get(record, "body")),
                    resource=resource,
                    attributes=_json_attributes(_get(record, "attributes")),
                    severity=_get(record, "severityText"),
                    trace_id=_get(record, "traceId"),
                    span_id=_get(record, "spanId"),
                    time=_get(record, "timeUnixNano"),
                    observed=_get(record, "observedTimeUnixNano"),
                )


@functools.cache
def _proto_name(json_name: str) -> str:
    return re.sub(r"[A-Z]", lambda match: "_" + match.group().lower(), json_name)


def _get(message: Any, json_name: str) -> Any:
    """A field of an OTLP JSON message by its JSON name or its proto name (both are valid)."""
    if not isinstance(message, dict):
        return None
    value = message.get(json_name)
    return message.get(_proto_name(json_name)) if value is None else value


def _list(message: Any, json_name: str) -> list:
    value = _get(message, json_name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise FramingError(400, f"body is not OTLP JSON: {json_name} must be a list")
    return value


def _json_any(value: Any) -> Any:
    """An AnyValue as plain Python; a bare value (not OTLP, but unambiguous) is kept as it is."""
    if not isinstance(value, dict):
        return value
    for kind in _ANY_VALUE_KINDS:
        inner = _get(value, kind)
        if inner is None:
            continue
        if kind == "kvlistValue":
            return _json_attributes(_get(inner, "values"))
        if kind == "arrayValue":
            values = _get(inner, "values")
            return [_json_any(item) for item in values] if isinstance(values, list) else []
        if kind == "intValue":
            return _json_int(inner)
        if kind == "doubleValue":
            return _json_double(inner)
        return inner
    return None


def _json_attributes(pairs: Any) -> dict:
    """[{"key": k, "value": AnyValue}, ...] -> {k: value}; pairs without a text key are skipped."""
    if not isinstance(pairs, list):
        return {}
    return {
        pair["key"]: _json_any(pair.get("value"))
        for pair in pairs
        if isinstance(pair, dict) and isinstance(pair.get("key"), str)
    }


def _json_int(value: Any) -> Any:
    """int64 comes as a JSON string ("42") or a number; anything else is kept for the checks."""
    if isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
        return int(value)
    return value


def _json_double(value: Any) -> Any:
    """Doubles may come as strings, "NaN" and "Infinity" included (refused later, per event)."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value
