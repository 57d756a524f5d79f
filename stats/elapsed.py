"""Totals of a window that ends now, against the same elapsed time just before it.

A preset range ("last hour") starts on a quarter hour and ends at now, so its last quarter hour
is still filling. `stats.questions.totals` compares whole quarter hours (75 minutes against 75
when only 63 have happened); this compares the elapsed time with exactly as long before it:
whole quarter hours from the rollups, plus the raw events of the one partial quarter hour at
the previous period's start.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from stats.questions import counts
from stats.rates import change, rate
from stats.results import Totals
from stats.window import Filters, Window, ceil_to_grain


def _sum(window: Window, filters: Filters, *, raw: bool = False) -> tuple[int, int]:
    if window.end <= window.start:
        return 0, 0
    [(events, errors)] = counts(window=window, filters=filters, interval="minute" if raw else None)
    return events or 0, errors or 0


def totals_until(*, start: datetime, now: datetime, tz: ZoneInfo, filters: Filters) -> Totals:
    """Calls and errors in [start, now) and in [start - (now - start), start).

    `start` must be a quarter hour. Returns the keys of `stats.questions.totals`.
    """
    elapsed = now - start
    events, errors = _sum(Window(start=start, end=now, tz=tz), filters)
    before_start = start - elapsed
    whole = ceil_to_grain(before_start)
    head = _sum(Window(start=before_start, end=whole, tz=tz), filters, raw=True)
    body = _sum(Window(start=whole, end=start, tz=tz), filters)
    before_events, before_errors = head[0] + body[0], head[1] + body[1]
    return {
        "events": events,
        "errors": errors,
        "error_rate": rate(errors, events),
        "previous_events": before_events,
        "previous_errors": before_errors,
        "previous_error_rate": rate(before_errors, before_events),
        "change": change(errors, before_errors),
    }
