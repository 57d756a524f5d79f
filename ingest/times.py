"""An event's time: RFC 3339 text or an epoch number -> an aware UTC datetime.

A naive RFC 3339 time is taken as UTC: shippers that leave out the offset nearly always log UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from ingest.storable import Refused

MAX_FUTURE = timedelta(minutes=5)
TIME_FORMS = (
    "must be an RFC 3339 time such as 2026-01-31T12:00:00Z (a space may replace the T; no offset"
    " means UTC) or epoch seconds, milliseconds, microseconds or nanoseconds, not before 1970"
)

_EPOCH_TEXT = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
# The usual shapes, which datetime.fromisoformat reads exactly as _RFC3339 would (a fast path).
_RFC3339_COMMON = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})?"
)
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:[.,]([0-9]+))?"
    r"\s*(?:([Zz])|([+-])([0-9]{2}):?([0-9]{2}))?"
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# (below this magnitude, units per second): seconds, milliseconds, microseconds, nanoseconds.
_EPOCH_UNITS = ((Decimal("1e11"), 1), (Decimal("1e14"), 10**3), (Decimal("1e17"), 10**6))


def to_time(value: Any, *, now: datetime) -> datetime:
    """An aware UTC time from RFC 3339 text, an epoch number or a datetime (the default)."""
    moment = parse_time(value)
    if moment > now + MAX_FUTURE:
        raise Refused("is more than 5 minutes in the future")
    return moment


def parse_time(value: Any) -> datetime:
    if isinstance(value, str):
        text = value.strip()
        if len(text) <= 40 and _EPOCH_TEXT.fullmatch(text):
            return _from_epoch(Decimal(text))
        return _from_rfc3339(text)
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC)
    if isinstance(value, bool):
        raise Refused(TIME_FORMS)
    if isinstance(value, int):
        return _from_epoch(Decimal(value))
    if isinstance(value, float):
        return _from_epoch(Decimal(repr(value)))
    raise Refused(TIME_FORMS)


def _from_epoch(number: Decimal) -> datetime:
    """Seconds, ms, us or ns since 1970, told apart by magnitude (e.g. < 1e11 is seconds)."""
    if not number.is_finite() or number < 0:
        raise Refused(TIME_FORMS)
    per_second = next((units for limit, units in _EPOCH_UNITS if number < limit), 10**9)
    try:
        return EPOCH + timedelta(microseconds=int(number * 1_000_000 / per_second))
    except (OverflowError, ValueError) as error:
        raise Refused(TIME_FORMS) from error


def _from_rfc3339(text: str) -> datetime:
    """Fractions of any length are cut to microseconds; no offset means UTC."""
    moment = _from_isoformat(text) if _RFC3339_COMMON.fullmatch(text) else None
    if moment is None:
        match = _RFC3339.fullmatch(text)
        if match is None:
            raise Refused(TIME_FORMS)
        moment = _from_match(match)
    if moment < EPOCH:
        raise Refused(TIME_FORMS)
    return moment


def _from_isoformat(text: str) -> datetime | None:
    """The aware UTC time of a usual-shape RFC 3339 text, or None to let _from_match decide."""
    try:
        local = datetime.fromisoformat(text)
        return (local if local.tzinfo else local.replace(tzinfo=UTC)).astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _from_match(match: re.Match[str]) -> datetime:
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        zone: timezone = UTC
        if sign and not zulu:
            offset = timedelta(hours=int(off_h), minutes=int(off_m))
            zone = timezone(offset if sign == "+" else -offset)
        y, mo, d, h, mi, s = (int(part) for part in (year, month, day, hour, minute, second))
        return datetime(y, mo, d, h, mi, s, micros, tzinfo=zone).astimezone(UTC)
    except (OverflowError, ValueError) as error:
        raise Refused(TIME_FORMS) from error
