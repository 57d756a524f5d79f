"""Template filters of the alerting pages (`{% load alerting %}`)."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.conf import settings
from django.utils.html import format_html

from stats.window import parse_zone

register = template.Library()


@register.filter
def moment(value: datetime | None) -> str:
    """A time as <time>: written in the server's zone with the zone named; static/js/alerting.js
    rewrites it into the viewer's own zone (and names that one)."""
    if value is None:
        return "—"
    zone = parse_zone(settings.TIME_ZONE)
    local = value.astimezone(zone)
    return format_html(
        '<time datetime="{}" data-local>{} ({})</time>',
        value.isoformat(),
        local.strftime("%Y-%m-%d %H:%M"),
        zone.key,
    )
