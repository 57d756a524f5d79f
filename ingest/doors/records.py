"""How a protocol's log record becomes an event: the rules every door shares.

- The record's body is the event: a JSON object (OTLP kvlist, a Loki line or an Elasticsearch
  document), or a string holding one. Any other string is kept as the event's `message`, so the
  error names the Clickpost fields that are missing instead of saying "not an object".
- What the protocol says beside the body (OTLP attributes, Loki labels, an Elasticsearch
  document's envelope) is the item's context: it lands in `extra`, where the event's own keys win.
- The record's own time stands in when the event has none (`RawItem.default_timestamp`).

Plus the small helpers the doors share (media type, nanosecond times, one-line error summaries).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from ingest.pipeline import IngestOutcome

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def event_from_body(body: Any) -> Any:
    """The event a record's body holds (see the module docstring); None is an empty event."""
    if isinstance(body, dict):
        return body
    if isinstance(body, str):
        parsed = json_object(body)
        return {"message": body} if parsed is None else parsed
    if body is None:
        return {}
    return body


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
