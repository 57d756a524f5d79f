"""Template filters of the pages (`{% load pages %}`, registered in settings.TEMPLATES)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from django import template
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from dashboard import bidi
from stats.latency import format_ms

register = template.Library()
DASH = "—"


@register.filter
def number(value: Any) -> str:
    """12345 -> "12,345"; None -> a dash."""
    return DASH if value is None else f"{value:,}"


@register.filter
def percent(value: Any, digits: int = 1) -> str:
    """A fraction as a percentage: 0.0345 -> "3.5%"; None -> a dash."""
    return DASH if value is None else f"{value * 100:.{int(digits)}f}%"


@register.filter
def ms(value: Any) -> str:
    """A latency in milliseconds: 2450.0 -> "2,450 ms"; None (no latency) -> a dash."""
    return format_ms(value)


@register.filter
def change(value: Any) -> str:
    """A relative change as a signed percentage: 0.25 -> "+25%"; None (nothing before) -> "new"."""
    if value is None:
        return "new"
    return f"{value * 100:+.0f}%"


@register.filter
def trend(value: Any) -> str:
    """CSS class of a change in errors: up (worse), down (better) or nothing."""
    if value is None or value == 0:
        return ""
    return "up" if value > 0 else "down"


@register.filter
def when(value: Any) -> str:
    """An ISO time (already in the page's zone) as "2026-11-20 10:15:03"."""
    if not value:
        return DASH
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.strftime("%Y-%m-%d %H:%M:%S")


@register.filter
def label(value: Any) -> str:
    """A category or other snake_case key as words: order_creation -> "order creation"."""
    return str(value).replace("_", " ")


@register.filter
def pretty_json(value: Any) -> str:
    """Stored JSON, indented for reading (the template escapes it like any text). A body that
    was text (an HTML error page, a plain message) is shown as that text, its line breaks as
    line breaks, not as one quoted JSON string full of `\r\n`."""
    if value is None:
        return "(none stored)"
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


@register.filter(needs_autoescape=True)
def visible(value: Any, autoescape: bool = True) -> SafeString:
    """Text from the data, escaped, with bidi controls shown as markers instead of applied."""
    if value is None:
        return mark_safe("")
    if isinstance(value, SafeString):
        return value
    text = str(value)
    return mark_safe(bidi.html(text) if autoescape else bidi.plain(text))


@register.filter
def visible_text(value: Any) -> str:
    """As `visible`, as plain text (for an attribute such as a title; the template escapes)."""
    return "" if value is None else bidi.plain(str(value))


@register.filter
def is_text(value: Any) -> bool:
    """Whether a stored body is text rather than JSON structure (see pretty_json)."""
    return isinstance(value, str)


@register.filter
def waited(since: Any) -> str:
    """How long ago `since` was, for a waiting queue: "3 h 10 min", "2 d 4 h", "5 min"."""
    if since is None:
        return DASH
    return wait_text(timezone.now() - since)


def wait_text(delta: timedelta) -> str:
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"
