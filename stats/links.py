"""URLs of the pages, built from parsed parameters (never from raw query strings): the charts'
clicks and the alerts' messages link to the same events with the same builder, so it lives
below both (the pages and alerts import the read room, never each other).

A drill-down link repeats the page's filters and zone, narrows them to what was clicked and
names an explicit start and end, so the events page shows exactly the events behind a point.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse

FILTER_FIELDS = ("endpoint", "category", "code", "cp_id", "account_code")


def zone_name(tz: Any) -> str:
    """The IANA name of a zone object (or the string itself)."""
    return getattr(tz, "key", None) or str(tz)


def iso(value: datetime) -> str:
    """An instant as RFC 3339 text, with its offset."""
    return value.isoformat()


def filter_pairs(filters: Any) -> list[tuple[str, str]]:
    """The filters as query pairs, one pair per value, in a stable order."""
    return [(name, str(value)) for name in FILTER_FIELDS for value in getattr(filters, name)]


@dataclass(frozen=True)
class Drill:
    """Builds `/events/` links for the current filters and zone; see module docstring."""

    filters: Any
    tz: Any
    start: datetime
    end: datetime

    def url(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        errors_only: bool = True,
        **narrow: Any,
    ) -> str:
        """Events between start and end (default: the whole window), narrowed to `narrow`."""
        pairs = [(k, v) for k, v in filter_pairs(self.filters) if k not in narrow]
        pairs += [(k, str(v)) for k, v in narrow.items() if v is not None]
        pairs += [
            ("start", iso(start or self.start)),
            ("end", iso(end or self.end)),
            ("tz", zone_name(self.tz)),
        ]
        if errors_only:
            pairs.append(("errors_only", "true"))
        return f"{reverse('events')}?{urlencode(pairs)}"


def event_url(event_id: Any) -> str:
    return reverse("event-detail", args=[event_id])
