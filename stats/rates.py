"""The one error-rate formula, for every figure the product shows (API, pages, CSV, charts)."""

from __future__ import annotations

from collections.abc import Sequence


def rate(part: int, whole: int) -> float:
    """`part / whole` rounded to 6 decimals; 0.0 when `whole` (or `part`) is 0.

    Every error rate (errors / calls) and share (errors / all calls) goes through here (or
    through `rates`, the same for many pairs at once)."""
    if not part or not whole:
        return 0.0
    return 1.0 if part == whole else round(part / whole, 6)


def change(now: int, before: int) -> float | None:
    """The relative change `(now - before) / before`, 6 decimals; None when `before` is 0."""
    return round((now - before) / before, 6) if before else None


def rates(parts: Sequence[int], wholes: Sequence[int]) -> list[float]:
    """`rate` of each (part, whole) pair, in one pass: the same figures without a call per
    pair (a month of hourly points by category is 11,520 of them, and the call is most of the
    cost)."""
    return [
        (1.0 if part == whole else round(part / whole, 6)) if part and whole else 0.0
        for part, whole in zip(parts, wholes, strict=True)
    ]
