"""An event's time: RFC 3339 text or an epoch number -> an aware UTC datetime.

A naive RFC 3339 time is taken as UTC: shippers that leave out the offset nearly always log UTC.

The accepted range is [horizon, now + 5 minutes], the horizon being the retention horizon
(`RETENTION_DAYS` before now): an older event would be pruned at once, and each old day would be
a partition of its own. An epoch number's unit (seconds, ms, us, ns) is the one whose reading
lands in that range. When more than one does, the number is *ambiguous* and refused, naming the
readings, instead of guessed (with a horizon of years, 253402300799 is 1978 in ms and 1970-01-03
in us). When none does, the unit told by magnitude (below 1e11 seconds, 1e14 ms, 1e17 us, else
ns) is the reading the error reports.
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
_UNIT_NAMES = {1: "seconds", 10**3: "milliseconds", 10**6: "microseconds", 10**9: "nanoseconds"}


def to_time(value: Any, *, now: datetime, horizon: datetime) -> datetime:
    """An aware UTC time in [horizon, now + 5 min] from RFC 3339 text, an epoch number or a
    datetime (a door's default); Refused(why) otherwise."""
    if value.__class__ is str:  # the usual case first, without the epoch and range checks' calls
        usual = usual_time(value)
        if usual is not None and horizon <= usual <= now + MAX_FUTURE:
            return usual
    number = _epoch_number(value)
    moment = _from_text_or_datetime(value) if number is None else _from_epoch(number, now, horizon)
    if moment > now + MAX_FUTURE:
        raise Refused("is more than 5 minutes in the future")
    if moment < horizon:
        raise Refused(
            f"is older than the retention horizon ({_text(horizon)}, RETENTION_DAYS before now):"
            " it would be pruned at once"
        )
    return moment


def parse_time(value: Any) -> datetime:
    """The time a value stands for, epoch units told apart by magnitude; no range checks."""
    number = _epoch_number(value)
    if number is not None:
        return _epoch_reading(number, _unit_by_magnitude(number))
    return _from_text_or_datetime(value)


def _from_text_or_datetime(value: Any) -> datetime:
    if isinstance(value, str):
        return _from_rfc3339(value.strip())
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC)
    raise Refused(TIME_FORMS)


def _epoch_number(value: Any) -> Decimal | None:
    """The number of an epoch value (a JSON number or numeric text), else None."""
    if isinstance(value, str):
        text = value.strip()
        # "-" past the sign: a date, not a number (the usual case, without the regex).
        if "-" in text[1:] or len(text) > 40 or not _EPOCH_TEXT.fullmatch(text):
            return None
        number = Decimal(text)
    elif isinstance(value, bool) or not isinstance(value, int | float):
        return None
    else:
        number = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
    if not number.is_finite() or number < 0:
        raise Refused(TIME_FORMS)
    return number


def _from_epoch(number: Decimal, now: datetime, horizon: datetime) -> datetime:
    """The one unit's reading inside [horizon, now + 5 min]; see the module docstring."""
    readings = {}
    for per_second, name in _UNIT_NAMES.items():
        try:
            readings[name] = _epoch_reading(number, per_second)
        except Refused:
            continue
    inside = {name: t for name, t in readings.items() if horizon <= t <= now + MAX_FUTURE}
    if len(inside) == 1:
        return next(iter(inside.values()))
    if len(inside) > 1:
        read_as = ", ".join(f"as {name} {_text(moment)}" for name, moment in inside.items())
        raise Refused(
            f"is an ambiguous epoch number: more than one unit lands in the accepted time range"
            f" ({read_as}); send RFC 3339 text"
        )
    return _epoch_reading(number, _unit_by_magnitude(number))


def _unit_by_magnitude(number: Decimal) -> int:
    return next((units for limit, units in _EPOCH_UNITS if number < limit), 10**9)


def _epoch_reading(number: Decimal, per_second: int) -> datetime:
    try:
        return EPOCH + timedelta(microseconds=int(number * 1_000_000 / per_second))
    except (OverflowError, ValueError) as error:
        raise Refused(TIME_FORMS) from error


def _text(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _from_rfc3339(text: str) -> datetime:
    """Fractions of any length are cut to microseconds; no offset means UTC."""
    moment = usual_time(text)
    if moment is None:
        match = _RFC3339.fullmatch(text)
        if match is None:
            raise Refused(TIME_FORMS)
        moment = _from_match(match)
    if moment < EPOCH:
        raise Refused(TIME_FORMS)
    return moment


def usual_time(text: str) -> datetime | None:
    """The aware UTC time of text in the usual RFC 3339 shape (2026-01-31T12:00:00.123Z), as
    `to_time` reads it, without the range checks; None for any other text, or a time it
    refuses: `_from_rfc3339` then says why."""
    if _RFC3339_COMMON.fullmatch(text) is None:
        return None
    try:  # datetime.fromisoformat reads these shapes exactly as _RFC3339 would
        local = datetime.fromisoformat(text)
        moment = (local if local.tzinfo else local.replace(tzinfo=UTC)).astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    return None if moment < EPOCH else moment


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
