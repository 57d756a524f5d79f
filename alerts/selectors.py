"""Reads of alert state for the pages and the API (the overview's banner and chart marks too)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Prefetch, QuerySet

from alerts.models import AlertState, Notification, Transition


def alerts_now() -> QuerySet[AlertState]:
    """Pending and firing alerts (silenced ones included, marked), firing first, newest first."""
    return (
        AlertState.objects.filter(status__in=("pending", "firing"), rule__enabled=True)
        .select_related("rule")
        .order_by("-status", "-since")  # "pending" sorts after "firing" when reversed
    )


def firing_now() -> list[AlertState]:
    """Firing alerts now (silenced ones too, marked `silenced`): the overview's banner."""
    return list(alerts_now().filter(status="firing"))


def firings_between(start: datetime, end: datetime) -> list[Transition]:
    """`firing` transitions in [start, end), oldest first: the overview's chart marks."""
    return list(
        Transition.objects.filter(kind="firing", at__gte=start, at__lt=end)
        .select_related("rule")
        .order_by("at", "id")
    )


def history() -> QuerySet[Transition]:
    """Every transition, newest first, with its notifications."""
    return (
        Transition.objects.select_related("rule")
        .prefetch_related(
            Prefetch("notifications", queryset=Notification.objects.select_related("channel"))
        )
        .order_by("-at", "-id")
    )
