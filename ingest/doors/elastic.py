"""Elasticsearch bulk (`POST /_bulk`, `/<index>/_bulk`): a request body -> raw items, and the
bulk reply; plus the few read-only answers that make a client believe it talks to Elasticsearch.

The body is NDJSON: an action line, then (for `index` and `create`) the document line; blank
lines are skipped. A document is one item: the document itself is the event, unless its
`message` is a string holding a JSON object (rsyslog's template, Logstash or Fluent Bit shipping
a JSON log line), in which case that object is the event and the document's other fields are
its context (`extra`), its `@timestamp` the default time. `update` and `delete` are answered per
item and store nothing. A line that is not an action is a FramingError (400), as in Elasticsearch.

The reply is Elasticsearch's: `{"took", "errors", "items": [{"index": {"_index", "_id",
"status", "result" | "error"}}]}`, 201 "created" for a stored document, 200 "noop" for a
duplicate, 400 with an `error` for a rejected one. rsyslog and Logstash read only `errors` and
each item's `status`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ingest.doors.records import describe_errors, json_object
from ingest.framing import FramingError, Unparsable
from ingest.pipeline import IngestOutcome, RawItem

VERSION = "8.11.0"
PRODUCT_HEADER = ("X-Elastic-Product", "Elasticsearch")
CLUSTER_NAME = "clickpost-monitor"
OPERATIONS = ("index", "create", "update", "delete")
_FRACTION_PAST_MICROS = re.compile(r"(\.[0-9]{6})[0-9]+")


@dataclass(frozen=True, slots=True)
class Action:
    """One bulk action; `item` is the position of its document among the items, if it has one."""

    operation: str
    index: str
    doc_id: str
    item: int | None = None
    refusal: str = ""


def parse_bulk(body: bytes, *, default_index: str) -> tuple[list[Action], list[RawItem]]:
    """The actions in order and the items of their documents; FramingError(400) for a bad
    action line or an action whose document is missing."""
    actions: list[Action] = []
    items: list[RawItem] = []
    lines = _lines(body)
    for line_no, line in lines:
        operation, meta = _action(line, line_no)
        index = str(meta.get("_index") or default_index)
        doc_id = str(meta.get("_id") or "")
        if operation == "delete":
            actions.append(Action(operation, index, doc_id))
            continue
        document = next(lines, None)
        if document is None:
            raise FramingError(400, f"line {line_no}: the {operation} action has no document")
        if operation == "update":
            refusal = "update is not supported here; send index or create"
            actions.append(Action(operation, index, doc_id, refusal=refusal))
            continue
        items.append(document_item(*document))
        actions.append(Action(operation, index, doc_id or _auto_id(document[1]), len(items) - 1))
    return actions, items


def document_item(line_no: int, line: bytes) -> RawItem:
    """A document line -> its item (see the module docstring for the `message` rule)."""
    try:
        document = json.loads(line)
    except (ValueError, RecursionError) as error:
        return RawItem(Unparsable(line_no, f"not valid JSON: {error}"))
    inner = json_object(document.get("message")) if isinstance(document, dict) else None
    if inner is None:
        return RawItem(document)
    context = {key: value for key, value in document.items() if key != "message"}
    when = _outer_time(context.get("@timestamp"))
    if when is not None:
        del context["@timestamp"]
    return RawItem(inner, default_timestamp=when, context=context)


def bulk_reply(
    actions: Sequence[Action], *, outcome: IngestOutcome, rejections: dict[int, dict], took_ms: int
) -> dict:
    """Elasticsearch's bulk response. Stored items are "created" (201) unless the whole batch
    was duplicates, then "noop" (200): the pipeline counts duplicates per batch, not per item."""
    stored = (201, "created") if outcome.accepted else (200, "noop")
    replies = [_item_reply(action, rejections, stored) for action in actions]
    errors = any("error" in next(iter(reply.values())) for reply in replies)
    return {"took": took_ms, "errors": errors, "items": replies}


def _item_reply(action: Action, rejections: dict[int, dict], stored: tuple[int, str]) -> dict:
    head = {"_index": action.index, "_id": action.doc_id}
    if action.operation == "delete":
        reply = {**head, "_version": 1, "result": "not_found", "status": 404}
    elif action.refusal:
        error = {"type": "illegal_argument_exception", "reason": action.refusal}
        reply = {**head, "status": 400, "error": error}
    elif action.item in rejections:
        reason = describe_errors(rejections[action.item])
        reply = {
            **head,
            "status": 400,
            "error": {"type": "document_parsing_exception", "reason": reason},
        }
    else:
        status, result = stored
        reply = {**head, "_version": 1, "result": result, "status": status}
        reply["_shards"] = {"total": 1, "successful": 1, "failed": 0}
    return {action.operation: reply}


def node_info() -> dict:
    """`GET /`: what Elasticsearch 8 answers, enough for clients that check the version."""
    return {
        "name": CLUSTER_NAME,
        "cluster_name": CLUSTER_NAME,
        "cluster_uuid": "clickpost-monitor-0000000000",
        "version": {
            "number": VERSION,
            "build_flavor": "default",
            "build_type": "docker",
            "build_snapshot": False,
            "lucene_version": "9.8.0",
            "minimum_wire_compatibility_version": "7.17.0",
            "minimum_index_compatibility_version": "7.0.0",
        },
        "tagline": "You Know, for Search",
    }


def cluster_health() -> dict:
    """`GET /_cluster/health` (and `_cat/health?format=json`): always green, one node."""
    return {
        "cluster_name": CLUSTER_NAME,
        "status": "green",
        "timed_out": False,
        "number_of_nodes": 1,
        "number_of_data_nodes": 1,
        "active_primary_shards": 0,
        "active_shards": 0,
        "unassigned_shards": 0,
    }


def cat_health(now: datetime) -> dict:
    """`GET /_cat/health?format=json`: one row, every value text, as `_cat` answers."""
    return {
        "epoch": str(int(now.timestamp())),
        "timestamp": f"{now:%H:%M:%S}",
        "cluster": CLUSTER_NAME,
        "status": "green",
        "node.total": "1",
        "node.data": "1",
        "shards": "0",
        "pri": "0",
        "relo": "0",
        "init": "0",
        "unassign": "0",
        "pending_tasks": "0",
        "max_task_wait_time": "-",
        "active_shards_percent": "100.0%",
    }


def cat_health_text(now: datetime) -> str:
    """`GET /_cat/health` as `_cat` answers by default: the row's values on one text line."""
    return " ".join(cat_health(now).values()) + "\n"


def _lines(body: bytes) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, line) for every non-blank line."""
    for line_no, line in enumerate(body.split(b"\n"), start=1):
        if line.strip():
            yield line_no, line


def _action(line: bytes, line_no: int) -> tuple[str, dict]:
    try:
        action = json.loads(line)
    except (ValueError, RecursionError):
        action = None
    if isinstance(action, dict) and len(action) == 1:
        ((operation, meta),) = action.items()
        if operation in OPERATIONS and isinstance(meta, dict):
            return operation, meta
    raise FramingError(
        400,
        f"line {line_no}: expected an action line such as "
        f'{{"index": {{}}}} ({", ".join(OPERATIONS)}); got {line[:80].decode(errors="replace")!r}',
    )


def _auto_id(document: bytes) -> str:
    """A 20-character id, as Elasticsearch makes them; the same document gets the same id."""
    return base64.urlsafe_b64encode(hashlib.sha256(document.strip()).digest()[:15]).decode()


def _outer_time(value: Any) -> datetime | None:
    """The envelope's @timestamp (ISO 8601 from rsyslog, Logstash, Fluent Bit), or None."""
    if not isinstance(value, str):
        return None
    text = _FRACTION_PAST_MICROS.sub(r"\1", value.strip())
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
