"""The read side's parameters: a time window in a zone and the dimension filters.

`parse_read_params` turns a query string (the API's or a page's) into a `Window` and `Filters`,
or raises `ReadError` naming the parameter at fault, so every reader (API views, pages, the CSV)
agrees on what `start`, `end`, `tz` and the filters mean. Plain Python: no DRF here (the API
edge maps a ReadError to a 400; `Param` also tells the OpenAPI schema what each one accepts).

Decisions a caller should know:
- Counts are kept per quarter hour (UTC 15-minute buckets), so a window is widened to whole
  quarter hours: `start` rounds down and `end` rounds up. The window actually counted is the one
  returned (and echoed by the API as `start`/`end`).
- `start` without `end` ends now; `end` without `start` starts 24 h before it; neither is the
  last 24 h.
- `start`/`end` are RFC 3339; a time without an offset, or a bare date, is read in `tz`. A `+`
  offset that a query string turned into a space is read as `+`.
- Each filter is repeatable (`code=500&code=503`) or comma-separated (`code=500,503`).
- `cp_id=0` is "no courier" and `account_code` has no "none" spelling (rollups key it as '').
- An empty optional parameter (`?tz=&code=`, as an HTML form sends it) means "not given",
  on every endpoint; a NUL byte in any text is refused (PostgreSQL text cannot hold one).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.utils import timezone

from ingest.catalog import CATEGORIES
from stats.errors import ReadError

GRAIN = timedelta(minutes=15)  # the rollups' bucket: days in +05:30 and +05:45 sum exactly
DEFAULT_SPAN = timedelta(hours=24)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
MAX_VALUES = 200  # values per filter parameter
INT32_MAX = 2**31 - 1
DIMENSIONS = ("endpoint", "category", "code", "cp_id", "account_code")


@dataclass(frozen=True)
class Filters:
    """Which values of each dimension to keep; an empty tuple keeps every value."""

    endpoint: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    code: tuple[int, ...] = ()
    cp_id: tuple[int, ...] = ()
    account_code: tuple[str, ...] = ()

    def dims(self) -> set[str]:
        """The names of the dimensions that are filtered (have at least one value)."""
        return {name for name in DIMENSIONS if getattr(self, name)}

    def narrowed(self, **values: tuple) -> Filters:
        """A copy with some dimensions replaced, e.g. `filters.narrowed(code=(500,))`."""
        return replace(self, **values)


@dataclass(frozen=True)
class Window:
    """The half-open time range [start, end) (aware datetimes) and the zone of bucket edges."""

    start: datetime
    end: datetime
    tz: ZoneInfo

    def previous(self) -> Window:
        """The window of the same length that ends where this one starts."""
        return Window(start=self.start - (self.end - self.start), end=self.start, tz=self.tz)

    def snapped(self) -> Window:
        """Widened to whole quarter hours (UTC 15-minute buckets), the rollups' grain."""
        return Window(start=floor_to_grain(self.start), end=ceil_to_grain(self.end), tz=self.tz)

    @property
    def span(self) -> timedelta:
        return self.end - self.start


def floor_to_grain(moment: datetime) -> datetime:
    """The start of the UTC quarter hour holding `moment` (aware, UTC)."""
    utc = moment.astimezone(UTC)
    return utc.replace(minute=utc.minute - utc.minute % 15, second=0, microsecond=0)


def ceil_to_grain(moment: datetime) -> datetime:
    """`moment` itself when it starts a quarter hour, else the next quarter hour (UTC)."""
    floor = floor_to_grain(moment)
    return floor if floor == moment else floor + GRAIN


def retention_window(*, tz: ZoneInfo | None = None) -> Window:
    """The retention horizon as a window: the last RETENTION_DAYS days to a day ahead (no
    stored event is older: ingest refuses them and prune_events drops them). Queries of raw
    events that have no window of their own (timelines, one event) read only this, so that
    old partitions are never all opened (and locked) by one query."""
    now = timezone.now()
    return Window(
        start=now - timedelta(days=settings.RETENTION_DAYS),
        end=now + timedelta(days=1),
        tz=tz or default_zone(),
    )


# ---------------------------------------------------------------- values


_SPACED_OFFSET = re.compile(r"(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)$")


def parse_time(text: str, *, tz: ZoneInfo) -> datetime:
    """An RFC 3339 time (or a bare date) as an aware datetime; naive ones are read in `tz`."""
    text = _SPACED_OFFSET.sub(r"\1+\2", text.strip())
    try:
        if len(text) == 10:
            parsed = datetime.combine(date.fromisoformat(text), time(0))
        else:
            parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            "must be an RFC 3339 time such as 2026-03-29T00:00:00Z or 2026-03-29T05:30:00+05:30"
        ) from None
    return parsed.replace(tzinfo=tz) if parsed.tzinfo is None else parsed


def parse_zone(name: str) -> ZoneInfo:
    """An IANA zone such as Asia/Kolkata; raises ValueError for anything else."""
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise ValueError(f"{name!r} is not an IANA time zone such as Asia/Kolkata or UTC") from None


def default_zone() -> ZoneInfo:
    """The zone of bucket edges when none is asked for: the TIME_ZONE setting."""
    return ZoneInfo(settings.TIME_ZONE)


def read_zone(name: str | None) -> ZoneInfo:
    """The one reading of a `tz` parameter, everywhere: missing or blank is the TIME_ZONE
    setting, anything else must be an IANA zone (ReadError on `tz`)."""
    if name is None or not name.strip():
        return default_zone()
    try:
        return parse_zone(name)
    except ValueError as error:
        raise ReadError("tz", str(error)) from None


# ---------------------------------------------------------------- parameters

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
