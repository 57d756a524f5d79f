"""How a protocol's log record becomes an event: the rules every door shares.

- The record's body is the event: a JSON object (OTLP kvlist, a Loki line or an Elasticsearch
  document), or a string holding one, alone or trailing a message (`message {json}`). Any other
  string is kept as the event's `message`, so the error names the Clickpost fields that are
  missing instead of saying "not an object".
- The structured fields the protocol carries beside the body (OTLP attributes, Loki labels and
  structured metadata, Seq properties, HEC `fields`) are part of the event: a Clickpost field
  found there is read as one (and so not copied into `extra`); the body's own keys win, and
  what nobody reads lands in `extra`.
- The record's own time stands in when the event has none (`RawItem.default_timestamp`, or
  `default_time` for a time the protocol sends as text).

Plus the small helpers the doors share (media type, nanosecond times, one-line error summaries).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ingest.pipeline import IngestOutcome

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The event's time fields, as ingest.events reads them (SPEC "Event fields": timestamp aliases).
TIME_KEYS = ("timestamp", "@timestamp", "time", "date")
_MAX_OBJECT_STARTS = 16
_DECODER = json.JSONDecoder()


def event_from_body(body: Any, fields: Mapping[str, Any] | None = None) -> Any:
    """The event a record holds: its body, over the structured `fields` the protocol carries
    beside it (attributes, labels, metadata, properties), where the body's own keys win.

    A text body is read by `split_message`: a JSON object in it (alone, or trailing a message,
    as winston-loki and many formatters write `message {json}`) is the body, and the text before
    it (or the whole text, when there is no object) is the event's `message`. None is an empty
    body; any other value is kept as it is for the checks to refuse, unless `fields` hold the
    event, then it is the message.
    """
    base = dict(fields or {})
    if isinstance(body, dict):
        return {**base, **body}
    if isinstance(body, str):
        text, found = split_message(body)
        event = {**base, **(found or {})}
        if text and _absent(event.get("message")):
            event["message"] = text
        return event
    if body is None:
        return base
    return {**base, "message": json.dumps(body)} if base else body


def split_message(text: str) -> tuple[str, dict | None]:
    """("message text", {the JSON object ending it}) or (text, None) when none ends it.

    The object is searched from its first possible `{`, at most `_MAX_OBJECT_STARTS` of them, so
    a line full of braces costs a bounded number of parses.
    """
    stripped = text.strip()
    if not stripped.endswith("}"):
        return stripped, None
    start = stripped.find("{")
    for _ in range(_MAX_OBJECT_STARTS):
        if start < 0:
            break
        try:
            value, end = _DECODER.raw_decode(stripped, start)
        except (ValueError, RecursionError):
            value, end = None, -1
        if isinstance(value, dict) and end == len(stripped):
            return stripped[:start].strip(), value
        start = stripped.find("{", start + 1)
    return stripped, None


def adopt_msg(event: Any) -> Any:
    """pino, bunyan and Python's LogRecord call the message `msg`: it is the event's `message`
    when the event has none (consumed, so not copied into `extra` too)."""
    if not isinstance(event, dict) or not isinstance(event.get("msg"), str):
        return event
    if not _absent(event.get("message")):
        return event
    event = dict(event)
    event["message"] = event.pop("msg")
    return event


def default_time(event: Any, value: Any) -> Any:
    """`event` with `timestamp` set to the protocol's own time when it names no time itself."""
    if not isinstance(event, dict) or _absent(value):
        return event
    if any(not _absent(event.get(key)) for key in TIME_KEYS):
        return event
    return {**event, "timestamp": value}


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def json_object(text: Any) -> dict | None:
    """The JSON object a string holds, or None when it holds anything else."""
    if not isinstance(text, str) or not text.lstrip().startswith("{"):
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def time_from_nanos(value: Any) -> datetime | None:
    """An aware UTC time from epoch nanoseconds (an int or a numeric string); None for 0 or junk."""
    try:
        nanos = int(value)
    except (TypeError, ValueError):
        return None
    if nanos <= 0:
        return None
    try:
        return _EPOCH + timedelta(microseconds=nanos // 1000)
    except OverflowError:
        return None


def media_type(content_type: str | None) -> str:
    """ "application/json; charset=utf-8" -> "application/json"; "" when there is none."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def describe_errors(errors: dict[str, list[str]]) -> str:
    """One line from a field-errors dict: "endpoint: required; http_status: ..."."""
    return "; ".join(f"{field}: {', '.join(reasons)}" for field, reasons in errors.items())


def rejection_summary(outcome: IngestOutcome, *, total: int, noun: str) -> str:
    """ "2 of 5 log records rejected; log record 0: endpoint: required" (the first one named)."""
    text = f"{outcome.rejected} of {total} {noun}s rejected"
    if outcome.errors:
        first = outcome.errors[0]
        text += f"; {noun} {first['index']}: {describe_errors(first['errors'])}"
    return text
