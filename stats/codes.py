"""What a code's count means beside the others: its share of all calls and of all errors.

A code's own error rate (its errors over its own calls) is 100% for every error code and 0% for
every success code, so the codes page shows these two shares instead.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from stats.rates import fraction
from stats.results import CodeRow


def with_shares(
    rows: Sequence[CodeRow], *, benign: Collection[int] = ()
) -> list[dict[str, object]]:
    """`stats.questions.code_counts` rows, each with `share_of_calls` (its calls / all calls of
    the rows) and `share_of_errors` (its errors / all errors of the rows), fractions 0..1, and
    `benign` (whether the code is in `benign`)."""
    calls = sum(row["events"] for row in rows)
    errors = sum(row["errors"] for row in rows)
    return [
        {
            **row,
            "benign": row["code"] in benign,
            "share_of_calls": fraction(row["events"], calls),
            "share_of_errors": fraction(row["errors"], errors),
        }
        for row in rows
    ]
