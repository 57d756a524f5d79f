"""What a page reads from its address: a time range (preset or custom), the shared filters
(through stats.window.parse_read_params, like the API) and a few page-specific fields.

Everything a page shows is in its URL, so a link shows a colleague the same view.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.http import QueryDict

from dashboard.links import filter_pairs, iso, zone_name
from stats import reports
from stats.errors import ReadError
from stats.window import Filters, Window, parse_read_params
from stats.window import read_zone as read_zone_param

RANGES = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
RANGE_LABELS = {
    "1h": "Last hour",
    "24h": "Last 24 hours",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
}
CUSTOM = "custom"
DEFAULT_RANGE = "24h"


@dataclass(frozen=True)
class PageParams:
    """A page's range (a RANGES key or "custom"), its window and its filters."""

    range: str
    window: Window
    filters: Filters

    def pairs(self, *, pinned: bool = False) -> list[tuple[str, str]]:
        """Query pairs that reproduce this view; `pinned` names the exact start and end."""
        if self.range == CUSTOM or pinned:
            when = [("start", iso(self.window.start)), ("end", iso(self.window.end))]
        else:
            when = [("range", self.range)]
        return when + filter_pairs(self.filters) + [("tz", zone_name(self.window.tz))]


def read_page_params(query: QueryDict, *, now: datetime) -> PageParams:
    """Range and filters of a page; a preset range ends now. Raises ReadError (400)."""
    chosen = _chosen_range(query)
    params = query.copy()
    if chosen in RANGES:
        params["start"] = iso(now - RANGES[chosen])
        params["end"] = iso(now)
    window, filters = parse_read_params(params)
    return PageParams(range=chosen, window=window, filters=filters)


def _chosen_range(query: QueryDict) -> str:
    chosen = query.get("range") or ""
    if not chosen:
        return CUSTOM if query.get("start") or query.get("end") else DEFAULT_RANGE
    if chosen != CUSTOM and chosen not in RANGES:
        choices = ", ".join([*RANGES, CUSTOM])
        raise ReadError("range", f"'{chosen}' is not one of {choices}.")
    return chosen


def interval_for(window: Window) -> str:
    """Bucket size for a window: about 24 to 200 bars whatever the range."""
    span = window.end - window.start
    if span <= timedelta(hours=3):
        return "minute"
    if span <= timedelta(days=8):
        return "hour"
    if span <= timedelta(days=200):
        return "day"
    return "week"


def local_input(value: datetime, tz: Any) -> str:
    """A datetime as the value of an <input type="datetime-local"> in zone `tz`."""
    return value.astimezone(tz).strftime("%Y-%m-%dT%H:%M")


def window_text(window: Window) -> str:
    """A window as pages show it: "2026-11-20 10:00 → 2026-11-21 10:00 (Asia/Kolkata)"."""
    start, end = (local_input(t, window.tz).replace("T", " ") for t in (window.start, window.end))
    return f"{start} → {end} ({zone_name(window.tz)})"


def default_week(*, today: date) -> str:
    """The last complete ISO week before `today`, as "2026-W47"."""
    year, week, _ = (today - timedelta(days=7)).isocalendar()
    return f"{year}-W{week:02d}"


def read_week(query: QueryDict, *, now: datetime) -> tuple[str, Window]:
    """The report page's ISO week (default the last complete one) and zone, as a window."""
    tz = read_zone(query)
    week = (query.get("week") or "").strip() or default_week(today=now.astimezone(tz).date())
    return week, reports.parse_iso_week(week, tz)  # ReadError on `week`


def read_zone(query: QueryDict) -> ZoneInfo:
    """The `tz` parameter (missing or blank: the TIME_ZONE setting), as the API reads it."""
    return read_zone_param(query.get("tz"))


def flag(query: QueryDict, name: str) -> bool:
    """A checkbox or boolean parameter: true, 1, yes or on."""
    return (query.get(name) or "").strip().lower() in ("1", "true", "yes", "on")
