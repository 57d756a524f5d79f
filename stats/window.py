"""The read side's parameters: a time window in a zone and the dimension filters.

`parse_read_params` turns a query string (the API's or a page's) into a `Window` and `Filters`,
or raises DRF's `ValidationError` keyed by the parameter at fault, so every reader (API views,
pages, the CSV) agrees on what `start`, `end`, `tz` and the filters mean.

Decisions a caller should know:
- Counts are kept per quarter hour (UTC 15-minute buckets), so a window is widened to whole
  quarter hours: `start` rounds down and `end` rounds up. The window actually counted is the one
  returned (and echoed by the API as `start`/`end`).
- `start`/`end` are RFC 3339; a time without an offset, or a bare date, is read in `tz`. A `+`
  offset that a query string turned into a space is read as `+`.
- Each filter is repeatable (`code=500&code=503`) or comma-separated (`code=500,503`).
- `cp_id=0` is "no courier" and `account_code` has no "none" spelling (rollups key it as '').
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.utils import timezone
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from ingest.catalog import CATEGORIES

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


# ---------------------------------------------------------------- fields

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


class MultiValueField(serializers.ListField):
    """A filter given as repeated parameters and/or comma-separated values: `a,b&c`."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", MAX_VALUES)
        super().__init__(**kwargs)

    def get_value(self, dictionary):
        if hasattr(dictionary, "getlist"):
            values = dictionary.getlist(self.field_name)
            return values if values else serializers.empty
        return dictionary.get(self.field_name, serializers.empty)

    def to_internal_value(self, data):
        if isinstance(data, str | int):
            data = [data]
        if not isinstance(data, list | tuple):
            self.fail("not_a_list", input_type=type(data).__name__)
        parts = [p.strip() for item in data for p in str(item).split(",")]
        parts = [p for p in parts if p]
        if len(parts) > MAX_VALUES:
            self.fail("max_length", max_length=MAX_VALUES)
        return [self._one(part) for part in parts]

    def _one(self, part: str):
        try:
            return self.child.run_validation(part)
        except serializers.ValidationError as error:
            raise serializers.ValidationError(f"{part!r}: {error.detail[0]}") from None


class ReadParams(serializers.Serializer):
    """The common read parameters: window, zone and filters (SPEC "Read API")."""

    start = serializers.CharField(required=False, max_length=64)
    end = serializers.CharField(required=False, max_length=64)
    tz = serializers.CharField(required=False, max_length=64)
    endpoint = MultiValueField(child=serializers.CharField(max_length=200))
    category = MultiValueField(child=serializers.ChoiceField(choices=CATEGORIES))
    code = MultiValueField(child=serializers.IntegerField(min_value=0, max_value=INT32_MAX))
    cp_id = MultiValueField(child=serializers.IntegerField(min_value=0, max_value=INT32_MAX))
    account_code = MultiValueField(child=serializers.CharField(max_length=100))

    def validate_tz(self, value: str) -> ZoneInfo:
        try:
            return parse_zone(value)
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from None

    def validate(self, attrs: dict) -> dict:
        tz = attrs.get("tz") or default_zone()
        start, end = self._times(attrs, tz)
        window = Window(start=start, end=end, tz=tz).snapped()
        filters = Filters(
            **{name: tuple(dict.fromkeys(attrs.get(name, ()))) for name in DIMENSIONS}
        )
        return {**attrs, "window": window, "filters": filters}

    def _times(self, attrs: dict, tz: ZoneInfo) -> tuple[datetime, datetime]:
        given = {}
        for name in ("start", "end"):
            if attrs.get(name):
                given[name] = _bounded_time(name, attrs[name], tz)
        end = given.get("end") or (
            given["start"] + DEFAULT_SPAN if "start" in given else timezone.now()
        )
        start = given.get("start") or end - DEFAULT_SPAN
        if end <= start:
            raise ValidationError({"end": ["must be after start."]})
        return start, min(end, LATEST)


def _bounded_time(name: str, text: str, tz: ZoneInfo) -> datetime:
    try:
        moment = parse_time(text, tz=tz)
    except ValueError as error:
        raise ValidationError({name: [str(error)]}) from None
    if not EARLIEST <= moment <= LATEST:
        raise ValidationError({name: ["must be between 2000-01-01 and 2100-01-01."]})
    return moment


def default_zone() -> ZoneInfo:
    """The zone of bucket edges when none is asked for: the TIME_ZONE setting."""
    return ZoneInfo(settings.TIME_ZONE)


def parse_read_params(params: Mapping) -> tuple[Window, Filters]:
    """The window (widened to quarter hours; default the last 24 h) and filters of a query.

    Raises rest_framework's ValidationError keyed by the parameter at fault (a 400 in the API).
    """
    serializer = ReadParams(data=params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data["window"], serializer.validated_data["filters"]
