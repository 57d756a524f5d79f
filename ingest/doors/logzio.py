"""Logz.io listener (`POST /logzio/?token=...`): NDJSON -> raw items.

logzio-python-handler sends one JSON object a line as `text/plain`: `@timestamp` (the record's
time), `message` (the formatted message; when it was a JSON object the handler merged that
object in), `log_level`, `logger`, and each `extra=` key at the top level. Each line is one
event, its `message` read as records.py reads text (a trailing JSON object counts). Only an
exact 200 is a success to these clients (anything else but 400 and 401 is retried).
"""

from __future__ import annotations

from typing import Any

from ingest.doors.records import event_from_body
from ingest.framing import split_events
from ingest.pipeline import RawItem


def decode(body: bytes) -> list[RawItem]:
    return [_item(value) for value in split_events(body, content_type=None)]


def _item(value: Any) -> RawItem:
    if not isinstance(value, dict) or not isinstance(value.get("message"), str):
        return RawItem(value)
    fields = {key: item for key, item in value.items() if key != "message"}
    return RawItem(event_from_body(value["message"], fields))
