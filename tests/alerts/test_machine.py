"""The alert state machine, pure: volume floor, for_minutes, hysteresis, repeat, silences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.machine import Reading, Spec, State, step

T0 = datetime(2026, 11, 30, 20, 30, tzinfo=UTC)


def run(spec: Spec, values: list[float | None], *, calls: int = 100, silenced=()):
    """Feed one reading a minute; returns (final state, [(minute index, change kind, notify)])."""
    state, seen = State(), []
    for i, value in enumerate(values):
        reading = Reading(calls=calls, errors=int((value or 0) * calls), value=value)
        state, changes = step(
            state, reading=reading, spec=spec, at=T0 + timedelta(minutes=i), silenced=i in silenced
        )
        seen += [(i, c.kind, c.notify) for c in changes]
    return state, seen


def test_fires_at_once_without_for_minutes_and_resolves_when_back():
    state, seen = run(Spec(threshold=0.2), [0.1, 0.5, 0.5, 0.1])
    assert seen == [(1, "firing", True), (3, "resolved", True)]
    assert state.status == "resolved"


def test_for_minutes_waits_in_pending_before_firing():
    _, seen = run(Spec(threshold=0.2, for_minutes=3), [0.5, 0.5, 0.5, 0.5, 0.5])
    assert seen == [(0, "pending", False), (3, "firing", True)]


def test_a_breach_shorter_than_for_minutes_goes_back_to_ok_untold():
    _, seen = run(Spec(threshold=0.2, for_minutes=3), [0.5, 0.5, 0.1, 0.1])
    assert seen == [(0, "pending", False), (2, "ok", False)]


def test_below_the_volume_floor_a_group_never_alerts():
    spec = Spec(threshold=0.2, min_calls=20, min_errors=5)
    _, few_calls = run(spec, [0.75] * 5, calls=4)  # 4 calls, 3 failures: no incident
    _, enough = run(spec, [0.75] * 5, calls=40)
    assert few_calls == []
    assert enough == [(0, "firing", True)]


def test_hysteresis_keeps_a_noisy_line_from_flapping():
    noisy = [0.25, 0.19, 0.21, 0.18, 0.22, 0.19, 0.21, 0.05, 0.05, 0.05, 0.05]
    flapping = run(Spec(threshold=0.2), noisy)[1]
    steady = run(Spec(threshold=0.2, resolve_threshold=0.1, keep_firing_minutes=2), noisy)[1]
    assert len([s for s in flapping if s[1] == "firing"]) == 4  # what hysteresis prevents
    assert steady == [(0, "firing", True), (9, "resolved", True)]


def test_keep_firing_restarts_when_the_value_breaches_again():
    spec = Spec(threshold=0.2, keep_firing_minutes=2)
    _, seen = run(spec, [0.5, 0.1, 0.1, 0.5, 0.1, 0.1, 0.1])
    assert seen == [(0, "firing", True), (6, "resolved", True)]


def test_repeat_re_notifies_while_firing():
    _, seen = run(Spec(threshold=0.2, repeat_minutes=3), [0.5] * 8)
    assert seen == [(0, "firing", True), (3, "repeat", True), (6, "repeat", True)]


def test_warning_then_critical_escalates():
    _, seen = run(Spec(threshold=0.5, warning=0.2), [0.3, 0.3, 0.6, 0.6, 0.1])
    assert seen == [(0, "firing", True), (2, "escalated", True), (4, "resolved", True)]


def test_a_silenced_firing_is_recorded_untold_and_told_when_the_silence_ends():
    _, seen = run(Spec(threshold=0.2), [0.5, 0.5, 0.5, 0.1], silenced={0, 1})
    assert seen == [(0, "firing", False), (2, "firing", True), (3, "resolved", True)]


def test_an_alert_silenced_throughout_is_never_told_even_its_resolve():
    _, seen = run(Spec(threshold=0.2), [0.5, 0.5, 0.1], silenced={0, 1, 2})
    assert seen == [(0, "firing", False), (2, "resolved", False)]


def test_direction_below_fires_when_calls_drop_under_the_floor():
    spec = Spec(threshold=10, direction="below")
    state, changes = step(State(), reading=Reading(calls=3, errors=0, value=3.0), spec=spec, at=T0)
    assert (state.status, [c.kind for c in changes]) == ("firing", ["firing"])


def test_anomaly_readings_breach_only_when_above_usual_and_improbable():
    spec = Spec(threshold=0.001, warning=0.01)
    improbable = Reading(calls=100, errors=30, value=0.0001, breach=True)
    below_usual = Reading(calls=100, errors=30, value=0.0001, breach=False)
    likely = Reading(calls=100, errors=30, value=0.2, breach=True)
    assert step(State(), reading=improbable, spec=spec, at=T0)[0].severity == "critical"
    assert step(State(), reading=below_usual, spec=spec, at=T0)[0].status == "ok"
    assert step(State(), reading=likely, spec=spec, at=T0)[0].status == "ok"
