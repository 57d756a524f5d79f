"""The weekly report (SPEC "Weekly CSV report"): errors per (code, courier) for one ISO week.

Read from the courier rollup through `stats.aggregate_query` (the one SQL builder): this week's
errors per (category, code, courier), every courier's calls this week and last week's errors,
joined in SQL and streamed from a server-side cursor, so memory stays flat however many rows.

Columns: week, category, code, meaning, cp_id (empty for "no courier"), courier, errors, calls
(all calls to that courier that week), error_rate (errors / calls, 4 decimals),
prev_week_errors, change_pct ((errors - prev) / prev x 100, 1 decimal; empty when prev is 0).
Rows are ordered by errors, most first, then code and cp_id. In the CSV a text cell that begins
with `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with `'` (SPEC), so that a
spreadsheet never runs a courier's name as a formula.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from stats.errors import ReadError
from stats.questions import courier_label
from stats.rates import change_pct, rate
from stats.replica import read_connection
from stats.results import WeeklyRow
from stats.sql import aggregate_query, choose_source
from stats.window import Filters, Window

CSV_COLUMNS = (
    "week",
    "category",
    "code",
    "meaning",
    "cp_id",
    "courier",
    "errors",
    "calls",
    "error_rate",
    "prev_week_errors",
    "change_pct",
)
_WEEK = re.compile(r"(\d{4})-W(\d{2})")
_FETCH_ROWS = 500
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def parse_iso_week(week: str, tz: ZoneInfo) -> Window:
    """`2026-W47` -> [Monday 00:00, next Monday 00:00) in `tz`; ReadError on `week` (a
    ValueError) when not a week."""
    match = _WEEK.fullmatch(week.strip())
    try:
        monday = date.fromisocalendar(int(match[1]), int(match[2]), 1) if match else None
    except ValueError:
        monday = None
    if monday is None or not 2000 <= monday.year < 2100:
        raise ReadError("week", f"{week!r} is not an ISO week such as 2026-W47 (years 2000-2099)")
    return Window(
        start=datetime.combine(monday, time(0), tzinfo=tz),
        end=datetime.combine(monday + timedelta(days=7), time(0), tzinfo=tz),
        tz=tz,
    )


def last_whole_week(*, today: date) -> str:
    """The last complete ISO week before `today` (a local date), as "2026-W47": `--week last`."""
    year, week, _ = (today - timedelta(days=7)).isocalendar()
    return f"{year}-W{week:02d}"


def report_filename(week: str) -> str:
    return f"clickpost-errors-{week}.csv"


def _weekly_query(window: Window) -> tuple[str, list[Any]]:
    group = ["category", "code", "cp_id"]
    source = choose_source(dims=group)
    nothing = Filters()
    errors_sql, errors_params = aggregate_query(
        source=source, window=window, filters=nothing, group=group
    )
    calls_sql, calls_params = aggregate_query(
        source=source, window=window, filters=nothing, group=["cp_id"]
    )
    # The previous ISO week, not window.previous(): a week with a DST change lasts 167 or 169 h.
    monday = window.start.date() - timedelta(days=7)
    last_week = Window(
        start=datetime.combine(monday, time(0), tzinfo=window.tz), end=window.start, tz=window.tz
    )
    prev_sql, prev_params = aggregate_query(
        source=source, window=last_week, filters=nothing, group=group
    )
    sql = f"""
        WITH week AS ({errors_sql}), calls AS ({calls_sql}), prev AS ({prev_sql})
        SELECT w.category, w.code, coalesce(c.meaning, 'not in the catalog'), w.cp_id,
               k.name, w.errors, calls.events, coalesce(p.errors, 0)
          FROM week w
          JOIN calls ON calls.cp_id = w.cp_id
          LEFT JOIN prev p ON (p.category, p.code, p.cp_id) = (w.category, w.code, w.cp_id)
          LEFT JOIN ingest_codeentry c ON c.code = w.code
          LEFT JOIN ingest_courier k ON k.cp_id = w.cp_id
         WHERE w.errors > 0
         ORDER BY w.errors DESC, w.code, w.cp_id, w.category"""
    return sql, errors_params + calls_params + prev_params


def _records(week: str, tz: ZoneInfo) -> Iterator[tuple]:
    """(category, code, meaning, cp_id, courier label, errors, calls, previous errors) per
    row, streamed from a server-side cursor; the rows and the CSV are both built from these."""
    sql, params = _weekly_query(parse_iso_week(week, tz))
    with read_connection().chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(_FETCH_ROWS):
            for category, code, meaning, cp_id, name, errors, calls, before in batch:
                courier = courier_label(cp_id, {cp_id: name} if name else {})
                yield category, code, meaning, cp_id, courier, errors, calls, before


def weekly_rows(*, week: str, tz: ZoneInfo) -> Iterator[WeeklyRow]:
    """One dict per (category, code, courier) with errors that ISO week in `tz`, keyed by
    CSV_COLUMNS; numbers as numbers (error_rate a fraction 0..1, change_pct a percentage or
    None). Raises ReadError (a ValueError) for a bad week. Streams from a server-side cursor."""
    for category, code, meaning, cp_id, courier, errors, calls, before in _records(week, tz):
        yield {
            "week": week.strip(),
            "category": category,
            "code": code,
            "meaning": meaning,
            "cp_id": cp_id or None,
            "courier": courier,
            "errors": errors,
            "calls": calls,
            "error_rate": rate(errors, calls),
            "prev_week_errors": before,
            "change_pct": change_pct(errors, before),
        }


class _Line:
    """A file-like object whose write() returns what it was given (csv.writer -> one line)."""

    def write(self, text: str) -> str:
        return text


def neutralised(text: str) -> str:
    """A text cell that a spreadsheet would read as a formula (SPEC), made inert with `'`."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def weekly_csv_lines(*, week: str, tz: ZoneInfo) -> Iterator[str]:
    """The CSV text (UTF-8 when encoded, CRLF line ends), header first, one line at a time;
    every text cell neutralised. Raises ReadError for a bad week before the first line."""
    parse_iso_week(week, tz)
    writer = csv.writer(_Line())
    yield writer.writerow(CSV_COLUMNS)
    week = week.strip()
    for category, code, meaning, cp_id, courier, errors, calls, before in _records(week, tz):
        pct = change_pct(errors, before)
        yield writer.writerow(
            [
                week,
                neutralised(category),
                code,
                neutralised(meaning),
                cp_id or "",
                neutralised(courier),
                errors,
                calls,
                f"{rate(errors, calls):.4f}",
                before,
                "" if pct is None else f"{pct:.1f}",
            ]
        )


def weekly_json_chunks(*, week: str, tz: ZoneInfo) -> Iterator[str]:
    """The same rows as a JSON array, one row at a time."""
    parse_iso_week(week, tz)
    yield "["
    for index, row in enumerate(weekly_rows(week=week, tz=tz)):
        yield ("," if index else "") + json.dumps(row, ensure_ascii=False)
    yield "]"
