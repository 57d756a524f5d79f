"""Reads of alert state for the pages and the API (the overview's banner and chart marks too)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from django.db.models import Prefetch, QuerySet

from alerts.models import AlertState, Notification, Transition
from stats.questions import labeler


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


def label_namer(labels: Iterable[dict[str, Any]]) -> Callable[[str, Any], str]:
    """name_of(dim, value) for every label of `labels`: a courier's name for its cp_id, a
    code with its meaning; one query per dimension."""
    keys: dict[str, set] = defaultdict(set)
    for group in labels:
        for dim, value in group.items():
            keys[dim].add(value)
    named = {dim: labeler(dim, values) for dim, values in keys.items() if dim in ("cp_id", "code")}

    def name_of(dim: str, value: Any) -> str:
        if dim == "code" and dim in named:
            return f"{value} {named[dim](value)}"
        return named[dim](value) if dim in named else str(value)

    return name_of


def last_failure(channel: Any) -> Notification | None:
    """The channel's latest notification that a receiver did not take (staff see why)."""
    return (
        Notification.objects.filter(channel=channel)
        .exclude(last_error="")
        .order_by("-id")
        .only("id", "last_error", "status", "next_attempt_at", "created_at")
        .first()
    )
