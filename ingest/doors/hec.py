"""Splunk HTTP Event Collector (`POST /services/collector`, `/services/collector/event`).

The body is HEC JSON objects one after another, with or without whitespace between them
(splunk-handler joins them with nothing and sends no Content-Type):
`{"time": 1733011200.25, "host": ..., "source": ..., "sourcetype": ..., "index": ...,
"fields": {...}, "event": {...} or "text"}`. Each object is one item: its `event` (an object, or
text holding one, alone or after a message: records.py) over its indexed `fields`; the top-level
`time` (epoch seconds, a float) stands in when the event names no time; `host`, `source`,
`sourcetype` and `index` land in `extra` beside the fields nobody read. An object without
`event` is read as the event itself, so its error names the Clickpost fields it lacks.

Replies are HEC's: `{"text": "Success", "code": 0}` when every event was stored (or already
was), and for a refusal `{"text": ..., "code": N}` with HEC's codes (`ERROR_CODES`), plus our
`error` sentence. A batch with any rejected event is HEC's refusal (400, code 6, the first
rejected event's `invalid-event-number`), never Success, so the shipper's log shows it.
"""

from __future__ import annotations

from typing import Any

from ingest.doors.records import default_time, event_from_body
from ingest.framing import FramingError, Unparsable, split_events
from ingest.pipeline import IngestOutcome, RawItem

SUCCESS = {"text": "Success", "code": 0}
METADATA_KEYS = ("host", "source", "sourcetype", "index")
# HEC's own status codes and texts (Splunk docs, "HTTP Event Collector error codes").
ERROR_CODES = {
    401: (2, "Token is required"),
    403: (4, "Invalid token"),
    400: (6, "Invalid data format"),
    413: (6, "Invalid data format"),
    415: (6, "Invalid data format"),
    429: (9, "Server is busy"),
    503: (9, "Server is busy"),
}


def decode(body: bytes) -> list[RawItem]:
    """One RawItem per HEC object; FramingError for a body that is not JSON objects."""
    return [_item(value) for value in split_events(body, content_type=None)]


def _item(value: Any) -> RawItem:
    if isinstance(value, Unparsable) or not isinstance(value, dict):
        return RawItem(value)
    fields = value.get("fields") if isinstance(value.get("fields"), dict) else {}
    metadata = {key: value[key] for key in METADATA_KEYS if value.get(key) not in (None, "")}
    # Without "event" (Splunk's code 12) the object itself is read, so the error names the
    # Clickpost fields it lacks.
    event = event_from_body(value.get("event", value), {**metadata, **fields})
    return RawItem(default_time(event, value.get("time")))


def reply(outcome: IngestOutcome) -> tuple[dict, int]:
    """HEC's success when no event was rejected; otherwise HEC's own refusal, code 6 naming the
    first rejected event (`invalid-event-number`), as Splunk answers a batch with a bad event,
    with our counts beside it (the valid events were stored: a resend is counted duplicates)."""
    if not outcome.rejected:
        return SUCCESS, 200
    first = min(outcome.rejections)
    if outcome.all_rejected:
        why = f"every event was rejected; {outcome.rejected} rejected"
    else:
        why = (
            f"{outcome.rejected} events rejected, {outcome.accepted + outcome.duplicates}"
            " stored or already stored"
        )
    body = refusal_body(400, why)
    return {**body, "invalid-event-number": first, **outcome.as_json()}, 400


def refusal_body(status: int, message: str) -> dict:
    """HEC's `{"text", "code"}` for an HTTP status, with our sentence as `error`."""
    code, text = ERROR_CODES.get(status, (8, "Internal server error"))
    return {"text": text, "code": code, "error": message}


def framing_refusal(error: FramingError) -> tuple[dict, int]:
    return refusal_body(error.status, error.message), error.status
