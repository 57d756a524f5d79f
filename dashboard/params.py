"""What a page reads from its address: a time range (preset or custom), the shared filters
(through stats.querystring.parse_read_params, like the API) and a few page-specific fields.

Everything a page shows is in its URL, so a link shows a colleague the same view.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.http import QueryDict

from stats import reports
from stats.benign import MODES as BENIGN_MODES
from stats.errors import ReadError
from stats.links import filter_pairs, iso, zone_name
from stats.params import EVENT_ORDER_PARAMS
from stats.querystring import parse_read_params, read_values
from stats.querystring import read_zone as read_zone_param
from stats.window import Filters, Window, floor_to_grain, parse_time

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
# The overview chart's group-by switch: a dimension of the read API and how the page names it.
GROUPS = {
    "category": "category",
    "cp_id": "courier",
    "endpoint": "endpoint",
    "account_code": "account",
    "code": "code",
}
DEFAULT_GROUP = "category"
BENIGN_LABELS = {"": "count them", "hide": "hide them", "only": "only them"}


@dataclass(frozen=True)
class PageParams:
    """A page's range (a RANGES key or "custom"), its window and its filters."""

    range: str
    window: Window
    filters: Filters
    until: datetime  # where the data ends: now for a preset range, else the window's end

    @property
    def shown(self) -> Window:
        """The window as the page names it: a preset range ends now, not at the quarter hour
        after now that the counting window is widened to (no data lies beyond now)."""
        return Window(start=self.window.start, end=self.until, tz=self.window.tz)

    def pairs(self, *, pinned: bool = False) -> list[tuple[str, str]]:
        """Query pairs that reproduce this view; `pinned` names the exact start and end."""
        if self.range == CUSTOM or pinned:
            when = [("start", iso(self.window.start)), ("end", iso(self.until))]
        else:
            when = [("range", self.range)]
        return when + filter_pairs(self.filters) + [("tz", zone_name(self.window.tz))]


def read_page_params(query: QueryDict, *, now: datetime) -> PageParams:
    """Range and filters of a page. Raises ReadError (400).

    A preset range ends now and starts on the quarter hour at or before `now - range` (the
    rollups' grain), so "last hour" at 20:33 is 19:30 -> 20:33: every number on the page counts
    exactly that, and the chart draws its last bucket as partial."""
    chosen = _chosen_range(query)
    params = query.copy()
    if chosen in RANGES:
        params["start"] = iso(floor_to_grain(now - RANGES[chosen]))
        params["end"] = iso(now)
    window, filters = parse_read_params(params)
    # The window counted is widened to whole quarter hours; the page names (and draws up to)
    # the end asked for: now for a preset range or a custom one without an end, else the
    # `end` given (a drill-down link from the overview ends where the overview did).
    end_text = (query.get("end") or "").strip()
    if chosen in RANGES or not end_text:
        until = min(now, window.end)
    else:
        until = min(window.end, parse_time(end_text, tz=window.tz))
    return PageParams(range=chosen, window=window, filters=filters, until=until)


def _chosen_range(query: QueryDict) -> str:
    chosen = query.get("range") or ""
    if not chosen:
        return CUSTOM if query.get("start") or query.get("end") else DEFAULT_RANGE
    if chosen != CUSTOM and chosen not in RANGES:
        choices = ", ".join([*RANGES, CUSTOM])
        raise ReadError("range", f"'{chosen}' is not one of {choices}.")
    return chosen


def read_group(query: QueryDict) -> str:
    """The overview chart's `group` (default category)."""
    chosen = (query.get("group") or "").strip() or DEFAULT_GROUP
    if chosen not in GROUPS:
        raise ReadError("group", f"'{chosen}' is not one of {', '.join(GROUPS)}.")
    return chosen


@dataclass(frozen=True)
class EventOrder:
    """The events page's order and latency floor (the API's `sort` and `min_latency_ms`)."""

    min_latency_ms: int | None
    by_latency: bool

    def pairs(self) -> list[tuple[str, str]]:
        """Query pairs that keep this order on the next page and in the switch's links."""
        pairs = [("sort", "-latency")] if self.by_latency else []
        if self.min_latency_ms is not None:
            pairs.append(("min_latency_ms", str(self.min_latency_ms)))
        return pairs


def read_event_order(query: QueryDict) -> EventOrder:
    """`sort` (-timestamp or -latency) and `min_latency_ms`, read as the API reads them."""
    values = read_values(EVENT_ORDER_PARAMS, query)
    return EventOrder(
        min_latency_ms=values["min_latency_ms"], by_latency=values["sort"] == "-latency"
    )


def read_benign(query: QueryDict) -> str:
    """The `benign` filter: "" (count them, SPEC's definition), "hide" or "only"."""
    chosen = (query.get("benign") or "").strip()
    if chosen not in BENIGN_MODES:
        raise ReadError("benign", f"'{chosen}' is not one of hide, only.")
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


def read_week(query: QueryDict, *, now: datetime) -> tuple[str, Window]:
    """The report page's ISO week (default the last complete one) and zone, as a window."""
    tz = read_zone(query)
    week = (query.get("week") or "").strip() or reports.last_whole_week(
        today=now.astimezone(tz).date()
    )
    return week, reports.parse_iso_week(week, tz)  # ReadError on `week`


def read_zone(query: QueryDict) -> ZoneInfo:
    """The `tz` parameter (missing or blank: the TIME_ZONE setting), as the API reads it."""
    return read_zone_param(query.get("tz"))


def flag(query: QueryDict, name: str) -> bool:
    """A checkbox or boolean parameter: true, 1, yes or on."""
    return (query.get(name) or "").strip().lower() in ("1", "true", "yes", "on")
