"""Finding shipments and counting events: prefix search of waybills and order ids, and the
events page's count of matches.

Both read the raw `ingest_event` rows, always bounded: the search to a time window and a
number of matches, the count to `COUNT_CAP` rows (a count of millions would scan them all to
print "10,000+"), so each answers from the window's partitions and the (ts, id) index.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from django.db import connection

from stats.questions import RAW, sql_conditions
from stats.window import Filters, Window

COUNT_CAP = 10_000
KINDS = ("waybill", "order_id")


class ShipmentMatch(TypedDict):
    kind: str  # "waybill" or "order_id"
    value: str
    events: int
    errors: int
    last_seen: datetime
    courier: str
    account_code: str


class EventCount(TypedDict):
    count: int  # exact when `capped` is false, else COUNT_CAP
    capped: bool


def _variants(text: str) -> list[str]:
    return list(dict.fromkeys([text, text.upper(), text.lower()]))


def _prefix_patterns(prefix: str) -> list[str]:
    escaped = [
        v.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for v in _variants(prefix)
    ]
    return [f"{value}%" for value in escaped]


def shipment_matches(*, prefix: str, window: Window, limit: int = 20) -> list[ShipmentMatch]:
    """Waybills and order ids starting with `prefix` (as typed, upper or lower case) that have
    calls in the window: the most recently seen first, at most `limit` of them."""
    prefix = prefix.strip()
    if not prefix:
        return []
    patterns = _prefix_patterns(prefix)
    arms = [
        f"""SELECT '{kind}' AS kind, {kind} AS value, count(*) AS events,
                   count(*) FILTER (WHERE is_error) AS errors, max(ts) AS last_seen,
                   max(courier) AS courier, max(account_code) AS account_code
              FROM ingest_event
             WHERE ts >= %s AND ts < %s AND {kind} LIKE ANY(%s) AND {kind} <> ''
             GROUP BY {kind}"""
        for kind in KINDS  # identifiers from KINDS only; values are parameters
    ]
    sql = " UNION ALL ".join(f"({arm})" for arm in arms) + " ORDER BY last_seen DESC LIMIT %s"
    params: list = []
    for _ in KINDS:
        params += [window.start, window.end, patterns]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        names = [column.name for column in cursor.description]
        rows = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    for row in rows:
        row["last_seen"] = row["last_seen"].astimezone(window.tz)
        row["courier"] = row["courier"] or ""
        row["account_code"] = row["account_code"] or ""
    return rows  # type: ignore[return-value]


def count_events(
    *,
    window: Window,
    filters: Filters,
    errors_only: bool,
    waybill: str | None = None,
    order_id: str | None = None,
    message: str | None = None,
    ids: str | None = None,
) -> EventCount:
    """How many events the events page lists for these conditions, up to COUNT_CAP.

    `ids` matches a waybill or an order id exactly (any case), `message` a substring of the
    message (case-insensitive): the two readings of the page's search box.
    """
    conditions, params = sql_conditions(source=RAW, window=window, filters=filters)
    if errors_only:
        conditions.append("is_error")
    for column, value in (("waybill", waybill), ("order_id", order_id)):
        if value:
            conditions.append(f"{column} = ANY(%s)")
            params.append(_variants(value))
    if ids:
        conditions.append("(waybill = ANY(%s) OR order_id = ANY(%s))")
        params += [_variants(ids), _variants(ids)]
    if message:
        escaped = message.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append("message ILIKE %s")
        params.append(f"%{escaped}%")
    sql = (
        f"SELECT count(*) FROM (SELECT 1 FROM ingest_event WHERE {' AND '.join(conditions)}"
        " LIMIT %s) AS capped"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, COUNT_CAP + 1])
        found = cursor.fetchone()[0]
    return {"count": min(found, COUNT_CAP), "capped": found > COUNT_CAP}


def is_shipment_id(text: str) -> bool:
    """Whether `text` is a stored waybill or order id (any case): the search box then means
    that shipment, not a message substring (as the event list reads it)."""
    variants = _variants(text)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM ingest_event WHERE waybill = ANY(%s) AND waybill <> '')"
            " OR EXISTS (SELECT 1 FROM ingest_event WHERE order_id = ANY(%s) AND order_id <> '')",
            [variants, variants],
        )
        return bool(cursor.fetchone()[0])
