"""The read side's query string: `Param` (how one parameter is read, and what the OpenAPI schema
says of it) and the parameters every read shares, turned into a `Window` and `Filters`.

`parse_read_params` turns a query string (the API's or a page's) into a `Window` and `Filters`,
or raises `ReadError` naming the parameter at fault, so every reader (API views, pages, the CSV)
agrees on what `start`, `end`, `tz` and the filters mean. Plain Python: no DRF here (the API
edge maps a ReadError to a 400). Each endpoint's own parameters are stats.params'.

Decisions a caller should know:
- The window returned is widened to whole quarter hours (`Window.snapped`); it is the one
  actually counted (and echoed by the API as `start`/`end`).
- `start` without `end` ends now; `end` without `start` starts 24 h before it; neither is the
  last 24 h.
- Each filter is repeatable (`code=500&code=503`) or comma-separated (`code=500,503`).
- `cp_id=0` is "no courier" and `account_code` has no "none" spelling (rollups key it as '').
- An empty optional parameter (`?tz=&code=`, as an HTML form sends it) means "not given",
  on every endpoint; a NUL byte in any text is refused (PostgreSQL text cannot hold one).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from django.utils import timezone

from ingest.catalog import CATEGORIES
from stats.errors import ReadError
from stats.window import DIMENSIONS, Filters, Window, default_zone, parse_time, parse_zone

DEFAULT_SPAN = timedelta(hours=24)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
MAX_VALUES = 200  # values per filter parameter
INT32_MAX = 2**31 - 1


def read_zone(name: str | None) -> ZoneInfo:
    """The one reading of a `tz` parameter, everywhere: missing or blank is the TIME_ZONE
    setting, anything else must be an IANA zone (ReadError on `tz`)."""
    if name is None or not name.strip():
        return default_zone()
    try:
        return parse_zone(name)
    except ValueError as error:
        raise ReadError("tz", str(error)) from None


Kind = Literal["text", "integer", "boolean"]
_WHOLE = re.compile(r"[+-]?\d{1,20}")
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


@dataclass(frozen=True)
class Param:
    """One query parameter: how it is read, and what the OpenAPI schema says of it.

    Missing or blank, it is `default` (or a ReadError when `required`); `many` reads repeated
    and comma-separated values into a tuple (duplicates dropped, order kept)."""

    name: str
    kind: Kind = "text"
    description: str = ""
    many: bool = False
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    default: Any = None
    required: bool = False
    strip: bool = field(default=True, compare=False)

    def read(self, query: Mapping[str, Any]) -> Any:
        """This parameter's value in `query` (a QueryDict or a plain mapping)."""
        if self.many:
            return self._many(_all_values(query, self.name))
        raw = _last_value(query, self.name)
        if raw is None or not raw.strip():
            if self.required:
                raise ReadError(self.name, "this parameter is required.")
            return self.default
        try:
            return self.value(raw.strip() if self.strip else raw)
        except ValueError as error:
            raise ReadError(self.name, str(error)) from None

    def _many(self, values: Sequence[str]) -> tuple:
        parts = [part.strip() for value in values for part in value.split(",")]
        parts = [part for part in parts if part]
        if len(parts) > MAX_VALUES:
            raise ReadError(self.name, f"at most {MAX_VALUES} values.")
        read = []
        for part in parts:
            try:
                read.append(self.value(part))
            except ValueError as error:
                raise ReadError(self.name, f"{part!r}: {error}") from None
        return tuple(dict.fromkeys(read))

    def value(self, text: str) -> Any:
        """One value from its text; ValueError saying what is wrong."""
        if "\x00" in text:
            raise ValueError("must not contain a NUL byte.")
        if self.max_length is not None and len(text) > self.max_length:
            raise ValueError(f"at most {self.max_length} characters.")
        if self.kind == "integer":
            return self._integer(text)
        if self.kind == "boolean":
            return _boolean(text)
        if self.choices and text not in self.choices:
            raise ValueError(f'"{text}" is not a valid choice ({", ".join(self.choices)}).')
        return text

    def _integer(self, text: str) -> int:
        if not _WHOLE.fullmatch(text):
            raise ValueError("must be a whole number.")
        number = int(text)
        if self.minimum is not None and number < self.minimum:
            raise ValueError(f"must be at least {self.minimum}.")
        if self.maximum is not None and number > self.maximum:
            raise ValueError(f"must be at most {self.maximum}.")
        return number


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("must be true or false.")


def _all_values(query: Mapping[str, Any], name: str) -> list[str]:
    if hasattr(query, "getlist"):
        return [str(value) for value in query.getlist(name)]
    value = query.get(name)
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


def _last_value(query: Mapping[str, Any], name: str) -> str | None:
    values = _all_values(query, name)
    return values[-1] if values else None


def read_values(params: Sequence[Param], query: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter of `params` read from `query`, by name (ReadError at the first fault)."""
    return {param.name: param.read(query) for param in params}


ZONE_PARAM = Param(
    "tz",
    max_length=64,
    description="IANA zone for bucket edges and times shown (default: the TIME_ZONE setting)",
)
READ_PARAMS = (
    Param("start", max_length=64, description="RFC 3339 time or date (default: end - 24 h)"),
    Param("end", max_length=64, description="RFC 3339 time or date (default: now)"),
    ZONE_PARAM,
    Param("endpoint", many=True, max_length=200, description="endpoint names"),
    Param("category", many=True, choices=tuple(CATEGORIES), description="categories"),
    Param("code", "integer", many=True, minimum=0, maximum=INT32_MAX, description="codes"),
    Param("cp_id", "integer", many=True, minimum=0, maximum=INT32_MAX, description="courier ids"),
    Param("account_code", many=True, max_length=100, description="account codes"),
)


def parse_read_params(params: Mapping[str, Any]) -> tuple[Window, Filters]:
    """The window (widened to quarter hours; default the last 24 h) and filters of a query.

    Raises ReadError naming the parameter at fault (a 400 in the API and on the pages).
    """
    values = read_values(READ_PARAMS, params)
    tz = read_zone(values["tz"])
    start, end = _times(values["start"], values["end"], tz)
    filters = Filters(**{name: values[name] for name in DIMENSIONS})
    return Window(start=start, end=end, tz=tz).snapped(), filters


def _times(start_text: str | None, end_text: str | None, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """SPEC "Read API": a missing `end` is now (with or without `start`: never a future
    stretch of zeros); a missing `start` is 24 h before the end."""
    start = _bounded_time("start", start_text, tz) if start_text else None
    end = _bounded_time("end", end_text, tz) if end_text else None
    if end is None:
        end = timezone.now()
        if start is not None and start >= end:
            raise ReadError("start", "must be before now (the end when `end` is not given).")
    if start is None:
        start = end - DEFAULT_SPAN
    if end <= start:
        raise ReadError("end", "must be after start.")
    return start, min(end, LATEST)


def _bounded_time(name: str, text: str, tz: ZoneInfo) -> datetime:
    try:
        moment = parse_time(text, tz=tz)
    except ValueError as error:
        raise ReadError(name, str(error)) from None
    if not EARLIEST <= moment <= LATEST:
        raise ReadError(name, "must be between 2000-01-01 and 2100-01-01.")
    return moment
