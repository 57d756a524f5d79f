"""The anomaly test, simulated (issue 11): quiet on ordinary traffic, quick on a real incident.

Thirty couriers, from 20 to 2,000 calls an hour on average, with the demo's diurnal curve
(busy in Indian business hours, quiet at night), quieter weekends and day-to-day volume
swings of about 15%, each courier failing at its own rate (2% to 12%); ten weeks of per-minute
traffic, seeded. The default anomaly rule's semantics are applied to the last week on the pure
core (`alerts.anomaly.assess`), evaluated every minute as the evaluator does:

- the window is stats.baselines': the quarter hours (the rollups' grain) beginning inside the
  last 60 minutes, through the one holding "now" (data after now does not exist yet); the
  history the same quarter hours in each of the 8 weeks before;
- a group below MIN_CALLS calls in the window is never breaching (the rule's volume floor);
- breaching = probability < THRESHOLD and above_usual; firing = breaching for FOR_MINUTES
  (pending before that); resolved after KEEP_FIRING minutes without a breach.

The traffic is generated with numpy (vectorised, about a second); the evaluation is the pure
core itself, once per courier per minute.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from alerts.anomaly import judge, usual_from
from demo.traffic import diurnal_weight

WEEK = 7 * 24 * 60  # minutes
WEEKS_OF_TRAFFIC = 10  # 8 of history + the evaluated one + padding for the first windows
HISTORY_WEEKS = 8
WINDOW, GRAIN = 60, 15
THRESHOLD, MIN_CALLS, FOR_MINUTES, KEEP_FIRING = 1e-4, 50, 3, 10
COURIERS = 30
START = datetime(2026, 9, 7, tzinfo=UTC)  # a Monday 00:00 UTC
EVALUATED = (WEEKS_OF_TRAFFIC - 1) * WEEK  # first minute of the evaluated week


@dataclass
class Traffic:
    """Per-minute calls and errors of every courier: arrays [courier, minute]."""

    per_hour: np.ndarray
    base_rate: np.ndarray
    calls: np.ndarray
    errors: np.ndarray
    probability: np.ndarray = field(repr=False)

    def prefix(self) -> tuple[list[list[int]], list[list[int]]]:
        """Cumulative calls and errors (index m = sum of minutes before m), as Python lists."""
        zeros = np.zeros((COURIERS, 1), dtype=np.int64)
        calls = np.concatenate([zeros, np.cumsum(self.calls, axis=1)], axis=1)
        errors = np.concatenate([zeros, np.cumsum(self.errors, axis=1)], axis=1)
        return calls.tolist(), errors.tolist()


def generate(seed: int = 11) -> Traffic:
    rng = np.random.default_rng(seed)
    minutes = WEEKS_OF_TRAFFIC * WEEK
    per_hour = np.geomspace(20, 2000, COURIERS)
    base_rate = rng.uniform(0.02, 0.12, COURIERS)
    day_curve = np.array(
        [diurnal_weight(START + timedelta(minutes=m)) for m in range(24 * 60)], dtype=float
    )
    day_curve /= day_curve.mean()
    weekday = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.7, 0.5])  # Monday..Sunday
    minute = np.arange(minutes)
    shape = day_curve[minute % (24 * 60)] * weekday[(minute // (24 * 60)) % 7]
    days = minutes // (24 * 60)
    day_swing = rng.lognormal(0.0, 0.15, (COURIERS, days)).repeat(24 * 60, axis=1)
    expected = per_hour[:, None] / 60 * shape[None, :] * day_swing
    probability = np.broadcast_to(base_rate[:, None], (COURIERS, minutes))
    calls = rng.poisson(expected)
    errors = rng.binomial(calls, probability)
    return Traffic(per_hour, base_rate, calls, errors, probability)


def with_incident(traffic: Traffic, *, courier: int, start: int, seed: int = 5) -> Traffic:
    """The same traffic with one courier's error rate doubled for an hour, volume unchanged."""
    rng = np.random.default_rng(seed)
    errors = traffic.errors.copy()
    hour = slice(start, start + 60)
    doubled = np.clip(traffic.probability[courier, hour] * 2, 0, 1)
    errors[courier, hour] = rng.binomial(traffic.calls[courier, hour], doubled)
    return Traffic(traffic.per_hour, traffic.base_rate, traffic.calls, errors, traffic.probability)


class Rule:
    """One group's state under the rule: ok -> pending -> firing -> (resolved) ok."""

    def __init__(self) -> None:
        self.pending_since: int | None = None
        self.firing = False
        self.quiet_since: int | None = None
        self.fired_at: list[int] = []

    def step(self, minute: int, breaching: bool) -> None:
        if breaching:
            self.quiet_since = None
            if self.pending_since is None:
                self.pending_since = minute
            if not self.firing and minute - self.pending_since >= FOR_MINUTES:
                self.firing = True
                self.fired_at.append(minute)
            return
        self.pending_since = None
        if self.firing:
            self.quiet_since = minute if self.quiet_since is None else self.quiet_since
            if minute - self.quiet_since >= KEEP_FIRING:
                self.firing, self.quiet_since = False, None


def quarter_hours(end: int) -> tuple[int, int]:
    """stats.baselines' window ending at minute `end`: the quarter hours beginning inside the
    last WINDOW minutes, through the one holding `end`."""
    return -(-(end - WINDOW) // GRAIN) * GRAIN, -(-end // GRAIN) * GRAIN


def window_counts(calls: list[int], errors: list[int], minute: int) -> tuple[int, int]:
    """The current window: live, so nothing after `minute` has arrived yet."""
    lo, _ = quarter_hours(minute)
    return calls[minute] - calls[lo], errors[minute] - errors[lo]


def history_counts(calls: list[int], errors: list[int], minute: int) -> list[tuple[int, int]]:
    weeks = []
    for k in range(1, HISTORY_WEEKS + 1):
        lo, hi = quarter_hours(minute - k * WEEK)
        weeks.append((calls[hi] - calls[lo], errors[hi] - errors[lo]))
    return weeks


def evaluate(traffic: Traffic, *, couriers: range, minutes: range) -> list[Rule]:
    """The rule evaluated every minute for each courier; each courier's Rule (its firings)."""
    all_calls, all_errors = traffic.prefix()
    rules = []
    for courier in couriers:
        calls, errors, rule = all_calls[courier], all_errors[courier], Rule()
        usual, usual_for = None, None
        for minute in minutes:
            now_calls, now_errors = window_counts(calls, errors, minute)
            breaching = False
            if now_calls >= MIN_CALLS:
                # assess() is judge(usual_from(history)); the history windows are whole quarter
                # hours, so the usual rate changes only when their edges move.
                edges = quarter_hours(minute)
                if usual_for != edges:
                    usual_for, usual = edges, usual_from(history_counts(calls, errors, minute))
                result = judge(now_calls, now_errors, usual)
                breaching = result.probability < THRESHOLD and result.above_usual
            rule.step(minute, breaching)
        rules.append(rule)
    return rules


@pytest.fixture(scope="module")
def traffic() -> Traffic:
    return generate()


def test_ordinary_traffic_fires_at_most_once_a_week_across_thirty_couriers(traffic, capsys):
    rules = evaluate(traffic, couriers=range(COURIERS), minutes=range(EVALUATED, EVALUATED + WEEK))
    firings = [
        (courier, minute - EVALUATED)
        for courier, rule in enumerate(rules)
        for minute in rule.fired_at
    ]
    with capsys.disabled():
        print(
            f"\nanomaly simulation, no incident: {len(firings)} firing(s) in one week over "
            f"{COURIERS} couriers x {WEEK:,} evaluations (courier, minute of week): {firings}"
        )
    assert len(firings) <= 1


def _busiest_peak_hour(traffic: Traffic) -> tuple[int, int]:
    """The busiest courier and the start of Tuesday 05:30 UTC (11:00 IST, the daily peak)."""
    return int(np.argmax(traffic.per_hour)), EVALUATED + 24 * 60 + 5 * 60 + 30


def test_a_doubled_error_rate_for_an_hour_fires_within_twenty_minutes(traffic, capsys):
    courier, start = _busiest_peak_hour(traffic)
    incident = with_incident(traffic, courier=courier, start=start)
    [rule] = evaluate(
        incident, couriers=range(courier, courier + 1), minutes=range(start - 120, start + 120)
    )
    assert rule.fired_at, "the doubled hour never fired"
    delay = rule.fired_at[0] - start
    with capsys.disabled():
        print(
            f"\nanomaly simulation, error rate doubled for an hour: courier at "
            f"{traffic.per_hour[courier]:.0f} calls/h, usual {traffic.base_rate[courier]:.1%}, "
            f"fired {delay} minutes after the incident began"
        )
    assert 0 <= delay <= 20
