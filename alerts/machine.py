"""The state machine of one alert (one rule, one group), as a pure function.

`step(previous, reading, spec, at, silenced)` takes where a group stood, what the rule's
question answered at minute `at`, and gives the new state and the changes to record. The
evaluator (every minute, on the database) and the preview (a replay over days, unsaved) call
this same function, so the preview is the evaluation, not an approximation of it.

States: ok -> pending -> firing -> resolved (-> pending ...).
- A group below the volume floor (`min_calls`, `min_errors`) is never breaching: four calls
  with three failures is not an incident.
- Breaching the critical `threshold` (or the `warning`) starts `pending`; after `for_minutes`
  of breaching it fires (at once when for_minutes is 0).
- A firing alert resolves only when its value is back past `resolve_threshold` (default: the
  lowest alerting line) for `keep_firing_minutes` in a row: no flapping on a noisy line.
- A firing alert is told when it fires, when it escalates from warning to critical, every
  `repeat_minutes` while it fires (0: never), and once when it resolves. While silenced it is
  not told; a firing alert that was never told (silenced when it fired) is told when the
  silence ends, and a resolve is told only for an alert that was told it fired.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

CRITICAL, WARNING = "critical", "warning"


@dataclass(frozen=True)
class Spec:
    """What the machine needs of a rule (a saved `Rule` or a preview's unsaved body)."""

    threshold: float
    warning: float | None = None
    direction: str = "above"
    min_calls: int = 0
    min_errors: int = 0
    for_minutes: int = 0
    resolve_threshold: float | None = None
    keep_firing_minutes: int = 0
    repeat_minutes: int = 0

    def crosses(self, value: float, line: float) -> bool:
        return value > line if self.direction == "above" else value < line

    @property
    def resolve_line(self) -> float:
        if self.resolve_threshold is not None:
            return self.resolve_threshold
        return self.warning if self.warning is not None else self.threshold


@dataclass(frozen=True)
class Reading:
    """The rule's answer for a group at one minute: its volume and its value (None: no value,
    e.g. a change against a week with no calls)."""

    calls: int
    errors: int
    value: float | None
    breach: bool | None = None  # set by metrics that decide breaching themselves (anomaly)
    summary: str = ""
    top_code: int | None = None  # the code with most errors (the message's "what to do")
    codes: tuple[int, ...] = ()  # the codes counted (a drill-down link lists them)

    @property
    def no_data(self) -> bool:
        return self.calls == 0


@dataclass(frozen=True)
class State:
    status: str = "ok"
    since: datetime | None = None
    severity: str = ""
    value: float | None = None
    pending_since: datetime | None = None
    clear_since: datetime | None = None
    started_at: datetime | None = None
    last_notified_at: datetime | None = None
    announced: bool = False
    silenced: bool = False


@dataclass(frozen=True)
class Change:
    """Something to record in the history; `notify` when the channels are told of it."""

    kind: str  # pending | firing | escalated | repeat | resolved | ok
    severity: str
    notify: bool


def severity_of(reading: Reading, spec: Spec) -> str:
    """critical, warning or '' (not breaching) for one reading."""
    if reading.calls < spec.min_calls or reading.errors < spec.min_errors:
        return ""
    if reading.value is None:
        return ""
    if reading.breach is not None:  # anomaly: the metric judged the breach, value = p
        if not reading.breach:
            return ""
        if reading.value < spec.threshold:
            return CRITICAL
        return WARNING if spec.warning is not None and reading.value < spec.warning else ""
    if spec.crosses(reading.value, spec.threshold):
        return CRITICAL
    if spec.warning is not None and spec.crosses(reading.value, spec.warning):
        return WARNING
    return ""


def _recovered(reading: Reading, spec: Spec, severity: str) -> bool:
    """Back on the good side of the resolve line (or below the volume floor)."""
    if severity:
        return False
    if reading.calls < spec.min_calls or reading.errors < spec.min_errors:
        return True
    if reading.value is None or reading.breach is not None:
        return True
    return not spec.crosses(reading.value, spec.resolve_line)


def step(
    previous: State, *, reading: Reading, spec: Spec, at: datetime, silenced: bool = False
) -> tuple[State, list[Change]]:
    """The state after minute `at` and the changes it made (see the module docstring)."""
    severity = severity_of(reading, spec)
    state = replace(previous, value=reading.value, silenced=silenced)
    if previous.status in ("ok", "resolved"):
        return _from_quiet(state, severity, spec, at, silenced)
    if previous.status == "pending":
        if not severity:
            return replace(state, status="ok", since=at, pending_since=None, severity=""), [
                Change("ok", "", False)
            ]
        return _maybe_fire(replace(state, severity=severity), spec, at, silenced)
    return _while_firing(state, reading, severity, spec, at, silenced)


def _from_quiet(
    state: State, severity: str, spec: Spec, at: datetime, silenced: bool
) -> tuple[State, list[Change]]:
    if not severity:
        return state, []
    pending = replace(
        state, status="pending", since=at, pending_since=at, severity=severity, announced=False
    )
    fired, changes = _maybe_fire(pending, spec, at, silenced)
    if fired.status == "firing":
        return fired, changes
    return pending, [Change("pending", severity, False)]


def _maybe_fire(
    state: State, spec: Spec, at: datetime, silenced: bool
) -> tuple[State, list[Change]]:
    assert state.pending_since is not None
    if at - state.pending_since < timedelta(minutes=spec.for_minutes):
        return state, []
    fired = replace(
        state,
        status="firing",
        since=at,
        started_at=state.pending_since,
        clear_since=None,
        announced=not silenced,
        last_notified_at=None if silenced else at,
    )
    return fired, [Change("firing", state.severity, not silenced)]


def _while_firing(
    state: State, reading: Reading, severity: str, spec: Spec, at: datetime, silenced: bool
) -> tuple[State, list[Change]]:
    if _recovered(reading, spec, severity):
        clear_since = state.clear_since or at
        if at - clear_since >= timedelta(minutes=spec.keep_firing_minutes):
            resolved = replace(
                state, status="resolved", since=at, clear_since=None, pending_since=None
            )
            return resolved, [Change("resolved", state.severity, state.announced)]
        return replace(state, clear_since=clear_since), []
    state = replace(state, clear_since=None)
    if severity == CRITICAL and state.severity == WARNING:
        escalated = replace(state, severity=CRITICAL)
        return _told(escalated, at, silenced, "escalated")
    if silenced:
        return state, []
    if not state.announced:
        return _told(state, at, silenced, "firing")
    last = state.last_notified_at
    if (
        last is not None
        and spec.repeat_minutes > 0
        and at - last >= timedelta(minutes=spec.repeat_minutes)
    ):
        return _told(state, at, silenced, "repeat")
    return state, []


def _told(state: State, at: datetime, silenced: bool, kind: str) -> tuple[State, list[Change]]:
    if silenced:
        return state, [Change(kind, state.severity, False)]
    told = replace(state, announced=True, last_notified_at=at)
    return told, [Change(kind, state.severity, True)]
