"""Who is told what: the outbox rows for the changes a rule made in one minute.

- Routing: a change goes to the rule's enabled channels and to every enabled channel whose
  `matchers` match the alert's labels (and severity), from any rule. A channel is one target
  however many ways lead to it: a change reaches it once (and `Delivery`'s unique constraint
  holds that in the database).
- Grouping: with `together` (a grouped rule's default) the rule's changes of one minute go to
  a channel as one message per status (firing, resolved) naming every group routed there;
  with `each` (or without a group) every change is its own message.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from alerts.messages import Alert, build_grouped_message, build_message
from alerts.models import Channel, Delivery, Notification, Transition


def matches(matchers: dict[str, list[Any]], labels: dict[str, Any], severity: str) -> bool:
    """Every label a channel's matchers name is on the alert with one of the listed values
    (compared as text: 7 and "7" are one courier); an empty matcher set routes nothing."""
    if not matchers:
        return False
    seen = labels | {"severity": severity}
    return all(
        name in seen and str(seen[name]) in {str(value) for value in values}
        for name, values in matchers.items()
    )


def routed_channels(
    *, own: Iterable[Channel], routed: Iterable[Channel], labels: dict[str, Any], severity: str
) -> list[Channel]:
    """The enabled channels one alert goes to, each once, in id order."""
    chosen = {channel.pk: channel for channel in own if channel.enabled}
    for channel in routed:
        if channel.enabled and matches(channel.matchers or {}, labels, severity):
            chosen.setdefault(channel.pk, channel)
    return [chosen[pk] for pk in sorted(chosen)]


def routing_channels() -> list[Channel]:
    """The enabled channels with matchers: read once per evaluated minute."""
    return [c for c in Channel.objects.filter(enabled=True) if c.matchers]


@dataclass(frozen=True)
class Told:
    """A change that channels are told of: its history row and how a message says it."""

    transition: Transition
    alert: Alert


def outbox(
    *,
    rule: Any,
    told: Sequence[Told],
    own: Iterable[Channel],
    routed: Iterable[Channel],
    at: datetime,
    headline: str = "",
    remaining: int = 0,
) -> list[tuple[Notification, list[Transition]]]:
    """The notifications (unsaved) for a rule's told changes of one minute, each with the
    transitions it tells (see the module docstring)."""
    own = list(own)
    routed = list(routed)
    targets = {
        id(item): routed_channels(
            own=own, routed=routed, labels=item.alert.labels, severity=item.alert.severity
        )
        for item in told
    }
    now = timezone.now()  # due at once, also when `at` is a replayed or future minute
    if not together(rule):
        return [
            (Notification(rule_id=rule.id, channel=channel, message=message, next_attempt_at=now),
             [item.transition])
            for item in told
            for message in [build_message(rule=rule, alert=item.alert)]
            for channel in targets[id(item)]
        ]  # fmt: skip
    rows = []
    for status in ("firing", "resolved"):
        batch = [item for item in told if item.alert.status == status]
        per_channel: dict[int, tuple[Channel, list[Told]]] = {}
        for item in batch:
            for channel in targets[id(item)]:
                per_channel.setdefault(channel.pk, (channel, []))[1].append(item)
        built: dict[tuple[int, ...], dict] = {}  # channels told the same groups share a message
        for channel, items in per_channel.values():
            key = tuple(id(item) for item in items)
            if key not in built:
                built[key] = build_grouped_message(
                    rule=rule,
                    alerts=[item.alert for item in items],
                    at=at,
                    headline=headline if status == "firing" else "",
                    remaining=remaining,
                )
            note = Notification(
                rule_id=rule.id, channel=channel, message=built[key], next_attempt_at=now
            )
            rows.append((note, [item.transition for item in items]))
    return rows


def together(rule: Any) -> bool:
    """One message for the groups that change together: `notify` together on a grouped rule."""
    return rule.notify == "together" and rule.group_by != "none"


def save_outbox(rows: Sequence[tuple[Notification, list[Transition]]]) -> int:
    """Write the notifications and their deliveries (transitions already saved)."""
    notes = Notification.objects.bulk_create([note for note, _ in rows])
    Delivery.objects.bulk_create(
        Delivery(notification=note, transition=transition, channel_id=note.channel_id)
        for note, (_, transitions) in zip(notes, rows, strict=True)
        for transition in transitions
    )
    return len(notes)
