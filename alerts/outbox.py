"""The outbox: notifications are rows written in the evaluation's transaction and sent after it
committed, by whichever process evaluates (`run_alerts`), one at a time.

A row is locked (`FOR UPDATE SKIP LOCKED`) while it is sent and marked sent in the same
transaction, so two processes never send it twice. A failed send is retried with exponential
backoff (30 s, 1 min, 2 min, ... at most 1 h) up to ALERTS_MAX_ATTEMPTS, and the last error is
shown on the rule. Delivery is at least once for the one crash that cannot be told apart (the
receiver took it, the process died before the commit): `webhook-id` and PagerDuty's dedup_key
are stable across retries, so receivers drop such a repeat.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alerts.channels import SendFailed, channel_sender
from alerts.models import Notification, Rule

log = logging.getLogger(__name__)
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)


def backoff(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failure: 30 s doubling, at most an hour."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)


def deliver_due(
    *, now: datetime | None = None, limit: int = 200, budget_seconds: float = 20.0
) -> int:
    """Send the notifications that are due, oldest first; returns how many were sent.

    A channel that fails once is not tried again in the same round (its other messages wait
    for their own retry), and a round stops after `budget_seconds`, so a receiver that hangs
    until the timeout cannot hold up the next minute's evaluation.
    """
    sent, failing = 0, set[int]()
    deadline = time.monotonic() + budget_seconds
    for _ in range(limit):
        outcome = _deliver_one(now=now or timezone.now(), skip_channels=failing)
        if outcome is None:
            break
        delivered, channel_id = outcome
        if delivered:
            sent += 1
        else:
            failing.add(channel_id)
        if time.monotonic() > deadline:
            break
    return sent


def _deliver_one(*, now: datetime, skip_channels: set[int]) -> tuple[bool, int] | None:
    """Send one due notification: (sent?, its channel id), or None when none is due."""
    with transaction.atomic():
        note = (
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("channel")
            .filter(status=Notification.PENDING, next_attempt_at__lte=now)
            .exclude(channel_id__in=skip_channels)
            .order_by("next_attempt_at", "id")
            .first()
        )
        if note is None:
            return None
        note.attempts += 1
        try:
            if not note.channel.enabled:
                raise SendFailed(f"channel {note.channel.name!r} is disabled")
            sender = channel_sender(note.channel)
            sender.send(note.message, message_id=f"cpm-notification-{note.pk}")
        except SendFailed as failure:
            _failed(note, str(failure), now=now)
            return False, note.channel_id
        note.status, note.sent_at, note.last_error = Notification.SENT, timezone.now(), ""
        note.save(update_fields=["status", "sent_at", "last_error", "attempts"])
        return True, note.channel_id


def _failed(note: Notification, error: str, *, now: datetime) -> None:
    gave_up = note.attempts >= settings.ALERTS_MAX_ATTEMPTS
    note.status = Notification.FAILED if gave_up else Notification.PENDING
    note.next_attempt_at = now + backoff(note.attempts)
    note.last_error = error
    note.save(update_fields=["status", "next_attempt_at", "last_error", "attempts"])
    text = f"{note.channel.name}: {error}" + (" (gave up)" if gave_up else "")
    if note.rule_id is not None:  # a deleted rule's resolve has no rule to show it on
        Rule.objects.filter(pk=note.rule_id).update(last_error=text, last_error_at=now)
    log.warning(
        "alert notification %s to %s failed (attempt %s): %s; %s",
        note.pk,
        note.channel.name,
        note.attempts,
        error,
        "gave up" if gave_up else f"retrying at {note.next_attempt_at:%H:%M:%S}",
    )
