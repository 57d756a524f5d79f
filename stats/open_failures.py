"""Open failures: the references whose latest call failed, as ingest keeps them
(ingest_open_failure), less those someone dismissed since; their list, counts, CSV, dismissals.

A reference is open when its state row says so and no dismissal covers its latest call
(`through` at or after `decided`): a newer failure moves `decided` past the dismissal and
reopens it, a late older one does not. Every wait is measured from `now` given by the caller.
"""

from __future__ import annotations

import base64
import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any, TypedDict

from django.db import connection, transaction

from ingest.events import ENDPOINT_NAMES
from ingest.open_failures import STATE_AS_OF
from stats.errors import ReadError
from stats.replica import read_connection
from stats.reports import neutralised
from stats.results import DismissalRow
from stats.window import Filters, retention_window

MAX_PAGE = 500
MAX_DISMISS = 1000  # references in one dismiss request
HOUR = timedelta(hours=1)
DAY = timedelta(hours=24)
SUMMARY_BY = ("action", "code", "courier", "endpoint", "account_code")
CSV_COLUMNS = [
    "endpoint",
    "order_id",
    "waybill",
    "cp_id",
    "courier",
    "account_code",
    "code",
    "meaning",
    "category",
    "action",
    "retryable",
    "first_failed_at",
    "last_failed_at",
    "attempts",
    "last_event_id",
]


@dataclass(frozen=True)
class OpenFilters:
    """The read filters, the catalog's action hint and retryable flag, and a minimum wait."""

    filters: Filters = Filters()
    action: tuple[str, ...] = ()
    retryable: bool | None = None
    older_than_minutes: int | None = None


class OpenFailureRow(TypedDict):
    endpoint: str
    order_id: str
    waybill: str
    cp_id: int | None
    courier: str
    account_code: str
    code: int
    meaning: str
    category: str
    action: str
    retryable: bool
    first_failed_at: datetime
    last_failed_at: datetime
    attempts: int
    last_event_id: int


class SummaryRow(TypedDict):
    key: Any
    label: str
    open: int
    over_1h: int
    over_24h: int
    oldest_failed_at: datetime


class ActionGroup(TypedDict):
    action: str
    code: int
    meaning: str
    open: int
    over_1h: int
    over_24h: int
    oldest_failed_at: datetime


@dataclass
class Summary:
    open: int = 0
    over_1h: int = 0
    over_24h: int = 0
    oldest_failed_at: datetime | None = None
    by: dict[str, list[SummaryRow]] = field(default_factory=dict)
    what_to_do: list[ActionGroup] = field(default_factory=list)


_OPEN = """
  FROM ingest_open_failure o LEFT JOIN ingest_codeentry c ON c.code = o.code
 WHERE o.is_open
   AND NOT EXISTS (SELECT 1 FROM ingest_open_failure_dismissal d
                    WHERE (d.endpoint, d.ref_kind, d.ref) = (o.endpoint, o.ref_kind, o.ref)
                      AND (d.through_ts, d.through_id) >= (o.decided_ts, o.decided_id))"""
_ROW = (
    "o.endpoint, o.order_id, o.waybill, nullif(o.cp_id, 0), o.courier, o.account_code, o.code, "
    "coalesce(c.meaning, ''), coalesce(c.category, 'unknown'), coalesce(c.action, ''), "
    "coalesce(c.retryable, false), o.first_failed_at, o.decided_ts, o.attempts, o.decided_id"
)


def _conditions(where: OpenFilters, *, now: datetime) -> tuple[str, list[Any]]:
    sql: list[str] = []
    args: list[Any] = []
    f = where.filters
    for column, values in (
        ("o.endpoint", f.endpoint),
        ("coalesce(c.category, 'unknown')", f.category),
        ("o.code", f.code),
        ("o.cp_id", f.cp_id),
        ("o.account_code", f.account_code),
        ("coalesce(c.action, '')", where.action),
    ):
        if values:
            sql.append(f"{column} = ANY(%s)")
            args.append(list(values))
    if where.retryable is not None:
        sql.append("coalesce(c.retryable, false) = %s")
        args.append(where.retryable)
    if where.older_than_minutes is not None:
        sql.append("o.first_failed_at <= %s")
        args.append(now - timedelta(minutes=where.older_than_minutes))
    return "".join(f" AND {s}" for s in sql), args


def check_names(where: OpenFilters) -> None:
    """An `endpoint` or `action` that no reference can have is a mistake, not an empty list:
    ReadError naming the parameter and the value."""
    if where.action:
        with read_connection().cursor() as cursor:
            cursor.execute("SELECT DISTINCT action FROM ingest_codeentry")
            known_actions = {action for (action,) in cursor.fetchall()}
        for action in where.action:
            if action not in known_actions:
                raise ReadError("action", f"{action!r} is not an action of the code catalog.")
    if where.filters.endpoint:
        with read_connection().cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT endpoint FROM ingest_open_failure WHERE endpoint = ANY(%s)",
                [list(where.filters.endpoint)],
            )
            known_endpoints = {name for (name,) in cursor.fetchall()} | set(ENDPOINT_NAMES)
        for endpoint in where.filters.endpoint:
            if endpoint not in known_endpoints:
                raise ReadError("endpoint", f"{endpoint!r} is not an endpoint seen by ingest.")


# ---------------------------------------------------------------- the list


def encode_cursor(row: OpenFailureRow, key: tuple[str, str]) -> str:
    text = json.dumps([row["first_failed_at"].isoformat(), row["endpoint"], *key])
    return base64.urlsafe_b64encode(text.encode()).decode()


def decode_cursor(text: str) -> tuple[datetime, str, str, str]:
    """A cursor of `encode_cursor`; ReadError on `cursor` for anything else."""
    try:
        at, endpoint, kind, ref = json.loads(base64.urlsafe_b64decode(text.encode()))
        return datetime.fromisoformat(at), str(endpoint), str(kind), str(ref)
    except (ValueError, TypeError):
        raise ReadError("cursor", "not a cursor of this list.") from None


def _key(row: OpenFailureRow) -> tuple[str, str]:
    return ("order", row["order_id"]) if row["order_id"] else ("waybill", row["waybill"])


def _rows(sql: str, args: Sequence[Any], tz: tzinfo | None) -> Iterator[OpenFailureRow]:
    with read_connection().cursor() as cursor:
        cursor.execute(sql, args)
        for values in cursor.fetchall():
            row = dict(zip(CSV_COLUMNS, values, strict=True))
            for name in ("first_failed_at", "last_failed_at"):
                row[name] = row[name].astimezone(tz)
            yield row  # type: ignore[misc]


def open_page(
    *,
    where: OpenFilters,
    now: datetime,
    cursor: str | None = None,
    limit: int = 50,
    tz: tzinfo | None = None,
) -> tuple[list[OpenFailureRow], str | None]:
    """The longest wait first; the next page's cursor, or None on the last page."""
    conditions, args = _conditions(where, now=now)
    if cursor:
        conditions += " AND (o.first_failed_at, o.endpoint, o.ref_kind, o.ref) > (%s, %s, %s, %s)"
        args += list(decode_cursor(cursor))
    rows = list(
        _rows(
            f"SELECT {_ROW} {_OPEN}{conditions} "
            "ORDER BY o.first_failed_at, o.endpoint, o.ref_kind, o.ref LIMIT %s",
            [*args, limit + 1],
            tz,
        )
    )
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor(last, _key(last))


def open_csv_lines(*, where: OpenFilters, now: datetime, tz: tzinfo | None = None) -> Iterator[str]:
    """Every open failure in the list's order as CSV lines, text cells neutralised; read in
    pages of the keyset so that no more than one page is held at a time."""
    writer = csv.writer(_Line())
    yield writer.writerow(CSV_COLUMNS)
    cursor: str | None = None
    while True:
        rows, cursor = open_page(where=where, now=now, cursor=cursor, limit=MAX_PAGE, tz=tz)
        for row in rows:
            yield writer.writerow(
                [
                    neutralised(str(value)) if isinstance(value, str) else _cell(value)
                    for value in row.values()
                ]
            )
        if cursor is None:
            return


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return value


class _Line:
    def write(self, text: str) -> str:
        return text


# ---------------------------------------------------------------- counts

# The summary's grouping sets: each dimension alone, and the total. A code determines its
# action, so the action rows and "what to do" (action x code) are sums of the code rows, made
# in Python with the catalog: the scan of the open rows aggregates narrow columns only.
_GROUPS = {"code": "o.code", "courier": "o.cp_id", "endpoint": "o.endpoint",
           "account_code": "o.account_code"}  # fmt: skip
_ALL = 2 ** len(_GROUPS) - 1  # grouping() of the total: no dimension grouped


def _mask(name: str) -> int:
    """grouping() of the set holding `name` alone (a bit per dimension, the first highest)."""
    return _ALL & ~(1 << (len(_GROUPS) - 1 - list(_GROUPS).index(name)))


def summary(*, where: OpenFilters, now: datetime, top: int = 50) -> Summary:
    """Counts by action, code, courier, endpoint and account (each with how many wait over
    1 h and over 24 h, the largest first, `top` per dimension), the total, and "what to do":
    the counts by action and code together."""
    conditions, args = _conditions(where, now=now)
    keys = list(_GROUPS.values())
    sql = (
        f"SELECT grouping({', '.join(keys)}), {', '.join(keys)}, max(o.courier), count(*), "
        "count(*) FILTER (WHERE o.first_failed_at <= %s), "
        "count(*) FILTER (WHERE o.first_failed_at <= %s), min(o.first_failed_at) "
        f"{_OPEN}{conditions} GROUP BY GROUPING SETS ((), {', '.join(f'({k})' for k in keys)})"
    )
    with read_connection().cursor() as cursor:
        cursor.execute(sql, [now - HOUR, now - DAY, *args])
        rows = cursor.fetchall()
        cursor.execute("SELECT code, action, meaning FROM ingest_codeentry")
        catalog = {code: (action, meaning) for code, action, meaning in cursor.fetchall()}
    result = Summary(by={name: [] for name in SUMMARY_BY})
    names = {_mask(name): name for name in _GROUPS}
    by_action: dict[str, list] = {}
    for mask, code, cp_id, endpoint, account, courier, count, over_1h, over_24h, oldest in rows:
        counts = {"open": count, "over_1h": over_1h, "over_24h": over_24h}
        if mask == _ALL:
            result.open, result.over_1h, result.over_24h = count, over_1h, over_24h
            result.oldest_failed_at = oldest
            continue
        name = names[mask]
        key, label = {
            "code": (code, catalog.get(code, ("", ""))[1]),
            "courier": (cp_id, courier),
            "endpoint": (endpoint, endpoint),
            "account_code": (account, account),
        }[name]
        row: SummaryRow = {"key": key, "label": label, **counts, "oldest_failed_at": oldest}  # type: ignore[typeddict-item]
        result.by[name].append(row)
        if name == "code":
            action, meaning = catalog.get(code, ("", ""))
            result.what_to_do.append(
                {
                    "action": action,
                    "code": code,
                    "meaning": meaning,
                    **counts,  # type: ignore[typeddict-item]
                    "oldest_failed_at": oldest,
                }
            )
            total = by_action.setdefault(action, [0, 0, 0, oldest])
            total[0], total[1], total[2] = total[0] + count, total[1] + over_1h, total[2] + over_24h
            total[3] = min(total[3], oldest)
    result.by["action"] = [
        {"key": action, "label": action, "open": n, "over_1h": h, "over_24h": d,
         "oldest_failed_at": oldest}
        for action, (n, h, d, oldest) in by_action.items()
    ]  # fmt: skip
    for grouped in result.by.values():
        grouped.sort(key=lambda r: (-r["open"], r["oldest_failed_at"]))
        del grouped[top:]
    result.what_to_do.sort(key=lambda g: (-g["open"], g["oldest_failed_at"]))
    return result


def count_open(*, where: OpenFilters, now: datetime, group: str | None = None) -> dict[Any, int]:
    """How many open references match `where` (their wait over `older_than_minutes`), in all
    or per value of `group` (an alert rule's group_by column): the alert metric."""
    conditions, args = _conditions(where, now=now)
    column = {
        None: "''",
        "cp_id": "o.cp_id",
        "account_code": "o.account_code",
        "endpoint": "o.endpoint",
        "code": "o.code",
        "category": "coalesce(c.category, 'unknown')",
    }[group]
    with read_connection().cursor() as cursor:
        cursor.execute(f"SELECT {column}, count(*) {_OPEN}{conditions} GROUP BY 1", args)
        return dict(cursor.fetchall())


# ---------------------------------------------------------------- dismissals


class DismissOutcome(TypedDict):
    endpoint: str
    order_id: str
    waybill: str
    dismissed: bool
    status: str  # "dismissed" | "not_open"


@dataclass(frozen=True)
class Ref:
    endpoint: str
    order_id: str = ""
    waybill: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        if self.order_id:
            return (self.endpoint, "order", self.order_id)
        return (self.endpoint, "waybill", self.waybill)


_DISMISS = """
WITH asked AS (
    SELECT DISTINCT * FROM unnest(%s::text[], %s::text[], %s::text[]) AS a(endpoint, ref_kind, ref)
)
INSERT INTO ingest_open_failure_dismissal
       (endpoint, ref_kind, ref, through_ts, through_id, dismissed_at, dismissed_by, note)
SELECT o.endpoint, o.ref_kind, o.ref, o.decided_ts, o.decided_id, %s, %s, %s
  FROM asked a JOIN ingest_open_failure o USING (endpoint, ref_kind, ref)
 WHERE o.is_open
   AND NOT EXISTS (SELECT 1 FROM ingest_open_failure_dismissal d
                    WHERE (d.endpoint, d.ref_kind, d.ref) = (o.endpoint, o.ref_kind, o.ref)
                      AND (d.through_ts, d.through_id) >= (o.decided_ts, o.decided_id))
RETURNING endpoint, ref_kind, ref
"""


def dismiss(*, refs: Sequence[Ref], note: str, by: str, now: datetime) -> list[DismissOutcome]:
    """Dismiss the open references among `refs` (up to their latest call), each outcome in
    the order asked; one that is not open is reported so, and nothing is written for it."""
    keys = [ref.key for ref in refs]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            _DISMISS,
            [[k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys], now, by, note],
        )
        done = set(cursor.fetchall())
    return [
        {
            "endpoint": ref.endpoint,
            "order_id": ref.order_id,
            "waybill": "" if ref.order_id else ref.waybill,
            "dismissed": ref.key in done,
            "status": "dismissed" if ref.key in done else "not_open",
        }
        for ref in refs
    ]


_DISMISSALS = """
SELECT d.id, d.endpoint, CASE WHEN d.ref_kind = 'order' THEN d.ref ELSE '' END,
       CASE WHEN d.ref_kind = 'waybill' THEN d.ref ELSE '' END, d.dismissed_at, d.dismissed_by,
       d.note, coalesce((o.decided_ts, o.decided_id) > (d.through_ts, d.through_id)
                        AND o.is_open, false)
  FROM ingest_open_failure_dismissal d
  LEFT JOIN ingest_open_failure o USING (endpoint, ref_kind, ref)
"""
_DISMISSAL_NAMES = tuple(DismissalRow.__annotations__)


def dismissals(
    *, before_id: int | None = None, limit: int = 50, order_id: str | None = None
) -> tuple[list[DismissalRow], int | None]:
    """Dismissals, newest first (`reopened`: a newer failure came since); the id to continue
    from, or None. With `order_id`, that order's only (its timeline)."""
    sql, args = _DISMISSALS + " WHERE true", list[Any]()
    if before_id is not None:
        sql += " AND d.id < %s"
        args.append(before_id)
    if order_id is not None:
        sql += " AND d.ref_kind = 'order' AND d.ref = %s"
        args.append(order_id)
    sql += " ORDER BY d.id DESC LIMIT %s"
    with read_connection().cursor() as cursor:
        cursor.execute(sql, [*args, limit + 1])
        rows = [dict(zip(_DISMISSAL_NAMES, r, strict=True)) for r in cursor.fetchall()]
    more = len(rows) > limit
    page: list[DismissalRow] = rows[:limit]  # type: ignore[assignment]
    return page, (page[-1]["id"] if more else None)


def headline(*, now: datetime) -> tuple[int, datetime | None]:
    """How many references are open, and since when the oldest waits: the overview's tile."""
    with read_connection().cursor() as cursor:
        cursor.execute(f"SELECT count(*), min(o.first_failed_at) {_OPEN}")
        count, oldest = cursor.fetchone()
    return count, oldest


_OPEN_AS_OF = (
    STATE_AS_OF
    + """
SELECT count(*), count(*) FILTER (WHERE a.tail_first <= %(day_before)s)
  FROM as_of a
 WHERE a.last_failed
   AND NOT EXISTS (SELECT 1 FROM ingest_open_failure_dismissal d
                    WHERE (d.endpoint, d.ref_kind, d.ref) = (a.endpoint, a.ref_kind, a.ref)
                      AND d.dismissed_at < %(at)s
                      AND (d.through_ts, d.through_id) >= (a.last_ts, a.last_id))"""
)


def open_at(*, at: datetime) -> tuple[int, int]:
    """How many references were open at `at` (not dismissed by then), and how many of them
    had been failing for over 24 hours, from the calls stored with earlier timestamps within
    the retention horizon: the same function of the calls as the state ingest keeps."""
    with read_connection().cursor() as cursor:
        cursor.execute(
            _OPEN_AS_OF,
            {"since": retention_window().start, "at": at, "day_before": at - DAY},
        )
        opened, over_24h = cursor.fetchone()
    return opened, over_24h
