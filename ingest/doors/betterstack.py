"""Better Stack / Logtail (`POST /betterstack/`): a msgpack (or JSON) body -> raw items.

@logtail/node sends a gzip'd msgpack array of maps, logtail-python a plain one; both send
`Content-Type: application/msgpack` and a Bearer token, and @logtail/node posts an empty array
on every flush. A map is one event: its keys are the event's fields (a logged call's own fields
at the top level), its `dt` (a msgpack timestamp or ISO text) the time when the map names no
other; msgpack values JSON lacks are made JSON (a timestamp -> RFC 3339 text, bytes -> UTF-8
text, else base64). Better Stack answers 202; so does this door.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import msgpack

from ingest.doors.records import default_time, event_from_body, media_type
from ingest.framing import FramingError, split_events
from ingest.pipeline import RawItem

MSGPACK_TYPES = ("application/msgpack", "application/x-msgpack", "application/vnd.msgpack")
_MAX_DEPTH = 64


def decode(body: bytes, *, content_type: str | None) -> list[RawItem]:
    """One RawItem per map; msgpack by Content-Type (or by a body that is not JSON)."""
    media = media_type(content_type)
    if media not in MSGPACK_TYPES and (media or body.lstrip()[:1] in (b"{", b"[")):
        values = split_events(body, content_type=content_type)
    else:
        values = _unpack(body)
    return [_item(value) for value in values]


def _unpack(body: bytes) -> list[Any]:
    if not body:
        return []
    try:
        value = msgpack.unpackb(body, raw=False, timestamp=3, strict_map_key=False)
    except (ValueError, TypeError, msgpack.UnpackException) as error:
        raise FramingError(400, f"body is not valid msgpack: {error}") from None
    value = _jsonable(value, depth=0)
    return value if isinstance(value, list) else [value]


def _item(value: Any) -> RawItem:
    if not isinstance(value, dict):
        return RawItem(value)
    fields = {key: item for key, item in value.items() if key not in ("dt", "message")}
    event = event_from_body(value.get("message"), fields)
    return RawItem(default_time(event, value.get("dt")))


def _jsonable(value: Any, *, depth: int) -> Any:
    """msgpack's types as JSON's; too deep a value is refused as the whole body's fault."""
    if depth > _MAX_DEPTH:
        raise FramingError(400, f"body is not valid msgpack: nested over {_MAX_DEPTH} levels")
    if isinstance(value, dict):
        return {str(key): _jsonable(item, depth=depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item, depth=depth + 1) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(value).decode("ascii")
    if isinstance(value, msgpack.ExtType):
        return {"ext_type": value.code, "data": base64.b64encode(value.data).decode("ascii")}
    return value
