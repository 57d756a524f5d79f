"""Alerts services that write or send on request (the API's and the page's): preview, test."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from alerts.charts import longest_firing, replay_words, rule_figure
from alerts.ending import end_rule_groups
from alerts.evaluator import spec_of
from alerts.leader import floor_minute
from alerts.messages import test_message
from alerts.models import Delivery, Notification, Rule, Transition
from alerts.outbox import deliver_due
from alerts.preview import replay_with_series
from alerts.selectors import label_namer
from alerts.values import labels_of, question_of
from stats.benign import benign_codes


def preview_rule(*, days: int = 14, **fields: Any) -> dict[str, Any]:
    """When the (unsaved) rule would have fired and resolved over the last `days`; the replay
    in words ("would have fired 3 times in 14 days, longest 3 h"), its longest firing in
    minutes, and the chart the rule editor draws (a Plotly figure, None without traffic)."""
    fields.pop("channels", None)  # a replay sends nothing
    fields.pop("inhibited_by", None)  # nor is it muted by another rule
    rule = Rule(**fields)  # never saved: the model's defaults fill what the body left out
    end = floor_minute(timezone.now())
    start = end - timedelta(days=days)
    replayed = replay_with_series(
        question=question_of(rule), spec=spec_of(rule), start=start, end=end, benign=benign_codes()
    )
    firings = replayed["firings"]
    longest = longest_firing(firings, end=end)
    return {
        "start": start,
        "end": end,
        "days": days,
        "fired": len(firings),
        "resolved": sum(1 for f in firings if f["resolved_at"] is not None),
        "firings": firings,
        "longest_minutes": None if longest is None else int(longest.total_seconds() // 60),
        "summary": replay_words(firings, days=days, end=end),
        "figure": rule_figure(rule, replayed, name_of=_namer(rule, replayed)),
    }


def _namer(rule: Any, replayed: dict[str, Any]):
    return label_namer(labels_of(rule.group_by, key) for key in replayed["series"])


def preview_series(rule: Rule, *, days: int = 1) -> dict[str, Any]:
    """A saved rule's replay for its page chart: firings and the value every 15 minutes."""
    end = floor_minute(timezone.now())
    start = end - timedelta(days=days)
    return replay_with_series(
        question=question_of(rule), spec=spec_of(rule), start=start, end=end, benign=benign_codes()
    )


def save_rule(serializer: Any) -> Rule:
    """Save a rule from a validated serializer (create or edit) and, in the same transaction,
    resolve the groups it no longer has: all of them when it was disabled (alerts.ending)."""
    with transaction.atomic():
        rule = serializer.save()
        end_rule_groups(rule)
    return rule


def delete_rule(rule: Rule) -> None:
    """Delete a rule; its firing groups are resolved first (alerts.ending's pre_delete) and its
    history stays, marked "rule deleted"."""
    with transaction.atomic():
        rule.delete()


def send_test(*, rule: Rule) -> dict[str, Any]:
    """One test message to each of the rule's channels, through the outbox (so it shows in
    the history like any notification), marked as a test in every channel (webhook `"test":
    true`, "TEST" in chat and e-mail, PagerDuty `info` on a test key resolved at once);
    returns each channel's outcome."""
    at = timezone.now()
    channels = list(rule.channels.filter(enabled=True))
    summary = f"Test notification for the rule {rule.name!r}; nothing is wrong."
    with transaction.atomic():
        transition = Transition.objects.create(
            rule=rule,
            rule_name=rule.name,
            rule_metric=rule.metric,
            group_key="{}",
            labels={},
            kind="test",
            at=at,
            value=rule.threshold,
            threshold=rule.threshold,
            severity="warning",
            summary=summary,
            notify=bool(channels),
        )
        message = test_message(
            rule=rule, summary=summary, at=at, key=f"cpm-test-rule-{rule.pk}-{transition.pk}"
        )
        notes = Notification.objects.bulk_create(
            Notification(rule=rule, channel=c, message=message, next_attempt_at=at)
            for c in channels
        )
        Delivery.objects.bulk_create(
            Delivery(notification=note, transition=transition, channel=note.channel)
            for note in notes
        )
    deliver_due()
    return {
        "transition": transition.pk,
        "channels": [
            {"channel": n.channel.name, "status": n.status, "last_error": n.last_error}
            for n in transition.notifications.select_related("channel")
        ],
    }
