"""The evaluator: every enabled rule, every minute, exactly once across processes.

- One leader: `Leadership` holds a PostgreSQL advisory lock on a connection of its own (not
  Django's, which a transaction error or a reconnect could drop). A standby process waits for
  the lock; when a leader dies its connection closes and the lock goes to the next.
- One evaluation per minute: `evaluate_minute` claims the minute's `Tick` row (INSERT ... ON
  CONFLICT DO NOTHING) in the same transaction as the states, transitions and outbox rows it
  writes. A leader killed mid-minute rolls all of it back, so the next leader evaluates that
  minute (none skipped) and finds every committed minute claimed (none repeated).
- `due_minutes` catches up on the unclaimed minutes since the last claimed one, at most
  ALERTS_MAX_CATCHUP_MINUTES back.
- Notifications are sent from the outbox after the commit (alerts.outbox).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from alerts.machine import Change, Reading, Spec, State, step
from alerts.messages import build_message
from alerts.models import AlertState, Delivery, Notification, Rule, Tick, Transition
from alerts.silences import Quiet
from alerts.values import Reader, group_key, labels_of, question_of
from subscriptions.schedule import send_due_reports

log = logging.getLogger(__name__)
MINUTE = timedelta(minutes=1)
LOCK_KEY = 0x63706D5F616C7274 & 0x7FFFFFFFFFFFFFFF  # "cpm_alrt": one evaluator per database


def floor_minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


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


def evaluate_minute(minute: datetime) -> MinuteOutcome:
    """Evaluate every enabled rule at `minute` (UTC, whole minute), once: False `evaluated`
    when the minute was already claimed. States, history and outbox commit together.

    The rules' questions are asked first, outside the transaction (reads only: a rule whose
    question fails is reported on the rule and skipped, without aborting the others); then one
    short transaction claims the minute, steps every group and writes the changes in bulk.
    """
    minute = floor_minute(minute)
    started = time.monotonic()
    if Tick.objects.filter(minute=minute).exists():
        return MinuteOutcome(minute, evaluated=False)
    outcome = MinuteOutcome(minute, evaluated=True)
    rules = list(Rule.objects.filter(enabled=True).prefetch_related("channels"))
    readings = _ask(rules, at=minute, outcome=outcome)
    with transaction.atomic():
        if not _claim(minute):
            return MinuteOutcome(minute, evaluated=False)
        quiet = Quiet(at=minute)
        rows: dict[int, dict[str, AlertState]] = {}
        for row in AlertState.objects.filter(
            rule__in=[rule for rule in rules if rule.pk in readings]
        ):
            rows.setdefault(row.rule_id, {})[row.group_key] = row
        writes = Writes(at=minute)
        for rule in rules:
            if rule.pk in readings:
                _step_rule(rule, readings[rule.pk], rows.get(rule.pk, {}), quiet, writes)
        writes.flush(outcome)
        Tick.objects.filter(minute=minute).update(
            rules=outcome.rules,
            transitions=outcome.transitions,
            duration_ms=(time.monotonic() - started) * 1000,
        )
    return outcome


def _ask(rules: list[Rule], *, at: datetime, outcome: MinuteOutcome) -> dict[int, dict]:
    """Rule id -> its readings at `at`; a rule whose question failed is reported and left out."""
    reader, answers = Reader(at=at), {}
    for rule in rules:
        outcome.rules += 1
        try:
            answers[rule.pk] = reader.readings(question_of(rule))
        except Exception as error:  # noqa: BLE001 - reported on the rule, evaluation goes on
            log.exception("rule %s (%s) failed at %s", rule.pk, rule.name, at)
            outcome.errors.append(f"{rule.name}: {error}")
            Rule.objects.filter(pk=rule.pk).update(
                last_error=f"evaluation failed: {error}", last_error_at=at
            )
    return answers


def _claim(minute: datetime) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO alerts_tick (minute, evaluated_at, rules, transitions, duration_ms)"
            " VALUES (%s, now(), 0, 0, 0) ON CONFLICT (minute) DO NOTHING RETURNING minute",
            [minute],
        )
        return cursor.fetchone() is not None


def _step_rule(
    rule: Rule, readings: dict, rows: dict[str, AlertState], quiet: Quiet, writes: Writes
) -> None:
    spec = spec_of(rule)
    groups = {group_key(labels_of(rule.group_by, key)): key for key in readings}
    for key_text, row in rows.items():
        if row.status in ("pending", "firing") and key_text not in groups:
            groups[key_text] = tuple(row.labels.values())
    for key_text, key in groups.items():
        labels = labels_of(rule.group_by, key)
        reading = readings.get(key) or Reading(calls=0, errors=0, value=_absent_value(rule))
        silenced = quiet.silenced(rule_id=rule.pk, labels=labels)
        previous = rows.get(key_text)
        before = state_of(previous)
        state, changes = step(before, reading=reading, spec=spec, at=writes.at, silenced=silenced)
        if previous is None and state.status == "ok":
            continue  # a quiet group leaves no row
        writes.state(rule, previous, key_text, labels, before, state, reading)
        for change in changes:
            writes.transition(rule, labels, key_text, change, state, reading)


def _absent_value(rule: Rule) -> float | None:
    """A group with no rows in the window: no calls, no errors (no value for ratios)."""
    return {"errors": 0.0, "calls": 0.0, "error_rate": 0.0}.get(rule.metric)


# One UPDATE for every changed state: the rows' new values as arrays, unnested and joined by id
# (Django's bulk_update builds a CASE per field per row: seconds for a few hundred rows).
_STATE_TYPES = {
    "labels": "jsonb", "status": "text", "severity": "text", "value": "float8",
    "calls": "int8", "errors": "int8", "summary": "text", "since": "timestamptz",
    "pending_since": "timestamptz", "clear_since": "timestamptz", "started_at": "timestamptz",
    "last_notified_at": "timestamptz", "announced": "bool", "silenced": "bool",
    "evaluated_at": "timestamptz",
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
    params: list[list[object]] = [[row.pk for row in rows]]
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


class Writes:
    """What one minute changes, written in a few bulk statements at the end."""

    def __init__(self, *, at: datetime):
        self.at = at
        self.created: list[AlertState] = []
        self.updated: list[AlertState] = []
        self.transitions: list[tuple[Transition, Rule, Change, State, Reading]] = []

    def state(
        self,
        rule: Rule,
        row: AlertState | None,
        key_text: str,
        labels: dict,
        before: State,
        state: State,
        reading: Reading,
    ) -> None:
        quiet = state.status in ("ok", "resolved")
        if row is not None and quiet and state == replace(before, value=state.value):
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
    ) -> None:
        row = Transition(
            rule=rule,
            rule_name=rule.name,
            rule_metric=rule.metric,
            group_key=key_text,
            labels=labels,
            kind=change.kind,
            at=self.at,
            value=reading.value,
            threshold=rule.threshold,
            severity=change.severity,
            summary=reading.summary,
            started_at=state.started_at,
            silenced=state.silenced,
            notify=change.notify,
        )
        self.transitions.append((row, rule, change, state, reading))

    def flush(self, outcome: MinuteOutcome) -> None:
        AlertState.objects.bulk_create(self.created)
        _update_states(self.updated)
        Transition.objects.bulk_create([row for row, *_ in self.transitions])
        outcome.transitions += len(self.transitions)
        notes = [note for entry in self.transitions for note in self._notifications(*entry)]
        Notification.objects.bulk_create([note for note, _ in notes])
        Delivery.objects.bulk_create(
            Delivery(notification=note, transition=row, channel=note.channel) for note, row in notes
        )
        outcome.notifications += len(notes)

    def _notifications(
        self, row: Transition, rule: Rule, change: Change, state: State, reading: Reading
    ) -> list[tuple[Notification, Transition]]:
        channels = [channel for channel in rule.channels.all() if channel.enabled]
        if not change.notify or not channels:
            return []
        message = build_message(
            rule=rule,
            labels=row.labels,
            kind=change.kind,
            at=self.at,
            value=reading.value,
            severity=change.severity,
            summary=reading.summary,
            started_at=state.started_at,
        )
        now = timezone.now()  # due at once, also when `at` is a replayed or future minute
        return [
            (Notification(rule=rule, channel=channel, message=message, next_attempt_at=now), row)
            for channel in channels
        ]


# ---------------------------------------------------------------- which minutes, which leader


def due_minutes(*, now: datetime) -> list[datetime]:
    """The minutes to evaluate at `now`: each unclaimed one after the last claimed minute up to
    the current one, at most ALERTS_MAX_CATCHUP_MINUTES back (a leader down for a day does not
    replay the day)."""
    current = floor_minute(now)
    oldest = current - (settings.ALERTS_MAX_CATCHUP_MINUTES - 1) * MINUTE
    last = Tick.objects.filter(minute__lte=current).order_by("-minute").first()
    first = max(oldest, last.minute + MINUTE) if last else current
    claimed = set(
        Tick.objects.filter(minute__gte=first, minute__lte=current).values_list("minute", flat=True)
    )
    minutes = []
    moment = first
    while moment <= current:
        if moment not in claimed:
            minutes.append(moment)
        moment += MINUTE
    return minutes


def after_minute(minute: datetime) -> None:
    """Work that rides on the evaluator's minute: the scheduled weekly reports. Called after the
    minute's transaction committed: `send_due_reports` claims each week in a commit of its own
    before sending, so a rollback can never make it send twice."""
    send_due_reports(minute)


def database_dsn() -> str:
    """A libpq connection string for the lock connection, from Django's settings."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    params.pop("options", None)  # no statement_timeout on a connection that only waits
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in params.items() if v is not None})


class Leadership:
    """The advisory lock that makes one process the evaluator, on a dedicated connection."""

    def __init__(self) -> None:
        self._conn: psycopg.Connection | None = None

    def try_acquire(self) -> bool:
        """True when this process holds the lock (already or now)."""
        if self.holding():
            return True
        self.release()
        try:
            self._conn = psycopg.connect(database_dsn(), autocommit=True)
            row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY]).fetchone()
        except psycopg.Error as error:
            log.warning("alert evaluator: cannot reach the database for the lock: %s", error)
            self.release()
            return False
        if not row or not row[0]:
            self.release()
            return False
        return True

    def holding(self) -> bool:
        """The lock's connection is alive (the lock goes with it)."""
        if self._conn is None or self._conn.closed:
            return False
        try:
            self._conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
        self._conn = None
