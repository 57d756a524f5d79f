"""What PostgreSQL cannot store in a `jsonb` or `text` column, found before it is asked to.

NUL characters, lone surrogates, nesting past 32 levels, NaN or Infinity and integers of
thousands of digits would be a database error (or a RecursionError) for the whole batch; checked
here, each is a reason filed against one field of one event instead.
"""

from __future__ import annotations

import math
import re
from typing import Any

MAX_DEPTH = 32
# Far below Python's int-str-digits limit (4300), far above any real value: ~900 digits.
MAX_INT_BITS = 3000

_BAD_CHAR = re.compile(r"[\x00\ud800-\udfff]")


class Refused(ValueError):
    """One reason a field value is refused; the event's reader files it under the field's name."""


def json_problem(value: Any, *, depth: int) -> str | None:
    """Why `value` (inside `depth` containers) cannot be stored as JSON, or None."""
    if isinstance(value, str):
        return text_problem(value)
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        too_large = value.bit_length() > MAX_INT_BITS
        return "contains a number too large to store" if too_large else None
    if isinstance(value, float):
        return None if math.isfinite(value) else "must not contain NaN or Infinity"
    if not isinstance(value, dict | list):
        return "is not a JSON value"
    if depth >= MAX_DEPTH:
        return f"is nested deeper than {MAX_DEPTH} levels"
    for key in value if isinstance(value, dict) else ():
        problem = key_problem(key)
        if problem:
            return f"has a key that {problem}"
    for item in value.values() if isinstance(value, dict) else value:
        problem = json_problem(item, depth=depth + 1)
        if problem:
            return problem
    return None


def key_problem(key: Any) -> str | None:
    return text_problem(key) if isinstance(key, str) else "is not a string"


def text_problem(text: str) -> str | None:
    if text.isascii():  # no surrogates here: only NUL to look for
        return "must not contain NUL characters" if "\x00" in text else None
    bad = _BAD_CHAR.search(text)
    if bad is None:
        return None
    return "must not contain NUL characters" if bad.group() == "\x00" else "is not valid Unicode"
