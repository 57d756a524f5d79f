"""The evaluator on a real database: an incident fires once and resolves once, the webhook is
signed (verified by the Standard Webhooks library), a minute is evaluated once, the outbox
retries a receiver that is down, silences and mute windows (IST) keep it quiet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from alerts.evaluator import evaluate_minute
from alerts.leader import due_minutes
from alerts.models import AlertState, MuteWindow, Notification, Rule, Silence, Tick, Transition
from alerts.outbox import deliver_due
from alerts.values import Reader, question_of
from tests.alerts.conftest import make_rule
from tests.alerts.traffic import calls, ingest

SPEC_BODY_KEYS = {
    "status", "rule", "group", "value", "threshold", "severity", "summary",
    "started_at", "resolved_at", "dedup_key", "url",
    # beside SPEC's: the values in the rule's unit, why a resolve happened, a test's mark
    "value_text", "threshold_text", "reason", "test",
}  # fmt: skip


def evaluate(base: datetime, minutes: range) -> None:
    for m in minutes:
        evaluate_minute(base + timedelta(minutes=m))
        deliver_due()


def test_an_incident_fires_once_and_resolves_once_with_a_signed_webhook(
    incident, base, webhook, receiver
):
    rule = make_rule(webhook, notify="each")  # one message per group and change, as before

    evaluate(base, range(1, 41))

    kinds = list(Transition.objects.order_by("at").values_list("kind", "at"))
    assert kinds == [
        ("firing", base + timedelta(minutes=12)),
        ("resolved", base + timedelta(minutes=23)),
    ]
    assert len(receiver.received) == 2
    verifier = Webhook(webhook.secret)
    bodies = [verifier.verify(r.body, r.headers) for r in receiver.received]
    assert [b["status"] for b in bodies] == ["firing", "resolved"]
    firing = bodies[0]
    assert set(firing) == SPEC_BODY_KEYS
    assert firing["group"] == {"cp_id": 7, "courier": "Delhivery"}
    assert (firing["value_text"], firing["threshold_text"]) == ("23.0 %", "20.0 %")
    assert firing["test"] is False
    assert firing["rule"] == {"id": rule.pk, "name": rule.name, "metric": "error_rate"}
    assert firing["value"] == 0.23  # (3 x 1 + 2 x 10) / 100
    assert firing["severity"] == "critical"
    assert firing["dedup_key"] == bodies[1]["dedup_key"]
    assert "/events/?" in firing["url"] and "cp_id=7" in firing["url"]
    assert bodies[1]["resolved_at"] is not None
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 2


def test_a_minute_is_evaluated_once(incident, base, webhook, receiver):
    make_rule(webhook)
    at = base + timedelta(minutes=12)

    first, again = evaluate_minute(at), evaluate_minute(at)

    assert (first.evaluated, again.evaluated) == (True, False)
    assert Transition.objects.count() == 1
    assert Notification.objects.count() == 1


def test_the_outbox_retries_a_receiver_that_is_down_until_it_is_up(
    incident, base, webhook, receiver
):
    rule = make_rule(webhook)
    receiver.status = 503
    evaluate_minute(base + timedelta(minutes=12))
    now = timezone.now()

    assert deliver_due(now=now) == 0
    note = Notification.objects.get()
    assert (note.status, note.attempts) == ("pending", 1)
    assert "HTTP 503" in Rule.objects.get(pk=rule.pk).last_error
    assert deliver_due(now=now + timedelta(seconds=10)) == 0  # backing off: not yet retried
    assert receiver.refused == 1

    receiver.status = 200
    assert deliver_due(now=now + timedelta(seconds=31)) == 1
    assert deliver_due(now=now + timedelta(hours=2)) == 0  # never twice
    assert len(receiver.received) == 1
    assert Notification.objects.get().status == "sent"


def test_a_silenced_alert_is_shown_marked_and_not_sent(incident, base, webhook, receiver):
    rule = make_rule(webhook)
    Silence.objects.create(
        rule=rule, matchers={"cp_id": 7}, start=base, end=base + timedelta(hours=2)
    )

    evaluate(base, range(10, 16))

    state = AlertState.objects.get(rule=rule)
    assert (state.status, state.silenced) == ("firing", True)
    assert receiver.received == []
    assert Transition.objects.get(kind="firing").silenced


def test_a_silence_for_another_group_does_not_silence(incident, base, webhook, receiver):
    make_rule(webhook)
    Silence.objects.create(matchers={"cp_id": 9}, start=base, end=base + timedelta(hours=2))

    evaluate(base, range(10, 16))

    assert len(receiver.received) == 1


def test_a_mute_window_in_india_time_keeps_it_quiet(incident, base, webhook, receiver):
    make_rule(webhook)
    ist = base.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Kolkata"))
    # A window of local IST clock hours around the incident, on that IST weekday.
    MuteWindow.objects.create(
        name="night",
        days=[ist.weekday()],
        start_time=ist.time().replace(second=0, microsecond=0),
        end_time=(ist + timedelta(minutes=30)).time().replace(second=0, microsecond=0),
        tz="Asia/Kolkata",
    )
    evaluate(base, range(10, 16))
    assert receiver.received == []
    assert AlertState.objects.get().silenced


def test_a_mute_window_in_utc_hours_does_not_apply_to_the_same_ist_hours(
    incident, base, webhook, receiver
):
    make_rule(webhook)
    ist = base.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Kolkata"))
    MuteWindow.objects.create(
        name="night, but in UTC",
        days=list(range(7)),
        start_time=ist.time().replace(second=0, microsecond=0),
        end_time=(ist + timedelta(minutes=30)).time().replace(second=0, microsecond=0),
        tz="UTC",
    )
    evaluate(base, range(10, 16))
    assert len(receiver.received) == 1


def test_min_calls_keeps_a_low_volume_group_quiet(db, base, webhook, receiver):
    ingest(calls(start=base, minutes=10, per_minute=1, failing=1, cp_id=3))  # 5 calls, 5 failed
    make_rule(webhook, min_calls=20)

    evaluate(base, range(5, 11))

    assert Transition.objects.count() == 0
    assert receiver.received == []


def test_for_minutes_and_repeat(incident, base, webhook, receiver):
    make_rule(webhook, for_minutes=3, repeat_minutes=4, window_minutes=5)

    evaluate(base, range(11, 22))

    assert list(Transition.objects.order_by("at").values_list("kind", "at")) == [
        ("pending", base + timedelta(minutes=12)),
        ("firing", base + timedelta(minutes=15)),
        ("repeat", base + timedelta(minutes=19)),
    ]
    assert [r.json()["status"] for r in receiver.received] == ["firing", "firing"]


def test_a_shipper_gone_silent_fires_on_calls_below_a_floor(db, base, webhook, receiver):
    ingest(calls(start=base, minutes=10, per_minute=10, cp_id=4))
    make_rule(webhook, metric="calls", direction="below", threshold=5, min_calls=0)

    evaluate(base, range(5, 17))

    firing = Transition.objects.get(kind="firing")
    assert firing.labels == {"cp_id": 4, "courier": "Delhivery"}
    # Calls at minutes 0-9, 10 a minute: [9, 14) still has 10, [10, 15) has none.
    assert firing.at == base + timedelta(minutes=15)


def test_due_minutes_catch_up_from_the_last_claimed_minute(db, settings):
    settings.ALERTS_MAX_CATCHUP_MINUTES = 10
    now = datetime(2026, 11, 30, 12, 0, 30, tzinfo=UTC)
    assert due_minutes(now=now) == [datetime(2026, 11, 30, 12, 0, tzinfo=UTC)]
    Tick.objects.create(minute=datetime(2026, 11, 30, 11, 57, tzinfo=UTC))
    Tick.objects.create(minute=datetime(2026, 11, 30, 11, 59, tzinfo=UTC))
    assert due_minutes(now=now) == [datetime(2026, 11, 30, 12, 0, tzinfo=UTC)]
    Tick.objects.all().delete()
    Tick.objects.create(minute=datetime(2026, 11, 30, 10, 0, tzinfo=UTC))
    assert len(due_minutes(now=now)) == 10  # bounded


def test_rules_sharing_a_question_share_one_count(
    incident, base, webhook, django_assert_max_num_queries
):
    for n in range(5):
        make_rule(webhook, name=f"rule {n}", threshold=0.2 + n / 100)
    # Five rules, one question: the raw edges and the rollup middle are read once, not five
    # times (plus the rules' states, read by the evaluator, not here).
    reader = Reader(at=base + timedelta(minutes=20))
    with django_assert_max_num_queries(3):
        for rule in Rule.objects.filter(name__startswith="rule "):
            reader.readings(question_of(rule))


def test_a_failing_channel_is_tried_once_a_round_and_does_not_hold_up_the_others(
    incident, base, webhook, receiver
):
    from alerts.models import Channel
    from tests.alerts.receivers import Receiver

    down = Receiver(status=503)
    try:
        broken = Channel.objects.create(name="down", kind="slack", config={"url": down.url})
        make_rule(webhook, name="a")
        make_rule(broken, name="b")
        make_rule(broken, name="c")
        evaluate_minute(base + timedelta(minutes=12))

        assert deliver_due() == 1
        assert down.refused == 1  # the second message to the same channel waits its retry
        assert len(receiver.received) == 1
    finally:
        down.close()
