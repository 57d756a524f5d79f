"""Readers of raw events: the newest-first event list, one event, a shipment's timeline.

Aggregates are `stats.questions`' job; these return rows of `ingest_event` as the API shows them.
Times are ISO 8601 strings in the asked zone, with their offset.

The event list is keyset-paginated on (ts, id), newest first: a cursor is the (ts, id) of the
last row shown, so events that arrive while someone pages (newer, on top) never shift a page,
and every event of the window is listed exactly once. The index `ingest_event_ts_id` (and its
errors-only twin) serves that order.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from zoneinfo import ZoneInfo

from clickpost_monitor.replica import read_connection
from ingest.catalog import current_catalog
from stats.questions import RAW, sql_conditions
from stats.window import Filters, Window, default_zone

MAX_TIMELINE_EVENTS = 1000
_LIST_COLUMNS = (
    "id, ts, endpoint, http_status, code, category, is_error, cp_id, courier, waybill, "
    "order_id, account_code, message, latency_ms"
)
_DETAIL_COLUMNS = _LIST_COLUMNS + ", received_at, event_key, request, response, extra"


class BadCursor(ValueError):
    """A `cursor` that this module did not write."""


def encode_cursor(*, ts: datetime, event_id: int) -> str:
    """The opaque cursor that continues a listing after the event (ts, event_id)."""
    return base64.urlsafe_b64encode(f"{ts.isoformat()}|{event_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """(ts, id) from a cursor; raises BadCursor for anything else."""
    try:
        ts_text, id_text = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        ts, event_id = datetime.fromisoformat(ts_text), int(id_text)
    except (binascii.Error, UnicodeError, ValueError):
        raise BadCursor("not a cursor from a previous page's `next` link") from None
    if ts.tzinfo is None or not 0 < event_id < 2**63:
        raise BadCursor("not a cursor from a previous page's `next` link")
    return ts, event_id


def _id_variants(value: str) -> list[str]:
    """The value as typed, upper- and lower-cased: waybills are matched case-insensitively
    while still using the (waybill, ts) and (order_id, ts) indexes."""
    return list(dict.fromkeys([value, value.upper(), value.lower()]))


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _is_shipment_id(q: str) -> bool:
    """Whether `q` is some stored waybill or order id (two index probes)."""
    variants = _id_variants(q)
    with read_connection().cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM ingest_event WHERE waybill = ANY(%s) AND waybill <> '')"
            " OR EXISTS (SELECT 1 FROM ingest_event WHERE order_id = ANY(%s) AND order_id <> '')",
            [variants, variants],
        )
        return cursor.fetchone()[0]


def _search_condition(q: str) -> tuple[str, list]:
    """`q`: a waybill or order id (exact, any case) when one is stored, else a substring of the
    message (case-insensitive). Ids first, so that a shipment search stays an index lookup."""
    if _is_shipment_id(q):
        variants = _id_variants(q)
        return "(waybill = ANY(%s) OR order_id = ANY(%s))", [variants, variants]
    return "message ILIKE %s", [_like_pattern(q)]


def _row(values: tuple, names: list[str], tz: ZoneInfo, meanings: dict) -> dict:
    row = dict(zip(names, values, strict=True))
    ts = row.pop("ts")
    row = {"id": row.pop("id"), "timestamp": ts.astimezone(tz).isoformat(), **row}
    row["meaning"] = meanings.get(row["code"], "")
    return row


def _select(sql: str, params: list, tz: ZoneInfo) -> list[dict]:
    catalog = current_catalog()
    meanings = {code: info.meaning for code, info in catalog.items()}
    with read_connection().cursor() as cursor:
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        return [_row(values, names, tz, meanings) for values in cursor.fetchall()]


def event_page(
    *,
    window: Window,
    filters: Filters,
    errors_only: bool,
    waybill: str | None,
    order_id: str | None,
    q: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[dict], str | None]:
    """One page of events in the window, newest first, and the cursor of the next page.

    Rows: id, timestamp (ISO in the window's zone), endpoint, http_status, code, meaning,
    category, is_error, cp_id, courier, waybill, order_id, account_code, message, latency_ms
    (milliseconds). The cursor is None on the last page. Raises BadCursor for a bad cursor.
    """
    conditions, params = sql_conditions(source=RAW, window=window, filters=filters)
    if errors_only:
        conditions.append("is_error")
    for column, value in (("waybill", waybill), ("order_id", order_id)):
        if value:
            conditions.append(f"{column} = ANY(%s)")
            params.append(_id_variants(value))
    if q:
        condition, values = _search_condition(q)
        conditions.append(condition)
        params += values
    if cursor:
        conditions.append("(ts, id) < (%s, %s)")
        params += list(decode_cursor(cursor))
    sql = (
        f"SELECT {_LIST_COLUMNS} FROM ingest_event WHERE {' AND '.join(conditions)} "
        "ORDER BY ts DESC, id DESC LIMIT %s"
    )
    rows = _select(sql, [*params, limit + 1], window.tz)
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    next_cursor = encode_cursor(ts=datetime.fromisoformat(last["timestamp"]), event_id=last["id"])
    return rows[:limit], next_cursor


def event_detail(*, event_id: int, tz: ZoneInfo | None = None) -> dict | None:
    """One event with its stored (redacted) request, response and extra fields, plus the
    catalog's `retryable` and `action` for its code; None when no event has that id."""
    tz = tz or default_zone()
    rows = _select(
        f"SELECT {_DETAIL_COLUMNS} FROM ingest_event WHERE id = %s LIMIT 1", [event_id], tz
    )
    if not rows:
        return None
    row = rows[0]
    for column in ("request", "response", "extra"):  # Django reads jsonb as text
        if isinstance(row[column], str):
            row[column] = json.loads(row[column])
    info = current_catalog().get(row["code"])
    row["received_at"] = row["received_at"].astimezone(tz).isoformat()
    row["retryable"] = bool(info and info.retryable)
    row["action"] = info.action if info else ""
    return row


def shipment_timeline(
    *, waybill: str | None = None, order_id: str | None = None, tz: ZoneInfo | None = None
) -> dict | None:
    """A shipment's events, oldest first, with a summary; None when no event has that id.

    Give `waybill` or `order_id` (matched exactly, in any case). Returns {"summary": {"waybill"
    or "order_id", "first_seen", "last_seen", "events", "errors", "last_code", "last_meaning",
    "last_category", "shown"}, "events": [rows as in event_page]}: all time, the latest
    1,000 events at most (`shown` says how many).
    """
    tz = tz or default_zone()
    column, value = ("waybill", waybill) if waybill else ("order_id", order_id)
    if not value:
        raise ValueError("give a waybill or an order_id")
    newest = _select(
        f"SELECT {_LIST_COLUMNS} FROM ingest_event WHERE {column} = ANY(%s) "
        "ORDER BY ts DESC, id DESC LIMIT %s",
        [_id_variants(value), MAX_TIMELINE_EVENTS],
        tz,
    )
    if not newest:
        return None
    return {"summary": _summary(column, value, newest, tz), "events": newest[::-1]}


def _summary(column: str, value: str, newest: list[dict], tz: ZoneInfo) -> dict:
    with read_connection().cursor() as cursor:
        cursor.execute(
            f"SELECT min(ts), max(ts), count(*), count(*) FILTER (WHERE is_error) "
            f"FROM ingest_event WHERE {column} = ANY(%s)",
            [_id_variants(value)],
        )
        first, last, events, errors = cursor.fetchone()
    latest = newest[0]
    return {
        column: value,
        "first_seen": first.astimezone(tz).isoformat(),
        "last_seen": last.astimezone(tz).isoformat(),
        "events": events,
        "errors": errors,
        "last_code": latest["code"],
        "last_meaning": latest["meaning"],
        "last_category": latest["category"],
        "shown": len(newest),
    }
