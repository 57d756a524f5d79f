"""The real detector inside the real evaluator: eight ordinary weeks at one hour, then that
hour failing three times as often, through ingest, rollups, `stats.baselines`,
`alerts.anomaly`, the state machine and the outbox, to a signed webhook on loopback."""

from __future__ import annotations

from datetime import timedelta

from alerts.evaluator import evaluate_minute
from alerts.models import AlertState
from alerts.outbox import deliver_due
from tests.alerts.conftest import clear_events, make_rule
from tests.alerts.traffic import calls, ingest

PER_MINUTE = 2  # 120 calls an hour: a courier of modest volume
USUAL_FAILING_EVERY = 25  # 4 % of calls fail in an ordinary week


def ordinary_hour(start, *, failing_minutes: int) -> list[dict]:
    """An hour of calls in which the first `failing_minutes` minutes have one failure each."""
    return calls(start=start, minutes=failing_minutes, per_minute=PER_MINUTE, failing=1) + calls(
        start=start + timedelta(minutes=failing_minutes),
        minutes=60 - failing_minutes,
        per_minute=PER_MINUTE,
    )


def test_a_courier_failing_far_more_than_at_this_hour_in_past_weeks_pages(base, webhook, receiver):
    clear_events()
    at = base  # a quarter hour three hours ago; the window is the hour before it
    usual_failures = 60 * PER_MINUTE // USUAL_FAILING_EVERY  # 4 or 5 an hour
    for week in range(1, 9):
        ingest(ordinary_hour(at - timedelta(weeks=week, hours=1), failing_minutes=usual_failures))
    ingest(ordinary_hour(at - timedelta(hours=1), failing_minutes=30))  # 30 of 120 fail: 25 %
    make_rule(
        webhook,
        name="Courier error rate unusual",
        metric="anomaly",
        window_minutes=60,
        threshold=0.0001,
        min_calls=50,
        min_errors=5,
    )

    evaluate_minute(at)
    deliver_due()

    [state] = AlertState.objects.all()
    assert (state.labels, state.status, state.severity) == (
        {"cp_id": 7, "courier": "Delhivery"},
        "firing",
        "critical",
    )
    assert state.value < 0.0001
    assert state.summary.startswith("30 of 120 calls failed (25%) vs the usual ")
    assert "(8 weeks, 960 calls)" in state.summary
    [delivery] = receiver.received
    assert delivery.json()["status"] == "firing"
    assert delivery.json()["summary"] == state.summary
