"""Alerts services that write or send on request (the API's and the page's): preview, test."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alerts.evaluator import floor_minute, spec_of
from alerts.messages import build_message
from alerts.models import Notification, Rule, Transition
from alerts.outbox import deliver_due
from alerts.preview import replay_with_series
from alerts.values import question_of

RULE_DEFAULTS = {
    "endpoint": [],
    "category": [],
    "code": [],
    "cp_id": [],
    "account_code": [],
    "group_by": "none",
    "window_minutes": 15,
    "warning": None,
    "direction": "above",
    "min_calls": 0,
    "min_errors": 0,
    "percentile": 95.0,
    "for_minutes": 0,
    "resolve_threshold": None,
    "keep_firing_minutes": 0,
    "repeat_minutes": 0,
    "weeks": 8,
}


def preview_rule(*, days: int = 14, **fields: Any) -> dict[str, Any]:
    """When the (unsaved) rule would have fired and resolved over the last `days`."""
    rule = SimpleNamespace(**(RULE_DEFAULTS | {"tz": settings.TIME_ZONE} | fields))
    end = floor_minute(timezone.now())
    start = end - timedelta(days=days)
    replayed = replay_with_series(
        question=question_of(rule), spec=spec_of(rule), start=start, end=end
    )
    firings = replayed["firings"]
    return {
        "start": start,
        "end": end,
        "days": days,
        "fired": len(firings),
        "resolved": sum(1 for f in firings if f["resolved_at"] is not None),
        "firings": firings,
    }


def preview_series(rule: Rule, *, days: int = 1) -> dict[str, Any]:
    """A saved rule's replay for its page chart: firings and the value every 15 minutes."""
    end = floor_minute(timezone.now())
    start = end - timedelta(days=days)
    return replay_with_series(question=question_of(rule), spec=spec_of(rule), start=start, end=end)


def send_test(*, rule: Rule) -> dict[str, Any]:
    """One test message to each of the rule's channels, through the outbox (so it shows in
    the history like any notification); returns each channel's outcome."""
    at = timezone.now()
    channels = list(rule.channels.filter(enabled=True))
    with transaction.atomic():
        transition = Transition.objects.create(
            rule=rule,
            group_key="{}",
            labels={},
            kind="test",
            at=at,
            value=rule.threshold,
            threshold=rule.threshold,
            severity="warning",
            summary=f"Test notification for the rule {rule.name!r}; nothing is wrong.",
            notify=bool(channels),
        )
        message = build_message(
            rule=rule,
            labels={},
            kind="test",
            at=floor_minute(at),
            value=rule.threshold,
            severity="warning",
            summary=transition.summary,
            started_at=at,
        )
        Notification.objects.bulk_create(
            Notification(transition=transition, channel=c, message=message, next_attempt_at=at)
            for c in channels
        )
    deliver_due()
    return {
        "transition": transition.pk,
        "channels": [
            {"channel": n.channel.name, "status": n.status, "last_error": n.last_error}
            for n in transition.notifications.select_related("channel")
        ],
    }
