"""A resolve is never lost: groups that end because their rule was disabled, deleted or edited
so that the group no longer exists are resolved once, with the reason, through the outbox.

The API, the admin and the pages call `end_rule_groups` in the transaction that changes the
rule; deleting a rule does it from a `pre_delete` receiver (every way Django deletes a rule,
a bulk delete in the admin too, sends it); the evaluator calls `stale_groups` each minute for
whatever changed a rule another way. The states are locked while they are ended and then
resolved (disabled) or removed (deleted, edited), so one group's resolve is written once
however many of these run, and the outbox sends it after the commit, also when the evaluator
restarted in between.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models.signals import pre_delete
from django.dispatch import receiver
from django.utils import timezone

from alerts.labels import identity
from alerts.messages import Facts, alert_of
from alerts.models import AlertState, Rule, Transition
from alerts.notify import Told, outbox, routing_channels, save_outbox

ACTIVE = ("pending", "firing")
DISABLED, DELETED, EDITED = "rule disabled", "rule deleted", "rule edited"


@dataclass(frozen=True)
class Ending:
    rule: Rule
    states: list[AlertState]
    reason: str


def group_exists(rule: Any, labels: dict[str, Any]) -> bool:
    """The rule as it is now still has this group: grouped the same way, and the group's value
    is inside the rule's filter on that dimension (if it has one)."""
    ident = identity(labels)
    dims = set() if rule.group_by == "none" else {rule.group_by}
    if set(ident) != dims:
        return False
    for dim, value in ident.items():
        allowed = {str(v) for v in getattr(rule, dim)}
        if allowed and str(value) not in allowed:
            return False
    return True


def _active(rule_ids: Iterable[int] | None = None) -> dict[int, list[AlertState]]:
    rows = AlertState.objects.select_for_update().filter(status__in=ACTIVE).order_by("id")
    if rule_ids is not None:
        rows = rows.filter(rule_id__in=list(rule_ids))
    by_rule: dict[int, list[AlertState]] = {}
    for row in rows:
        by_rule.setdefault(row.rule_id, []).append(row)
    return by_rule


def active_states() -> dict[int, list[AlertState]]:
    """Rule id -> its pending and firing states, locked (in id order) until the commit."""
    return _active()


def stale_groups(active: dict[int, list[AlertState]] | None = None) -> list[Ending]:
    """Active groups of disabled rules, and of enabled rules that no longer have them (of
    `active`, from `active_states`, when the caller read them already)."""
    by_rule = _active() if active is None else active
    rules = Rule.objects.in_bulk(list(by_rule))
    endings = []
    for rule_id, states in by_rule.items():
        rule = rules[rule_id]
        if not rule.enabled:
            endings.append(Ending(rule, states, DISABLED))
            continue
        gone = [state for state in states if not group_exists(rule, state.labels)]
        if gone:
            endings.append(Ending(rule, gone, EDITED))
    return endings


def end_rule_groups(rule: Rule) -> int:
    """After a rule was saved: end the groups it no longer has (all when disabled). Returns
    how many groups ended. Call it inside the transaction that saved the rule."""
    states = _active([rule.pk]).get(rule.pk, [])
    if not rule.enabled:
        return end_groups([Ending(rule, states, DISABLED)])
    gone = [state for state in states if not group_exists(rule, state.labels)]
    return end_groups([Ending(rule, gone, EDITED)]) if gone else 0


@receiver(pre_delete, sender=Rule, dispatch_uid="alerts-resolve-on-delete")
def _resolve_on_delete(sender: type, instance: Rule, **kwargs: Any) -> None:
    states = _active([instance.pk]).get(instance.pk, [])
    end_groups([Ending(instance, states, DELETED)])


def end_groups(endings: Iterable[Ending], *, at: datetime | None = None) -> int:
    """Resolve each ending group once: a `resolved` transition (told when its firing was
    told) or an `ok` one for a pending group, then the state resolved or removed."""
    at = at or timezone.now()
    ended = 0
    routed: list | None = None
    for ending in endings:
        if not ending.states:
            continue
        routed = routing_channels() if routed is None else routed
        _end(ending, at=at, routed=routed)
        ended += len(ending.states)
    return ended


def _end(ending: Ending, *, at: datetime, routed: list) -> None:
    rule, deleted = ending.rule, ending.reason == DELETED
    told: list[Told] = []
    rows = []
    for state in ending.states:
        announced = state.status == "firing" and state.announced
        row = Transition(
            rule=None if deleted else rule,  # the rule's row is going: the history keeps its name
            rule_name=rule.name,
            rule_metric=rule.metric,
            group_key=state.group_key,
            labels=state.labels,
            kind="resolved" if state.status == "firing" else "ok",
            reason=ending.reason,
            at=at,
            value=state.value,
            threshold=rule.threshold,
            severity=state.severity,
            summary=state.summary,
            started_at=state.started_at,
            silenced=state.silenced,
            inhibited=state.inhibited,
            notify=announced,
        )
        rows.append(row)
        if announced:
            alert = alert_of(
                rule,
                labels=state.labels,
                kind="resolved",
                at=at,
                value=state.value,
                severity=state.severity,
                summary="",
                started_at=state.started_at,
                facts=Facts(),
                reason=ending.reason,
            )
            told.append(Told(transition=row, alert=alert))
    Transition.objects.bulk_create(rows)
    ended_ids = [state.pk for state in ending.states]
    remaining = (
        0
        if deleted or ending.reason == DISABLED
        else AlertState.objects.filter(rule=rule, status="firing", announced=True)
        .exclude(pk__in=ended_ids)
        .count()
    )
    notes = outbox(
        rule=rule,
        told=told,
        own=rule.channels.all(),
        routed=routed,
        at=at,
        remaining=remaining,
    )
    if deleted:
        for note, _ in notes:
            note.rule_id = None
    save_outbox(notes)
    if ending.reason == DISABLED:
        AlertState.objects.filter(pk__in=ended_ids).update(
            status="resolved", since=at, pending_since=None, clear_since=None, evaluated_at=at
        )
    else:
        AlertState.objects.filter(pk__in=ended_ids).delete()
