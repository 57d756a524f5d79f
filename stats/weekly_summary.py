"""The weekly report's companion: "what changed this week?" without a pivot table.

SPEC's CSV (stats.reports) lists errors per (category, code, courier) and stays as it is. This
summary answers the manager's questions from the same rollups: totals, per courier, per account,
and the top movers (code x courier) sorted by the absolute change in errors, each with its volume
beside it so a jump from 1 to 4 errors does not look like an incident. Totals, couriers and
accounts carry this week's p50_ms and p95_ms (stats.latency; blank without latencies). It also
says whether each week holds complete data (a previous week with 5 days of data makes every
change look large).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from typing import TypedDict
from zoneinfo import ZoneInfo

from django.utils import timezone

from stats.latency import Histogram, histograms_by, percentile
from stats.open_failures import open_at
from stats.questions import counts, labeler
from stats.rates import change_pct, rate
from stats.replica import read_connection
from stats.reports import parse_iso_week
from stats.window import Filters, Window

TOP_MOVERS = 20
_EDGE = timedelta(hours=1)  # a week whose data starts or stops more than this inside is partial
SUMMARY_COLUMNS = (
    "week",
    "section",
    "key",
    "label",
    "calls",
    "errors",
    "error_rate",
    "prev_calls",
    "prev_errors",
    "change_errors",
    "change_pct",
    "p50_ms",
    "p95_ms",
    "open_at_end",
    "open_over_24h",
)


class SummaryRow(TypedDict):
    section: str  # total, courier, account or mover
    key: str
    label: str
    calls: int
    errors: int
    error_rate: float
    prev_calls: int
    prev_errors: int
    change_errors: int
    change_pct: float | None
    p50_ms: float | None  # this week's calls with a latency; None without any (and for movers)
    p95_ms: float | None


class Coverage(TypedDict):
    start: datetime
    end: datetime
    first: datetime | None  # first quarter hour with calls
    last: datetime | None
    days_with_data: int
    days: int
    over: bool  # the week has ended
    starts_late: bool  # its first calls are more than an hour after the week starts
    ends_early: bool  # the week is over and its last calls are more than an hour before its end
    complete: bool


def previous_week(window: Window) -> Window:
    """The ISO week before `window` (167 or 169 hours across a DST change)."""
    monday = window.start.date() - timedelta(days=7)
    return Window(
        start=datetime.combine(monday, time(0), tzinfo=window.tz), end=window.start, tz=window.tz
    )


def coverage(*, window: Window, now: datetime) -> Coverage:
    """Which part of the week holds data: first and last quarter hour with calls and the number
    of local days with calls. `complete` when the week is over and its calls run from its
    first hour to its last, with calls on every day."""
    with read_connection().cursor() as cursor:
        cursor.execute(
            "SELECT min(bucket), max(bucket), count(DISTINCT (bucket AT TIME ZONE %s)::date)"
            " FROM ingest_rollup_category WHERE bucket >= %s AND bucket < %s AND events > 0",
            [str(window.tz), window.start, window.end],
        )
        first, last, days_with_data = cursor.fetchone()
    days = round((window.end - window.start) / timedelta(days=1))
    over = window.end <= now
    starts_late = first is None or first > window.start + _EDGE
    ends_early = over and (last is None or last < window.end - _EDGE - timedelta(minutes=15))
    return {
        "start": window.start,
        "end": window.end,
        "first": first.astimezone(window.tz) if first else None,
        "last": last.astimezone(window.tz) if last else None,
        "days_with_data": days_with_data,
        "days": days,
        "over": over,
        "starts_late": starts_late,
        "ends_early": ends_early,
        "complete": over and days_with_data >= days and not starts_late and not ends_early,
    }


def _row(
    section: str, key: str, label: str, now: tuple, before: tuple, latency: Histogram | None = None
) -> SummaryRow:
    calls, errors = now
    latency = latency or {}
    prev_calls, prev_errors = before
    return {
        "section": section,
        "key": key,
        "label": label,
        "calls": calls,
        "errors": errors,
        "error_rate": rate(errors, calls),
        "prev_calls": prev_calls,
        "prev_errors": prev_errors,
        "change_errors": errors - prev_errors,
        "change_pct": change_pct(errors, prev_errors),
        "p50_ms": percentile(latency, 50),
        "p95_ms": percentile(latency, 95),
    }


def _keyed(rows: list[tuple]) -> dict[tuple, tuple[int, int]]:
    return {tuple(row[:-2]): (row[-2] or 0, row[-1] or 0) for row in rows}


def _section(section: str, dim: str, window: Window, before: Window) -> list[SummaryRow]:
    now = _keyed(counts(window=window, filters=Filters(), group=[dim]))
    prev = _keyed(counts(window=before, filters=Filters(), group=[dim]))
    latencies = histograms_by(window=window, filters=Filters(), by=[dim])
    keys = sorted(set(now) | set(prev), key=lambda k: -now.get(k, (0, 0))[1])
    label = labeler(dim, [k[0] for k in keys])
    return [
        _row(
            section,
            str(k[0]),
            label(k[0]),
            now.get(k, (0, 0)),
            prev.get(k, (0, 0)),
            latencies.get(k),
        )
        for k in keys
    ]


def _movers(window: Window, before: Window, limit: int) -> list[SummaryRow]:
    """(code, courier) pairs by absolute change in errors, the biggest first. `calls` and
    `prev_calls` are the courier's calls in each week (a code's own calls are all errors), so
    the volume stands beside the change."""
    now = _keyed(counts(window=window, filters=Filters(), group=["code", "cp_id"]))
    prev = _keyed(counts(window=before, filters=Filters(), group=["code", "cp_id"]))
    volume = _keyed(counts(window=window, filters=Filters(), group=["cp_id"]))
    prev_volume = _keyed(counts(window=before, filters=Filters(), group=["cp_id"]))
    changed = [k for k in set(now) | set(prev) if now.get(k, (0, 0))[1] != prev.get(k, (0, 0))[1]]
    changed.sort(key=lambda k: (-abs(now.get(k, (0, 0))[1] - prev.get(k, (0, 0))[1]), k))
    changed = changed[:limit]
    couriers = labeler("cp_id", [k[1] for k in changed])
    meanings = labeler("code", [k[0] for k in changed])
    return [
        _row(
            "mover",
            f"{code}@{cp_id}",
            f"{code} {meanings(code)} · {couriers(cp_id)}",
            (volume.get((cp_id,), (0, 0))[0], now.get((code, cp_id), (0, 0))[1]),
            (prev_volume.get((cp_id,), (0, 0))[0], prev.get((code, cp_id), (0, 0))[1]),
        )
        for code, cp_id in changed
    ]


def weekly_summary(*, week: str, tz: ZoneInfo, movers: int = TOP_MOVERS) -> list[SummaryRow]:
    """Rows of the summary: one total, then couriers and accounts (most errors first), then the
    top movers. Raises ValueError for a bad week."""
    window = parse_iso_week(week, tz)
    before = previous_week(window)
    [(calls, errors)] = counts(window=window, filters=Filters())
    [(prev_calls, prev_errors)] = counts(window=before, filters=Filters())
    total = _row(
        "total",
        "all",
        "all calls",
        (calls or 0, errors or 0),
        (prev_calls or 0, prev_errors or 0),
        histograms_by(window=window, filters=Filters()).get(()),
    )
    return [
        total,
        *_section("courier", "cp_id", window, before),
        *_section("account", "account_code", window, before),
        *_movers(window, before, movers),
    ]


class _Line:
    def write(self, text: str) -> str:
        return text


def summary_filename(week: str) -> str:
    return f"clickpost-summary-{week}.csv"


def summary_csv_lines(*, week: str, tz: ZoneInfo) -> Iterator[str]:
    """The summary as CSV text (CRLF line ends), header first. The total row also says how
    many open failures were left at the week's end (or now, for the week under way) and how
    many of them had been waiting over 24 hours."""
    rows = weekly_summary(week=week, tz=tz)
    opened, over_24h = open_at(at=min(parse_iso_week(week, tz).end, timezone.now()))
    writer = csv.writer(_Line())
    yield writer.writerow(SUMMARY_COLUMNS)
    for row in rows:
        yield writer.writerow(
            [
                week.strip(),
                *(row[name] for name in SUMMARY_COLUMNS[1:6]),  # type: ignore[literal-required]
                f"{row['error_rate']:.4f}",
                row["prev_calls"],
                row["prev_errors"],
                row["change_errors"],
                "" if row["change_pct"] is None else f"{row['change_pct']:.1f}",
                "" if row["p50_ms"] is None else f"{row['p50_ms']:.1f}",
                "" if row["p95_ms"] is None else f"{row['p95_ms']:.1f}",
                *((opened, over_24h) if row["section"] == "total" else ("", "")),
            ]
        )
