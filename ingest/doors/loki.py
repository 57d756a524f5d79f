"""Loki push (`POST /loki/api/v1/push`): a request body -> raw items.

Two encodings, as Loki reads them:
- JSON (`application/json`, or no type; gzip by Content-Encoding):
  `{"streams": [{"stream": {labels}, "values": [["<ns>", "<line>"], ["<ns>", "<line>", {meta}]]}]}`
- protobuf (`application/x-protobuf`), snappy-compressed (block format), as Promtail, Grafana
  Alloy and the Go client send it. Loki's `push.proto` is not published on PyPI, so its five
  small messages are declared below from the field numbers of grafana/loki `pkg/push/push.proto`.

Each entry is one item (records.py): the line is the event (a JSON object in text, alone or
after a message; any other line becomes its `message`), over the entry's structured metadata,
over the stream's labels; the entry's time is the default time. A body that is not a push
request is a FramingError (400, or 413 when it inflates past the limit).
"""

from __future__ import annotations

import json
import re
from typing import Any

import cramjam
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.message import DecodeError
from google.protobuf.message_factory import GetMessageClass

from ingest.doors.records import event_from_body, json_object, media_type, time_from_nanos
from ingest.framing import FramingError
from ingest.pipeline import RawItem

PROTOBUF_TYPE = "application/x-protobuf"
_LABEL = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_.:]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_ESCAPED = {"n": "\n", "t": "\t", "r": "\r"}


def decode(body: bytes, *, content_type: str | None, max_bytes: int) -> list[RawItem]:
    """One RawItem per entry, in order; 415 for a type Loki does not take."""
    media = media_type(content_type)
    if media == PROTOBUF_TYPE:
        return _decode_protobuf(body, max_bytes=max_bytes)
    if not media or media == "application/json" or media.endswith("+json"):
        return _decode_json(body)
    raise FramingError(
        415, f"Content-Type {media!r} is not a Loki push; send application/json or {PROTOBUF_TYPE}"
    )


def parse_labels(text: str) -> dict[str, str]:
    """`{app="demo", level="info"}` (Prometheus label syntax) -> {"app": "demo", ...}."""
    inner = text.strip().removeprefix("{").removesuffix("}")
    return {
        match.group(1): _ESCAPE.sub(lambda m: _ESCAPED.get(m.group(1), m.group(1)), match.group(2))
        for match in _LABEL.finditer(inner)
    }


def _entry(*, line: Any, nanos: Any, labels: dict, metadata: dict) -> RawItem:
    """The line over its structured metadata over the stream's labels (records.py).

    python-logging-loki sends `extra={"tags": {...}}` as labels and winston-loki a line
    `message {json}` with the same fields as metadata; both are text in Loki, so a label or
    metadata value holding a JSON object (a `response`) is read as that object.
    """
    fields = {key: json_object(value) or value for key, value in {**labels, **metadata}.items()}
    return RawItem(event_from_body(line, fields), default_timestamp=time_from_nanos(nanos))


# ---------------------------------------------------------------- JSON


def _decode_json(body: bytes) -> list[RawItem]:
    if not body.strip():
        return []
    try:
        push = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise FramingError(400, f"body is not valid JSON: {error}") from None
    streams = push.get("streams") if isinstance(push, dict) else None
    if not isinstance(streams, list):
        raise _not_a_push('expected {"streams": [...]}')
    items: list[RawItem] = []
    for number, stream in enumerate(streams):
        labels = stream.get("stream", {}) if isinstance(stream, dict) else None
        values = stream.get("values", []) if isinstance(stream, dict) else None
        if not isinstance(labels, dict) or not isinstance(values, list):
            raise _not_a_push(f'stream {number} must be {{"stream": {{...}}, "values": [...]}}')
        for entry in values:
            items.append(_json_entry(entry, labels=labels, stream=number))
    return items


def _json_entry(entry: Any, *, labels: dict, stream: int) -> RawItem:
    """["<ns>", "<line>"] or ["<ns>", "<line>", {structured metadata}]."""
    ok = isinstance(entry, list) and len(entry) in (2, 3)
    metadata = entry[2] if ok and len(entry) == 3 else {}
    if not ok or not isinstance(metadata, dict):
        raise _not_a_push(f'stream {stream} has a value that is not ["<ns>", "<line>"(, {{...}})]')
    return _entry(line=entry[1], nanos=entry[0], labels=labels, metadata=metadata)


def _not_a_push(why: str) -> FramingError:
    return FramingError(400, f"body is not a Loki push request: {why}")


# ---------------------------------------------------------------- protobuf


def _decode_protobuf(body: bytes, *, max_bytes: int) -> list[RawItem]:
    try:
        if cramjam.snappy.decompress_raw_len(body) > max_bytes:
            raise FramingError(413, f"decompressed body is over the limit of {max_bytes} bytes")
        push = PushRequest.FromString(bytes(cramjam.snappy.decompress_raw(body)))
    except cramjam.DecompressionError as error:
        raise FramingError(400, f"body is not snappy-compressed protobuf: {error}") from None
    except DecodeError as error:
        raise _not_a_push(str(error)) from None
    items: list[RawItem] = []
    for stream in push.streams:
        labels = parse_labels(stream.labels)
        for entry in stream.entries:
            stamp = entry.timestamp
            items.append(
                _entry(
                    line=entry.line,
                    nanos=stamp.seconds * 1_000_000_000 + stamp.nanos,
                    labels=labels,
                    metadata={pair.name: pair.value for pair in entry.structuredMetadata},
                )
            )
    return items


def _message_classes() -> dict[str, Any]:
    """Loki's push messages (grafana/loki pkg/push/push.proto; Timestamp as google.protobuf's)."""
    proto = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(
        name="clickpost_monitor/loki_push.proto", package="logproto", syntax="proto3"
    )
    shapes = {
        "Timestamp": [("seconds", 1, proto.TYPE_INT64, ""), ("nanos", 2, proto.TYPE_INT32, "")],
        "LabelPairAdapter": [
            ("name", 1, proto.TYPE_STRING, ""),
            ("value", 2, proto.TYPE_STRING, ""),
        ],
        "EntryAdapter": [
            ("timestamp", 1, proto.TYPE_MESSAGE, ".logproto.Timestamp"),
            ("line", 2, proto.TYPE_STRING, ""),
            ("structuredMetadata", 3, proto.TYPE_MESSAGE, "+.logproto.LabelPairAdapter"),
        ],
        "StreamAdapter": [
            ("labels", 1, proto.TYPE_STRING, ""),
            ("entries", 2, proto.TYPE_MESSAGE, "+.logproto.EntryAdapter"),
            ("hash", 3, proto.TYPE_UINT64, ""),
        ],
        "PushRequest": [("streams", 1, proto.TYPE_MESSAGE, "+.logproto.StreamAdapter")],
    }
    for name, fields in shapes.items():
        message = file.message_type.add(name=name)
        for field_name, number, kind, type_name in fields:
            repeated = type_name.startswith("+")
            field = message.field.add(name=field_name, number=number, type=kind)
            field.label = proto.LABEL_REPEATED if repeated else proto.LABEL_OPTIONAL
            if type_name:
                field.type_name = type_name.removeprefix("+")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {
        name: GetMessageClass(pool.FindMessageTypeByName(f"logproto.{name}")) for name in shapes
    }


_MESSAGES = _message_classes()
PushRequest = _MESSAGES["PushRequest"]
