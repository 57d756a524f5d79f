"""`{% report_subscriptions %}` on /reports/: the subscriptions and the form, so the page view
(dashboard/) needs no import of this room."""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings

from subscriptions.models import WEEKDAYS, ReportSubscription
from subscriptions.views import is_own

register = template.Library()
ZONES = ("UTC", "Asia/Kolkata", "Asia/Dubai", "Asia/Singapore", "Europe/London")


@register.inclusion_tag("subscriptions/_subscriptions.html", takes_context=True)
def report_subscriptions(context: Any) -> dict[str, Any]:
    request = context["request"]
    staff = request.user.is_staff
    rows = [
        {"subscription": s, "mine": is_own(request, s)}
        for s in ReportSubscription.objects.filter(enabled=True)
    ]
    return {
        "csrf_token": context.get("csrf_token"),
        "next": request.get_full_path(),
        "staff": staff,
        "email": request.user.email,
        "rows": [r for r in rows if staff or r["mine"]],
        "others": 0 if staff else sum(1 for r in rows if not r["mine"]),
        "weekdays": WEEKDAYS,
        "hours": range(24),
        "zones": list(dict.fromkeys([*ZONES, settings.TIME_ZONE])),
        "zone": settings.TIME_ZONE,
    }
