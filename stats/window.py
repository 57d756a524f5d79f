"""The read side's window and filters: a half-open time range in a zone, widened to the rollups'
quarter hours, and the values of each dimension to keep; the zone and time values they are made
of. Reading them from a query string is stats.querystring's.

- Counts are kept per quarter hour (UTC 15-minute buckets), so a window is widened to whole
  quarter hours (`snapped`): `start` rounds down and `end` rounds up.
- `start`/`end` are RFC 3339 (`parse_time`); a time without an offset, or a bare date, is read
  in the zone. A `+` offset that a query string turned into a space is read as `+`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.utils import timezone

GRAIN = timedelta(minutes=15)  # the rollups' bucket: days in +05:30 and +05:45 sum exactly
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
