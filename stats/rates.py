"""The one error-rate formula, for every figure the product shows (API, pages, CSV, charts)."""

from __future__ import annotations


def rate(part: int, whole: int) -> float:
    """`part / whole` rounded to 6 decimals; 0.0 when `whole` (or `part`) is 0.

    Every error rate (errors / calls) and share (errors / all calls) goes through here. The
    common cases (no errors, all errors) answer without dividing: a month of hourly points by
    category is 5,760 of them."""
    if not part or not whole:
        return 0.0
    return 1.0 if part == whole else round(part / whole, 6)


def change(now: int, before: int) -> float | None:
    """The relative change `(now - before) / before`, 6 decimals; None when `before` is 0."""
    return round((now - before) / before, 6) if before else None
