"""Is an alert silenced at a moment: by a silence (rule and label matchers, start to end) or by
a recurring mute window (days and hours in its own zone, so 22:00-07:00 Asia/Kolkata is that,
whatever the server's zone)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from alerts.models import MuteWindow, Silence


def matches(matchers: dict[str, Any], labels: dict[str, Any]) -> bool:
    """Every matcher names a label the alert has, with the same value (compared as text)."""
    return all(
        name in labels and str(labels[name]) == str(value) for name, value in matchers.items()
    )


def in_mute_window(*, days: Iterable[int], start: time, end: time, tz: str, at: datetime) -> bool:
    """`at` falls in the window that starts on one of `days` at local `start` and ends at local
    `end` (the next day when end <= start) in zone `tz`."""
    local = at.astimezone(ZoneInfo(tz))
    days = set(days)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        return local.weekday() in days and start <= clock < end
    # Past midnight: the evening part belongs to today, the morning part to yesterday's window.
    yesterday = (local - timedelta(days=1)).weekday()
    return (local.weekday() in days and clock >= start) or (yesterday in days and clock < end)


class Quiet:
    """The silences and mute windows in force at one minute, loaded once."""

    def __init__(self, *, at: datetime):
        self.at = at
        self.silences = list(Silence.objects.filter(start__lte=at, end__gt=at))
        self.windows = [
            window
            for window in MuteWindow.objects.all()
            if in_mute_window(
                days=window.days, start=window.start_time, end=window.end_time, tz=window.tz, at=at
            )
        ]

    def silenced(self, *, rule_id: int | None, labels: dict[str, Any]) -> bool:
        if any(w.rule_id in (None, rule_id) for w in self.windows):
            return True
        return any(
            s.rule_id in (None, rule_id) and matches(s.matchers or {}, labels)
            for s in self.silences
        )
