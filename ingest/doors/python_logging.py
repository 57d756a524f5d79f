"""Python's `logging.handlers.HTTPHandler` on the generic door: a form-encoded LogRecord.

The handler POSTs `urlencode(record.__dict__)` once a record, as
`application/x-www-form-urlencoded`, with Basic auth when given `credentials`. Every value
arrives as text, Python's own `str()` of it: `created` is epoch seconds with a fraction, `msg`
the unformatted message (its `%` arguments in `args`), and each `extra=` key sits at the top
level, a dict as its Python repr. So a record becomes one event: the `extra` keys are its fields
(a repr'd dict or list read back with `ast.literal_eval`, which evaluates literals only), the
message is `msg % args` (or `message` when a formatter already ran) read as records.py reads
text, `created` stands in for the time, and the logger's name and level are kept as `logger`
and `level`. The rest of the LogRecord (line numbers, thread ids, ...) is dropped.
"""

from __future__ import annotations

import ast
import json
from typing import Any
from urllib.parse import parse_qsl

from ingest.doors.records import default_time, event_from_body, media_type

FORM_TYPE = "application/x-www-form-urlencoded"
# LogRecord attributes that are the logging machinery's, not the event's.
RECORD_NOISE = frozenset(
    {
        "args",
        "created",
        "exc_info",
        "exc_text",
        "filename",
        "funcName",
        "levelname",
        "levelno",
        "lineno",
        "message",
        "module",
        "msecs",
        "msg",
        "name",
        "pathname",
        "process",
        "processName",
        "relativeCreated",
        "stack_info",
        "taskName",
        "thread",
        "threadName",
    }
)
_MAX_LITERAL_CHARS = 65536


def is_form_record(body: bytes, content_type: str | None) -> bool:
    """A form body (not JSON sent with the form type, as syslog-ng does) holding `msg`."""
    if media_type(content_type) != FORM_TYPE or body.lstrip()[:1] in (b"{", b"[", b""):
        return False
    return b"msg=" in body or b"created=" in body


def record_event(body: bytes) -> Any:
    """The event of one form-encoded LogRecord (see the module docstring)."""
    record = dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
    fields: dict[str, Any] = {
        key: _as_json(_literal(value)) for key, value in record.items() if key not in RECORD_NOISE
    }
    for key, name in (("logger", "name"), ("level", "levelname")):
        if record.get(name):
            fields.setdefault(key, record[name])
    event = event_from_body(_message(record), fields)
    return default_time(event, record.get("created"))


def _message(record: dict[str, str]) -> str:
    if record.get("message"):
        return record["message"]
    msg = record.get("msg", "")
    args = _literal(record.get("args", "()"))
    if args and isinstance(args, tuple | dict):
        try:
            return msg % args
        except (TypeError, ValueError, KeyError):
            return msg
    return msg


def _as_json(value: Any) -> Any:
    """A Python literal as JSON would carry it (tuples as lists, sets and bytes as text)."""
    if isinstance(value, str):
        return value
    try:
        return json.loads(json.dumps(value, default=str))
    except (ValueError, TypeError, RecursionError):
        return str(value)


def _literal(text: str) -> Any:
    """A repr'd dict, list or tuple as the value (JSON first, then Python literals), else text."""
    stripped = text.strip()
    if stripped[:1] not in ("{", "[", "(") or len(stripped) > _MAX_LITERAL_CHARS:
        return text
    try:
        return json.loads(stripped)
    except (ValueError, RecursionError):
        pass
    try:
        return ast.literal_eval(stripped)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
