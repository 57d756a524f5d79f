"""The bucket calendar: where each `interval` bucket starts in a zone (DST-correct, pure).

Bucket edges are computed once, in Python, by `bucket_starts`, and SQL assigns each row to its
bucket with `width_bucket(time, edges)` (stats.sql), so the dense list of points and the SQL
agree by construction and zone rules never depend on the database's copy of the tz database.
Days and weeks start at local midnight (a DST day lasts 23 or 25 hours), weeks on Monday, hours
at the local hour (:30 past a UTC hour in a +05:30 zone): all exact from the rollups' UTC
quarter hours in every zone with a whole quarter-hour offset.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from stats.errors import ReadError
from stats.window import Window

INTERVALS = ("minute", "hour", "day", "week")
MAX_BUCKETS = 5000
MAX_MINUTE_SPAN = timedelta(hours=48)
_NOMINAL = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
}


def _local_floor(moment: datetime, interval: str, tz: ZoneInfo) -> datetime:
    """The start (UTC) of the `interval` bucket in `tz` that holds `moment`."""
    local = moment.astimezone(tz)
    if interval in ("minute", "hour"):
        minutes = local.minute if interval == "hour" else 0
        return (
            moment
            - timedelta(minutes=minutes, seconds=local.second, microseconds=local.microsecond)
        ).astimezone(UTC)
    day = local.date()
    if interval == "week":
        day -= timedelta(days=day.weekday())
    # A midnight that does not exist (DST at 00:00) resolves to the day's first instant.
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _next_start(start: datetime, interval: str, tz: ZoneInfo) -> datetime:
    later = _local_floor(start + _NOMINAL[interval], interval, tz)
    if later <= start:  # a zone whose clock went back by less than the interval
        later = start + _NOMINAL[interval]
    if interval in ("day", "week"):
        # A 25-hour day: one nominal step may still be inside the same local day.
        while _local_floor(later, interval, tz) == start:
            later += timedelta(hours=1)
        later = _local_floor(later, interval, tz)
    return later


def bucket_starts(*, start: datetime, end: datetime, interval: str, tz: ZoneInfo) -> list[datetime]:
    """Every bucket start of `interval` in `tz` for buckets overlapping [start, end).

    Pure. Starts are aware datetimes in `tz`; the first is at or before `start`. Days and weeks
    start at local midnight (a DST day lasts 23 or 25 hours), weeks on Monday, hours at the
    local hour (:30 past a UTC hour in a +05:30 zone).
    """
    if interval not in _NOMINAL:
        raise ValueError(f"unknown interval {interval!r}")
    starts: list[datetime] = []
    current = _local_floor(start, interval, tz)
    local = current.astimezone(tz)
    step = _NOMINAL[interval]
    while current < end:
        starts.append(local)
        later = current + step
        local = later.astimezone(tz)
        # The common case of minute and hour buckets, one step on a whole local minute/hour:
        # exactly what _next_start would find, for a fraction of the work (720 edges a month).
        if interval in ("minute", "hour") and _on_the_edge(local, interval):
            current = later
        else:
            current = _next_start(current, interval, tz)
            local = current.astimezone(tz)
    return starts


def _on_the_edge(local: datetime, interval: str) -> bool:
    """Whether a local time starts a minute (or an hour) bucket: `_local_floor` keeps it."""
    return local.second == local.microsecond == 0 and (interval == "minute" or local.minute == 0)


def check_interval(*, window: Window, interval: str) -> None:
    """Refuse (ReadError on `interval`) minute buckets over 48 h and > 5,000 buckets."""
    if interval == "minute" and window.span > MAX_MINUTE_SPAN:
        raise ReadError("interval", "minute buckets are limited to windows of 48 hours; use hour.")
    estimate = window.span / _NOMINAL[interval]
    too_many = estimate > MAX_BUCKETS + 2 or (
        estimate > MAX_BUCKETS - 2
        and len(bucket_starts(start=window.start, end=window.end, interval=interval, tz=window.tz))
        > MAX_BUCKETS
    )
    if too_many:
        raise ReadError(
            "interval", f"more than {MAX_BUCKETS} {interval} buckets; use a coarser interval."
        )
