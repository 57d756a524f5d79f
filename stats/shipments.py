"""Finding shipments: prefix search of waybills and order ids.

It reads the raw `ingest_event` rows, bounded to a time window and a number of matches, so it
answers from the window's partitions. (The events page's count is `selectors.count_events`,
built from the same conditions as the list it counts.)
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from stats.replica import read_connection
from stats.selectors import id_variants, like_escaped
from stats.window import Window

KINDS = ("waybill", "order_id")


class ShipmentMatch(TypedDict):
    kind: str  # "waybill" or "order_id"
    value: str
    events: int
    errors: int
    last_seen: datetime
    courier: str
    account_code: str


def _prefix_patterns(prefix: str) -> list[str]:
    return [f"{like_escaped(value)}%" for value in id_variants(prefix)]


def shipment_matches(*, prefix: str, window: Window, limit: int = 20) -> list[ShipmentMatch]:
    """Waybills and order ids starting with `prefix` (as typed, upper or lower case) that have
    calls in the window: the most recently seen first, at most `limit` of them. The courier is
    the name its calls sent, else the name known for its cp_id."""
    prefix = prefix.strip()
    if not prefix:
        return []
    patterns = _prefix_patterns(prefix)
    arms = [
        f"""SELECT '{kind}' AS kind, {kind} AS value, count(*) AS events,
                   count(*) FILTER (WHERE is_error) AS errors, max(ts) AS last_seen,
                   COALESCE(NULLIF(max(e.courier), ''), (
                       SELECT k.name FROM ingest_courier k WHERE k.cp_id = max(e.cp_id)
                   )) AS courier,
                   max(account_code) AS account_code
              FROM ingest_event e
             WHERE ts >= %s AND ts < %s AND {kind} LIKE ANY(%s) AND {kind} <> ''
             GROUP BY {kind}"""
        for kind in KINDS  # identifiers from KINDS only; values are parameters
    ]
    sql = " UNION ALL ".join(f"({arm})" for arm in arms) + " ORDER BY last_seen DESC LIMIT %s"
    params: list = []
    for _ in KINDS:
        params += [window.start, window.end, patterns]
    with read_connection().cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        names = [column.name for column in cursor.description]
        rows = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    for row in rows:
        row["last_seen"] = row["last_seen"].astimezone(window.tz)
        row["courier"] = row["courier"] or ""
        row["account_code"] = row["account_code"] or ""
    return rows  # type: ignore[return-value]
