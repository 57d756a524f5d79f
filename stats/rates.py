"""The one error-rate formula, for every figure the product shows (API, pages, CSV, charts,
alerts, the anomaly test, e-mails). No other module divides errors by calls: a test in
tests/test_boundaries.py finds any that does.

`fraction` is the formula; `rate` is what a number on screen or in JSON shows (6 decimals), and
`change`/`change_pct` the same for a period against the one before.
"""

from __future__ import annotations

from collections.abc import Sequence


def fraction(part: int, whole: int) -> float:
    """`part / whole`, unrounded; 0.0 when `whole` is 0. For what computes on a rate (the
    anomaly test's statistics, a chart's bar heights, shares of a whole)."""
    return part / whole if whole else 0.0


def rate(part: int, whole: int) -> float:
    """`part / whole` rounded to 6 decimals; 0.0 when `whole` (or `part`) is 0.

    Every error rate (errors / calls) and share (errors / all calls) shown as a number goes
    through here (or through `rates`, the same for many pairs at once)."""
    if not part or not whole:
        return 0.0
    return 1.0 if part == whole else round(part / whole, 6)


def rates(parts: Sequence[int], wholes: Sequence[int]) -> list[float]:
    """`rate` of each (part, whole) pair, in one pass: the same figures without a call per
    pair (a month of hourly points by category is 11,520 of them, and the call is most of the
    cost)."""
    return [
        (1.0 if part == whole else round(part / whole, 6)) if part and whole else 0.0
        for part, whole in zip(parts, wholes, strict=True)
    ]


def growth(now: float, before: float) -> float | None:
    """The relative change `(now - before) / before`, unrounded; None when `before` is 0."""
    return (now - before) / before if before else None


def change(now: float, before: float) -> float | None:
    """`growth` rounded to 6 decimals (the API's `change`)."""
    return round((now - before) / before, 6) if before else None


def change_pct(now: float, before: float) -> float | None:
    """`growth` in percent, 1 decimal (the CSV's `change_pct`)."""
    return round((now - before) / before * 100, 1) if before else None
