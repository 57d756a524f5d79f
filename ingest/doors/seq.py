"""Seq (`POST /api/events/raw`, `POST /ingest/clef`): a request body -> raw items.

- Raw: `{"Events": [{"Timestamp": "2026-11-28 23:39:51.38+00:00", "Level": "Information",
  "MessageTemplate": "call to {endpoint}", "Properties": {...}, "Exception": ...}]}` (seqlog's
  default, Serilog's older sink).
- CLEF: one JSON object a line (LF or CRLF): `@t` time, `@mt` template or `@m` message, `@l`
  level, `@x` exception, `@tr`/`@sp` trace ids, every other key a property (`@@name` is a
  property named `@name`).

Each event is one item: its properties are its fields (seqlog sends `extra=` keys as
`Extra_<name>`: the prefix is dropped unless a property of the plain name exists), the time
stands in when the properties name none, and the message is the template rendered with the
properties (`{endpoint}` -> its value); a template holding a JSON object counts as that object.
Seq answers a stored batch with 201 `{"MinimumLevelAccepted": null}`, which is what seqlog and
Serilog expect, and a batch with any rejected event with its error form, 400 `{"Error": ...}`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ingest.doors.records import default_time, event_from_body, rejection_summary
from ingest.framing import FramingError, Unparsable
from ingest.pipeline import IngestOutcome, RawItem

ACCEPTED = {"MinimumLevelAccepted": None}
EXTRA_PREFIX = "Extra_"
_HOLE = re.compile(r"\{([@$]?)([A-Za-z0-9_.\-]+)(?:[,:][^{}]*)?\}")
_CLEF_META = {"@t", "@mt", "@m", "@l", "@x", "@i", "@r", "@tr", "@sp"}


def reply(outcome: IngestOutcome, *, total: int) -> tuple[dict, int]:
    """Seq's 201 when no event was rejected; otherwise Seq's own error form, 400 `{"Error"}`
    naming the first rejected event, with our counts beside it (the valid events were stored:
    a resend is counted duplicates)."""
    if not outcome.rejected:
        return ACCEPTED, 201
    summary = rejection_summary(outcome, total=total, noun="event")
    return {"Error": summary, "error": summary, **outcome.as_json()}, 400


def decode_raw(body: bytes) -> list[RawItem]:
    """One RawItem per event of `{"Events": [...]}`; FramingError when the body is not that."""
    if not body.strip():
        return []
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise FramingError(400, f"body is not valid JSON: {error}") from None
    events = payload.get("Events", payload.get("events")) if isinstance(payload, dict) else None
    if not isinstance(events, list):
        raise FramingError(400, 'body is not a Seq raw payload: expected {"Events": [...]}')
    return [_raw_item(event) for event in events]


def decode_clef(body: bytes) -> list[RawItem]:
    """One RawItem per CLEF line; a line that is not a JSON object is that event's error."""
    items: list[RawItem] = []
    for line_no, line in enumerate(body.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except (ValueError, RecursionError) as error:
            items.append(RawItem(Unparsable(line_no, f"not valid JSON: {error}")))
            continue
        items.append(_clef_item(value) if isinstance(value, dict) else RawItem(value))
    return items


def _raw_item(event: Any) -> RawItem:
    if not isinstance(event, dict):
        return RawItem(event)
    properties = event.get("Properties")
    if not isinstance(properties, dict):
        properties = {}
    fields = _unprefixed(properties)
    _put(fields, "level", event.get("Level"))
    _put(fields, "exception", event.get("Exception"))
    template = event.get("MessageTemplate") or event.get("RenderedMessage")
    return _item(template, fields, when=event.get("Timestamp"), names=properties)


def _clef_item(event: dict) -> RawItem:
    fields = _unprefixed(
        {key.removeprefix("@"): value for key, value in event.items() if key not in _CLEF_META}
    )
    _put(fields, "level", event.get("@l"))
    _put(fields, "exception", event.get("@x"))
    _put(fields, "trace_id", event.get("@tr"))
    _put(fields, "span_id", event.get("@sp"))
    return _item(event.get("@m") or event.get("@mt"), fields, when=event.get("@t"))


def _item(template: Any, fields: dict, *, when: Any, names: dict | None = None) -> RawItem:
    """`names`: the properties as sent, whose names the template's holes use (`{Extra_awb}`)."""
    lookup = {**fields, **(names or {})}
    message = render(template, lookup) if isinstance(template, str) else template
    return RawItem(default_time(event_from_body(message, fields), when))


def render(template: str, properties: dict) -> str:
    """A message template with each `{Name}` (also `{@Name}`, `{Name:format}`) replaced by the
    property's value; a hole without a property is left as written."""
    if template.lstrip().startswith("{") and template.rstrip().endswith("}"):
        return template  # a JSON object, not a template: records.py reads it

    def fill(match: re.Match[str]) -> str:
        value = properties.get(match.group(2))
        if value is None:
            return match.group(0)
        return value if isinstance(value, str) else json.dumps(value)

    return _HOLE.sub(fill, template)


def _unprefixed(properties: dict) -> dict:
    """seqlog's `Extra_<name>` properties under their own names (a plain name wins)."""
    fields = {key: value for key, value in properties.items() if not _is_extra(key)}
    for key, value in properties.items():
        if _is_extra(key):
            fields.setdefault(key.removeprefix(EXTRA_PREFIX), value)
    return fields


def _is_extra(key: Any) -> bool:
    return isinstance(key, str) and key.startswith(EXTRA_PREFIX) and len(key) > len(EXTRA_PREFIX)


def _put(fields: dict, key: str, value: Any) -> None:
    if value not in (None, "") and key not in fields:
        fields[key] = value
