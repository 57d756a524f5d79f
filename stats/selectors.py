"""Readers of raw events: the newest-first event list, one event, a shipment's timeline.

Aggregates are `stats.questions`' job; these return rows of `ingest_event` (stats.results'
EventRow, EventDetail, Timeline), times as aware datetimes in the asked zone.

Every query of raw events is bounded in time, so that it opens (and locks) only the day
partitions that can hold its rows, however many old partitions exist: the event list by its
window, one event and a shipment's timeline by the retention horizon (`retention_window`).
A NUL byte in a searched value is a ReadError naming the parameter (PostgreSQL text cannot
hold one), here where pages and the API both pass.

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
from typing import Any, cast
from zoneinfo import ZoneInfo

from ingest.catalog import current_catalog
from ingest.models import Courier
from stats.errors import ReadError
from stats.open_failures import dismissals
from stats.replica import read_connection
from stats.results import EventCount, EventDetail, EventRow, Timeline, TimelineSummary
from stats.sql import RAW, counts, readable, sql_conditions
from stats.window import Filters, Window, retention_window

MAX_TIMELINE_EVENTS = 1000
COUNT_CAP = 10_000  # the events page says "10,000+" past it
_LIST_COLUMNS = (
    "id, ts, endpoint, http_status, code, category, is_error, cp_id, courier, waybill, "
    "order_id, account_code, message, latency_ms"
)
_DETAIL_COLUMNS = _LIST_COLUMNS + ", received_at, event_key, request, response, extra"


class BadCursor(ReadError):
    """A `cursor` that this module did not write."""

    def __init__(self, reason: str = "not a cursor from a previous page's `next` link") -> None:
        super().__init__("cursor", reason)


def encode_cursor(*, ts: datetime, event_id: int) -> str:
    """The opaque cursor that continues a listing after the event (ts, event_id)."""
    return base64.urlsafe_b64encode(f"{ts.isoformat()}|{event_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """(ts, id) from a cursor; raises BadCursor for anything else."""
    try:
        ts_text, id_text = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        ts, event_id = datetime.fromisoformat(ts_text), int(id_text)
    except (binascii.Error, UnicodeError, ValueError):
        raise BadCursor() from None
    if ts.tzinfo is None or not 0 < event_id < 2**63:
        raise BadCursor()
    return ts, event_id


def encode_latency_cursor(*, latency_ms: float, ts: datetime, event_id: int) -> str:
    """The cursor that continues a slowest-first listing after the event (latency, ts, id)."""
    text = f"{latency_ms!r}|{ts.isoformat()}|{event_id}"
    return base64.urlsafe_b64encode(text.encode()).decode()


def decode_latency_cursor(cursor: str) -> tuple[float, datetime, int]:
    """(latency_ms, ts, id) from a slowest-first cursor; raises BadCursor for anything else
    (a newest-first cursor too: the two orders do not continue each other)."""
    try:
        latency_text, rest = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        latency_ms = float(latency_text)
    except (binascii.Error, UnicodeError, ValueError):
        raise BadCursor() from None
    if not 0 <= latency_ms < float("inf"):
        raise BadCursor()
    ts, event_id = decode_cursor(base64.urlsafe_b64encode(rest.encode()).decode())
    return latency_ms, ts, event_id


def id_variants(value: str) -> list[str]:
    """The value as typed, upper- and lower-cased: waybills are matched case-insensitively
    while still using the (waybill, ts) and (order_id, ts) indexes."""
    return list(dict.fromkeys([value, value.upper(), value.lower()]))


def like_escaped(text: str) -> str:
    """`text` as a literal inside a LIKE pattern (its `\\`, `%` and `_` escaped)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like_pattern(text: str) -> str:
    return f"%{like_escaped(text)}%"


def searchable(field: str, value: str) -> str:
    """`value` if PostgreSQL can compare it; ReadError on `field` for a NUL byte."""
    if "\x00" in value:
        raise ReadError(field, "must not contain a NUL byte.")
    return value


def _is_shipment_id(q: str, window: Window) -> bool:
    """Whether `q` is the waybill or order id of some event in the window (two index probes)."""
    variants = id_variants(q)
    window = readable(RAW, window)
    in_window = "ts >= %s AND ts < %s"
    with read_connection().cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM ingest_event WHERE waybill = ANY(%s) AND waybill <> ''"
            f" AND {in_window}) OR EXISTS (SELECT 1 FROM ingest_event WHERE order_id = ANY(%s)"
            f" AND order_id <> '' AND {in_window})",
            [variants, window.start, window.end, variants, window.start, window.end],
        )
        row = cursor.fetchone()
        return bool(row and row[0])


def _search_condition(q: str, window: Window) -> tuple[str, list[Any]]:
    """`q`: a waybill or order id (exact, any case) when one is in the window, else a
    substring of the message (case-insensitive). Ids first, so that a shipment search stays
    an index lookup."""
    if _is_shipment_id(q, window):
        variants = id_variants(q)
        return "(waybill = ANY(%s) OR order_id = ANY(%s))", [variants, variants]
    return "message ILIKE %s", [_like_pattern(q)]


def _row(values: tuple, names: list[str], tz: ZoneInfo, meanings: dict) -> dict[str, Any]:
    row = dict(zip(names, values, strict=True))
    ts = row.pop("ts")
    row = {"id": row.pop("id"), "timestamp": ts.astimezone(tz), **row}
    row["meaning"] = meanings.get(row["code"], "")
    return row


def _select(sql: str, params: list[Any], tz: ZoneInfo) -> list[dict[str, Any]]:
    catalog = current_catalog()
    meanings = {code: info.meaning for code, info in catalog.items()}
    with read_connection().cursor() as cursor:
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        rows = [_row(values, names, tz, meanings) for values in cursor.fetchall()]
    return _with_courier_names(rows)


def _with_courier_names(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A row that names its cp_id but not its courier gets the name known for that cp_id (the
    name last seen, as charts label couriers), so a page never shows "— (4)"."""
    unnamed = {row["cp_id"] for row in rows if row["cp_id"] and not row["courier"]}
    if not unnamed:
        return rows
    known = dict(Courier.objects.filter(cp_id__in=unnamed).values_list("cp_id", "name"))
    for row in rows:
        if row["cp_id"] in known and not row["courier"]:
            row["courier"] = known[row["cp_id"]]
    return rows


def _event_conditions(
    *,
    window: Window,
    filters: Filters,
    errors_only: bool,
    waybill: str | None,
    order_id: str | None,
    q: str | None,
    min_latency_ms: float | None = None,
    by_latency: bool = False,
) -> tuple[list[str], list[Any]]:
    """The WHERE of the event list, shared by its pages and its count so that the two agree."""
    conditions, params = sql_conditions(source=RAW, window=window, filters=filters)
    if errors_only:
        conditions.append("is_error")
    if min_latency_ms is not None:
        conditions.append("latency_ms >= %s")
        params.append(min_latency_ms)
    elif by_latency:
        conditions.append("latency_ms IS NOT NULL")
    for column, value in (("waybill", waybill), ("order_id", order_id)):
        if value:
            conditions.append(f"{column} = ANY(%s)")
            params.append(id_variants(searchable(column, value)))
    if q:
        condition, values = _search_condition(searchable("q", q), window)
        conditions.append(condition)
        params += values
    return conditions, params


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
    min_latency_ms: float | None = None,
    by_latency: bool = False,
) -> tuple[list[EventRow], str | None]:
    """One page of events in the window, newest first (slowest first with `by_latency`, then
    newest), and the cursor of the next page.

    Rows: id, timestamp (in the window's zone), endpoint, http_status, code, meaning,
    category, is_error, cp_id, courier (the name known for cp_id when the event named none),
    waybill, order_id, account_code, message, latency_ms (milliseconds). `min_latency_ms` keeps
    calls at least that slow; it and `by_latency` leave out calls without a latency. The
    cursor is None on the last page. Raises BadCursor for a bad cursor and ReadError for a NUL
    byte in `waybill`, `order_id` or `q`.
    """
    conditions, params = _event_conditions(
        window=window,
        filters=filters,
        errors_only=errors_only,
        waybill=waybill,
        order_id=order_id,
        q=q,
        min_latency_ms=min_latency_ms,
        by_latency=by_latency,
    )
    order = "latency_ms DESC, ts DESC, id DESC" if by_latency else "ts DESC, id DESC"
    if cursor and by_latency:
        conditions.append("(latency_ms, ts, id) < (%s, %s, %s)")
        params += list(decode_latency_cursor(cursor))
    elif cursor:
        conditions.append("(ts, id) < (%s, %s)")
        params += list(decode_cursor(cursor))
    sql = (
        f"SELECT {_LIST_COLUMNS} FROM ingest_event WHERE {' AND '.join(conditions)} "
        f"ORDER BY {order} LIMIT %s"
    )
    rows = cast(list[EventRow], _select(sql, [*params, limit + 1], window.tz))
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    if by_latency:
        assert last["latency_ms"] is not None  # the condition above
        return rows[:limit], encode_latency_cursor(
            latency_ms=last["latency_ms"], ts=last["timestamp"], event_id=last["id"]
        )
    return rows[:limit], encode_cursor(ts=last["timestamp"], event_id=last["id"])


def count_events(
    *,
    window: Window,
    filters: Filters,
    errors_only: bool,
    waybill: str | None = None,
    order_id: str | None = None,
    q: str | None = None,
    min_latency_ms: float | None = None,
    by_latency: bool = False,
) -> EventCount:
    """How many events `event_page` lists for the same arguments.

    Without a raw-only condition (`waybill`, `order_id`, `q`) the rollups hold the exact count
    (they are written with the rows, for the same quarter hours), so it is the number the
    overview's tiles show, however large. With one, the raw rows are counted up to COUNT_CAP (a
    count of millions would scan them all to print "10,000+")."""
    if not (waybill or order_id or q):
        [(events, errors)] = counts(window=window, filters=filters)
        return {"count": (errors if errors_only else events) or 0, "capped": False}
    conditions, params = _event_conditions(
        window=window,
        filters=filters,
        errors_only=errors_only,
        waybill=waybill,
        order_id=order_id,
        q=q,
        min_latency_ms=min_latency_ms,
        by_latency=by_latency,
    )
    sql = (
        f"SELECT count(*) FROM (SELECT 1 FROM ingest_event WHERE {' AND '.join(conditions)}"
        " LIMIT %s) AS capped"
    )
    with read_connection().cursor() as cursor:
        cursor.execute(sql, [*params, COUNT_CAP + 1])
        found = cursor.fetchone()[0]
    return {"count": min(found, COUNT_CAP), "capped": found > COUNT_CAP}


def event_detail(*, event_id: int, tz: ZoneInfo | None = None) -> EventDetail | None:
    """One event with its stored (redacted) request, response and extra fields, plus the
    catalog's `retryable` and `action` for its code; None when no event within the retention
    horizon has that id."""
    horizon = retention_window(tz=tz)
    rows = _select(
        f"SELECT {_DETAIL_COLUMNS} FROM ingest_event WHERE id = %s AND ts >= %s AND ts < %s "
        "LIMIT 1",
        [event_id, horizon.start, horizon.end],
        horizon.tz,
    )
    if not rows:
        return None
    row = rows[0]
    for column in ("request", "response", "extra"):  # Django reads jsonb as text
        if isinstance(row[column], str):
            row[column] = json.loads(row[column])
    info = current_catalog().get(row["code"])
    row["received_at"] = row["received_at"].astimezone(horizon.tz)
    row["retryable"] = bool(info and info.retryable)
    row["action"] = info.action if info else ""
    return cast(EventDetail, row)


def shipment_timeline(
    *, waybill: str | None = None, order_id: str | None = None, tz: ZoneInfo | None = None
) -> Timeline | None:
    """A shipment's events, oldest first, with a summary; None when no event has that id.

    Give `waybill` or `order_id` (matched exactly, in any case; ReadError on that name for a
    NUL byte). "summary": {"waybill" or "order_id", "first_seen", "last_seen", "events",
    "errors", "last_code", "last_meaning", "last_category", "shown"}; "events": rows as in
    event_page. Within the retention horizon (older events are pruned), the latest 1,000
    events at most (`shown` says how many).
    """
    column, value = ("waybill", waybill) if waybill else ("order_id", order_id)
    if not value:
        raise ValueError("give a waybill or an order_id")
    horizon = retention_window(tz=tz)
    newest = cast(
        list[EventRow],
        _select(
            f"SELECT {_LIST_COLUMNS} FROM ingest_event WHERE {column} = ANY(%s) "
            "AND ts >= %s AND ts < %s ORDER BY ts DESC, id DESC LIMIT %s",
            [id_variants(searchable(column, value)), horizon.start, horizon.end]
            + [MAX_TIMELINE_EVENTS],
            horizon.tz,
        ),
    )
    if not newest:
        return None
    timeline: Timeline = {
        "summary": _summary(column, value, newest, horizon),
        "events": newest[::-1],
    }
    if order_id:
        timeline["dismissals"] = [
            {**row, "dismissed_at": row["dismissed_at"].astimezone(horizon.tz)}
            for row in dismissals(order_id=value)[0]
        ]
    return timeline


def _summary(column: str, value: str, newest: list[EventRow], horizon: Window) -> TimelineSummary:
    with read_connection().cursor() as cursor:
        cursor.execute(
            f"SELECT min(ts), max(ts), count(*), count(*) FILTER (WHERE is_error) "
            f"FROM ingest_event WHERE {column} = ANY(%s) AND ts >= %s AND ts < %s",
            [id_variants(value), horizon.start, horizon.end],
        )
        first, last, events, errors = cursor.fetchone()
    latest = newest[0]
    summary: TimelineSummary = {
        "first_seen": first.astimezone(horizon.tz),
        "last_seen": last.astimezone(horizon.tz),
        "events": events,
        "errors": errors,
        "last_code": latest["code"],
        "last_meaning": latest["meaning"],
        "last_category": latest["category"],
        "shown": len(newest),
    }
    if column == "waybill":
        summary["waybill"] = value
    else:
        summary["order_id"] = value
    return summary
