"""The evaluator: every enabled rule, every minute, exactly once across processes.

- One evaluation per minute: `evaluate_minute` claims the minute's `Tick` row (INSERT ... ON
  CONFLICT DO NOTHING) in the same transaction as the states, transitions and outbox rows it
  writes. A leader killed mid-minute rolls all of it back, so the next leader evaluates that
  minute (none skipped) and finds every committed minute claimed (none repeated). Which
  process leads and which minutes are due: alerts.leader.
- The minute's reads come first, outside the transaction: each rule's counts (alerts.values)
  and the facts its messages name (the catalog, the couriers' names). Messages are built from
  them (alerts.messages, no query there), and sent from the outbox after the commit.
- Rules are stepped inhibitors first, so a rule muted by another that fires in the same minute
  is never told (`inhibited_by`). A disabled rule, or a group that an edit made stop
  existing, is resolved here too when the page or API that changed it did not (alerts.ending).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.db import connection, transaction

from alerts.ending import active_states, end_groups, stale_groups
from alerts.labels import identity
from alerts.leader import floor_minute
from alerts.machine import Change, Reading, Spec, State, severity_of, step
from alerts.messages import Facts, alert_of, headline_text, named
from alerts.models import AlertState, Rule, Tick, Transition
from alerts.notify import Told, outbox, routing_channels, save_outbox
from alerts.silences import Quiet
from alerts.values import Reader, Tally, group_key, labels_of, question_of, reading_of
from ingest.models import CodeEntry
from stats.benign import benign_codes
from stats.questions import labeler
from stats.windowed import EdgeMemory

log = logging.getLogger(__name__)
# The raw edge minutes read by the last minutes, kept for the next (stats.windowed.EdgeMemory):
# one evaluator per process, minute after minute.
EDGE_MEMORY = EdgeMemory()


def spec_of(rule: Rule) -> Spec:
    return Spec(
        threshold=rule.threshold,
        warning=rule.warning,
        direction=rule.direction,
        min_calls=rule.min_calls,
        min_errors=rule.min_errors,
        for_minutes=rule.for_minutes,
        resolve_threshold=rule.resolve_threshold,
        keep_firing_minutes=rule.keep_firing_minutes,
        repeat_minutes=rule.repeat_minutes,
    )


def state_of(row: AlertState | None) -> State:
    if row is None:
        return State()
    return State(
        status=row.status,
        since=row.since,
        severity=row.severity,
        value=row.value,
        pending_since=row.pending_since,
        clear_since=row.clear_since,
        started_at=row.started_at,
        last_notified_at=row.last_notified_at,
        announced=row.announced,
        silenced=row.silenced,
    )


@dataclass
class MinuteOutcome:
    minute: datetime
    evaluated: bool
    rules: int = 0
    transitions: int = 0
    notifications: int = 0
    errors: list[str] = field(default_factory=list)
    # The reads' share of the minute (the rules' counts, before the transaction): it grows
    # with the data; the rest (stepping, writing) with the groups that are alerting.
    read_seconds: float = 0.0


def read_facts() -> Facts:
    """The catalog's words and the benign codes, read once per minute (names come later, for
    the couriers that the readings hold)."""
    entries = CodeEntry.objects.values_list("code", "meaning", "action")
    return Facts(
        meanings={code: (meaning, action) for code, meaning, action in entries},
        benign=benign_codes(),
    )


def with_couriers(facts: Facts, readings: dict[int, dict]) -> Facts:
    """`facts` with the names of every courier the readings name (one query)."""
    ids = {key[0] for groups in readings.values() for key in groups if key and _is_id(key[0])}
    if not ids:
        return facts
    names = labeler("cp_id", sorted(ids))
    return replace(facts, couriers={cp_id: names(cp_id) for cp_id in ids})


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def evaluate_minute(minute: datetime) -> MinuteOutcome:
    """Evaluate every enabled rule at `minute` (UTC, whole minute), once: False `evaluated`
    when the minute was already claimed. States, history and outbox commit together.

    A rule whose question fails is reported on the rule and skipped, without aborting the
    others; then one short transaction claims the minute, steps every group and writes the
    changes in bulk.
    """
    minute = floor_minute(minute)
    started = time.monotonic()
    if Tick.objects.filter(minute=minute).exists():
        return MinuteOutcome(minute, evaluated=False)
    outcome = MinuteOutcome(minute, evaluated=True)
    rules = list(Rule.objects.filter(enabled=True).prefetch_related("channels", "inhibited_by"))
    facts = read_facts()
    reading = time.monotonic()
    reader = Reader(at=minute, benign=facts.benign, edge_memory=EDGE_MEMORY)
    readings = _ask(rules, reader=reader, outcome=outcome)
    outcome.read_seconds = time.monotonic() - reading
    facts = with_couriers(facts, readings)
    routed = routing_channels()
    with transaction.atomic():
        if not _claim(minute):
            return MinuteOutcome(minute, evaluated=False)
        writes = Writes(at=minute, facts=facts, routed=routed)
        # Pages and the API resolve what they disable, delete or edit; this catches the rest
        # (an update in bulk, a script) before the minute's own changes.
        active = active_states()
        ended = end_groups(stale_groups(active), at=minute)
        rows = state_rows(rules, active=None if ended else active)
        live = set(
            Rule.objects.filter(pk__in=[r.pk for r in rules], enabled=True).values_list(
                "pk", flat=True
            )
        )  # a rule disabled since the reads above is not stepped
        firing = {
            rule_id: [json.loads(key) for key, row in by_key.items() if row.status == "firing"]
            for rule_id, by_key in rows.items()
        }
        quiet = Quiet(at=minute)
        for rule in inhibitors_first(rules):
            if rule.pk in readings and rule.pk in live:
                firing[rule.pk] = _step_rule(
                    rule, readings[rule.pk], rows.get(rule.pk, {}), quiet, writes, firing
                )
        writes.flush(outcome)
        Tick.objects.filter(minute=minute).update(
            rules=outcome.rules,
            transitions=outcome.transitions,
            duration_ms=(time.monotonic() - started) * 1000,
        )
    return outcome


def state_rows(
    rules: list[Rule], *, active: dict[int, list[AlertState]] | None
) -> dict[int, dict[str, AlertState]]:
    """Rule id -> group key -> its state row, every row of these rules locked. The `active`
    ones (read and locked by `active_states`, unchanged since) are not read again: a minute
    with a hundred live groups instantiates each row once, not twice."""
    query = AlertState.objects.select_for_update().filter(rule__in=rules)
    if active is None:
        found = list(query)
    else:
        ids = {rule.pk for rule in rules}
        found = [row for rule_id, held in active.items() if rule_id in ids for row in held]
        found += query.exclude(pk__in=[row.pk for row in found])
    rows: dict[int, dict[str, AlertState]] = {}
    for row in found:
        rows.setdefault(row.rule_id, {})[row.group_key] = row
    return rows


def inhibitors_first(rules: list[Rule]) -> list[Rule]:
    """The rules ordered so that each comes after the rules that can inhibit it (a cycle is
    broken where it is found: that rule sees the others' previous minute)."""
    by_id = {rule.pk: rule for rule in rules}
    ordered: list[Rule] = []
    placed: set[int] = set()
    visiting: set[int] = set()

    def place(rule: Rule) -> None:
        if rule.pk in placed or rule.pk in visiting:
            return
        visiting.add(rule.pk)
        for other in rule.inhibited_by.all():
            if other.pk in by_id:
                place(by_id[other.pk])
        visiting.discard(rule.pk)
        placed.add(rule.pk)
        ordered.append(rule)

    for rule in rules:
        place(rule)
    return ordered


def inhibitors(rule: Rule) -> list[int]:
    """The ids of the other rules that can inhibit this one (read once per rule and minute:
    each `inhibited_by.all()` builds a manager, ~40 us, and a minute steps thousands of groups)."""
    return [other.pk for other in rule.inhibited_by.all() if other.pk != rule.pk]


def inhibited(by: list[int], labels: dict[str, Any], firing: dict[int, list[dict]]) -> bool:
    """One of the inhibitors `by` fires for these labels: for the same labels where both
    rules group alike, for every group where the inhibitor is ungrouped (the labels two rules
    share must agree)."""
    for other in by:
        for theirs in firing.get(other, []):
            if all(str(labels.get(k)) == str(v) for k, v in theirs.items() if k in labels):
                return True
    return False


def _ask(rules: list[Rule], *, reader: Reader, outcome: MinuteOutcome) -> dict[int, dict]:
    """Rule id -> its readings at `at`; a rule whose question failed is reported and left out."""
    answers = {}
    reader.share_edges(question_of(rule) for rule in rules)
    for rule in rules:
        outcome.rules += 1
        try:
            answers[rule.pk] = reader.readings(question_of(rule))
        except Exception as error:  # noqa: BLE001 - reported on the rule, evaluation goes on
            log.exception("rule %s (%s) failed at %s", rule.pk, rule.name, reader.at)
            outcome.errors.append(f"{rule.name}: {error}")
            Rule.objects.filter(pk=rule.pk).update(
                last_error=f"evaluation failed: {error}", last_error_at=reader.at
            )
    return answers


@lru_cache(maxsize=4096)
def group_text(group_by: str, key: tuple) -> str:
    """The group's key text (`group_key`), made once per group for every rule that groups
    alike (thousands of groups are stepped each minute, most of them the same couriers)."""
    return group_key(labels_of(group_by, key))


def _claim(minute: datetime) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO alerts_tick (minute, evaluated_at, rules, transitions, duration_ms)"
            " VALUES (%s, now(), 0, 0, 0) ON CONFLICT (minute) DO NOTHING RETURNING minute",
            [minute],
        )
        return cursor.fetchone() is not None


def _step_rule(
    rule: Rule,
    readings: dict,
    rows: dict[str, AlertState],
    quiet: Quiet,
    writes: Writes,
    firing: dict[int, list[dict]],
) -> list[dict]:
    """Step every group of the rule; returns the identity labels of its groups firing now."""
    spec, question = spec_of(rule), question_of(rule)
    groups = {group_text(rule.group_by, key): key for key in readings}
    for key_text, row in rows.items():
        if row.status in ("pending", "firing") and key_text not in groups:
            groups[key_text] = tuple(identity(row.labels).values())
    changed = RuleChanges(rule=rule)
    firing_now = []
    by = inhibitors(rule)
    for key_text, key in groups.items():
        reading = readings.get(key) or reading_of(question, Tally())
        previous = rows.get(key_text)
        if previous is None and not severity_of(reading, spec):
            # Not breaching from `ok`, `step` keeps it `ok` with no change, and a quiet group
            # leaves no row: most groups, every minute, skipped before any other work.
            continue
        ident = labels_of(rule.group_by, key)
        labels = named(ident, writes.facts)
        silenced = quiet.silenced(rule_id=rule.pk, labels=labels)
        muted = inhibited(by, ident, firing)
        before = state_of(previous)
        state, changes = step(
            before, reading=reading, spec=spec, at=writes.at, silenced=silenced or muted
        )
        if state.status == "firing":
            firing_now.append(ident)
        state = replace(state, silenced=silenced)
        writes.state(rule, previous, key_text, labels, before, state, reading, muted)
        for change in changes:
            changed.add(writes.transition(rule, labels, key_text, change, state, reading, muted))
        if state.status == "firing" and state.announced:
            changed.remaining += 1
    changed.active = sum(1 for r in readings.values() if r.calls)
    changed.firing = len(firing_now)
    writes.rules.append(changed)
    return firing_now


@dataclass
class RuleChanges:
    """What one rule changed in one minute, for its messages."""

    rule: Rule
    told: list[tuple[Transition, Change, State, Reading, str]] = field(default_factory=list)
    remaining: int = 0  # groups firing and told after this minute (PagerDuty's incident)
    active: int = 0  # groups with calls now (the "N of M couriers" headline)
    firing: int = 0

    def add(self, entry: tuple[Transition, Change, State, Reading, str]) -> None:
        if entry[1].notify:
            self.told.append(entry)


# One UPDATE for every changed state: the rows' new values as arrays, unnested and joined by id
# (Django's bulk_update builds a CASE per field per row: seconds for a few hundred rows).
_STATE_TYPES = {
    "labels": "jsonb", "status": "text", "severity": "text", "value": "float8",
    "calls": "int8", "errors": "int8", "summary": "text", "since": "timestamptz",
    "pending_since": "timestamptz", "clear_since": "timestamptz", "started_at": "timestamptz",
    "last_notified_at": "timestamptz", "announced": "bool", "silenced": "bool",
    "inhibited": "bool", "evaluated_at": "timestamptz",
}  # fmt: skip


def _update_states(rows: list[AlertState]) -> None:
    if not rows:
        return
    names = list(_STATE_TYPES)
    columns = ", ".join(f"unnest(%s::{_cast(name)}[]) AS {name}" for name in ["id", *names])
    sets = ", ".join(
        f"{name} = v.{name}" + ("::jsonb" if _STATE_TYPES[name] == "jsonb" else "")
        for name in names
    )
    params: list[list[Any]] = [[row.pk for row in rows]]
    for name in names:
        values = [getattr(row, name) for row in rows]
        params.append([json.dumps(v) for v in values] if name == "labels" else values)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE alerts_alertstate AS s SET {sets} FROM (SELECT {columns}) AS v"
            " WHERE s.id = v.id",
            params,
        )


def _cast(name: str) -> str:
    if name == "id":
        return "int8"
    return "text" if _STATE_TYPES[name] == "jsonb" else _STATE_TYPES[name]


def resolve_reason(change: Change, reading: Reading, rule: Rule) -> str:
    """'no data' for a resolve because the group's calls stopped (not because it recovered)."""
    no_value = reading_of(question_of(rule), Tally()).value is None
    return "no data" if change.kind == "resolved" and reading.no_data and no_value else ""


class Writes:
    """What one minute changes, written in a few bulk statements at the end."""

    def __init__(self, *, at: datetime, facts: Facts, routed: list):
        self.at = at
        self.facts = facts
        self.routed = routed
        self.created: list[AlertState] = []
        self.updated: list[AlertState] = []
        self.transitions: list[Transition] = []
        self.rules: list[RuleChanges] = []

    def state(
        self,
        rule: Rule,
        row: AlertState | None,
        key_text: str,
        labels: dict,
        before: State,
        state: State,
        reading: Reading,
        muted: bool,
    ) -> None:
        quiet = state.status in ("ok", "resolved")
        unchanged = state == replace(before, value=state.value)
        if row is not None and quiet and unchanged and row.inhibited == muted:
            return  # a quiet row whose value moved: nobody shows it, no write
        values = {
            "labels": labels,
            "status": state.status,
            "severity": state.severity,
            "value": state.value,
            "calls": reading.calls,
            "errors": reading.errors,
            "summary": reading.summary,
            "since": state.since or self.at,
            "pending_since": state.pending_since,
            "clear_since": state.clear_since,
            "started_at": state.started_at,
            "last_notified_at": state.last_notified_at,
            "announced": state.announced,
            "silenced": state.silenced,
            "inhibited": muted and not quiet,
            "evaluated_at": self.at,
        }
        if row is None:
            self.created.append(AlertState(rule=rule, group_key=key_text, **values))
            return
        for name, value in values.items():
            setattr(row, name, value)
        self.updated.append(row)

    def transition(
        self,
        rule: Rule,
        labels: dict,
        key_text: str,
        change: Change,
        state: State,
        reading: Reading,
        muted: bool,
    ) -> tuple[Transition, Change, State, Reading, str]:
        reason = resolve_reason(change, reading, rule)
        row = Transition(
            rule=rule,
            rule_name=rule.name,
            rule_metric=rule.metric,
            group_key=key_text,
            labels=labels,
            kind=change.kind,
            reason=reason,
            at=self.at,
            value=reading.value,
            threshold=rule.threshold,
            severity=change.severity,
            summary=reading.summary,
            started_at=state.started_at,
            silenced=state.silenced,
            inhibited=muted,
            notify=change.notify,
        )
        self.transitions.append(row)
        return row, change, state, reading, reason

    def flush(self, outcome: MinuteOutcome) -> None:
        AlertState.objects.bulk_create(self.created)
        _update_states(self.updated)
        Transition.objects.bulk_create(self.transitions)
        outcome.transitions += len(self.transitions)
        rows = [row for changed in self.rules for row in self._outbox(changed)]
        outcome.notifications += save_outbox(rows)

    def _outbox(self, changed: RuleChanges) -> list:
        if not changed.told:
            return []
        rule = changed.rule
        told = [
            Told(
                transition=row,
                alert=alert_of(
                    rule,
                    labels=row.labels,
                    kind=change.kind,
                    at=self.at,
                    value=reading.value,
                    severity=change.severity,
                    summary=reading.summary,
                    started_at=state.started_at,
                    facts=self.facts,
                    top_code=reading.top_code,
                    codes=reading.codes,
                    reason=reason,
                ),
            )
            for row, change, state, reading, reason in changed.told
        ]
        return outbox(
            rule=rule,
            told=told,
            own=rule.channels.all(),
            routed=self.routed,
            at=self.at,
            headline=headline_text(rule=rule, firing=changed.firing, active=changed.active),
            remaining=changed.remaining,
        )
