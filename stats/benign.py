"""Benign codes: "already done" outcomes (the catalog's `benign` flag, editable in the admin).

SPEC counts them as errors and so does every other number; the overview shows them apart (a
tile, and a filter that keeps only them or hides them) so that a burst of duplicates does not
bury the failures someone must act on.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TypedDict

from ingest.models import CodeEntry
from stats.questions import counts
from stats.rates import fraction
from stats.window import Filters, Window

MODES = ("", "only", "hide")
NOTHING = (-1,)  # a code filter that matches no row: no code is negative
_LOOKBACK = timedelta(days=8)  # codes seen this long before a window are kept by "hide" too


class BenignTotals(TypedDict):
    codes: list[int]
    errors: int
    other_errors: int
    events: int
    share_of_errors: float


def benign_codes() -> frozenset[int]:
    """The codes flagged benign in the catalog: the one benign set of every reader (pages,
    alerts, reports). The column is seeded from each code's "already done" action
    (ingest.catalog.is_already_done) and stays editable in the admin."""
    return frozenset(CodeEntry.objects.filter(benign=True).values_list("code", flat=True))


def benign_filters(*, filters: Filters, window: Window, mode: str) -> Filters:
    """`filters` narrowed to benign codes ("only"), to every other code ("hide"), or as is.

    "hide" lists the codes to keep: those of the catalog and those seen in traffic from 8 days
    before the window to its end (so the previous period and the 7-day "usual" see the same
    codes), minus the benign ones and within any code filter already set.
    """
    if mode not in ("only", "hide"):
        return filters
    benign = benign_codes()
    chosen: set[int]
    if mode == "only":
        chosen = set(benign & set(filters.code)) if filters.code else set(benign)
    else:
        seen = Window(start=window.start - _LOOKBACK, end=window.end, tz=window.tz).snapped()
        known = set(CodeEntry.objects.values_list("code", flat=True))
        known |= {code for code, _, _ in counts(window=seen, filters=Filters(), group=["code"])}
        chosen = (set(filters.code) if filters.code else known) - benign
    return filters.narrowed(code=tuple(sorted(chosen)) or NOTHING)


def benign_totals(*, window: Window, filters: Filters) -> BenignTotals:
    """Errors with a benign code and all other errors in the window (same filters)."""
    benign = benign_codes()
    errors = other = events = 0
    for code, code_events, code_errors in counts(
        window=window.snapped(), filters=filters, group=["code"]
    ):
        events += code_events
        if code in benign:
            errors += code_errors
        else:
            other += code_errors
    return {
        "codes": sorted(benign),
        "errors": errors,
        "other_errors": other,
        "events": events,
        "share_of_errors": fraction(errors, errors + other),
    }
