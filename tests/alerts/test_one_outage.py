"""One outage, one message: a rule's groups that fire (or resolve) in the same minute go to a
channel as one message naming them all, with the "N of M couriers" headline when most
couriers fail at once; `each` keeps one message per group. PagerDuty gets one incident per
rule, resolved with its last group. Labels name couriers; values read in the rule's unit."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from alerts.evaluator import evaluate_minute
from alerts.models import Channel, Notification, Transition
from alerts.outbox import deliver_due
from tests.alerts.conftest import make_rule
from tests.alerts.receivers import Receiver
from tests.alerts.traffic import calls, ingest

COURIERS = {cp_id: f"Courier {chr(64 + cp_id)}" for cp_id in range(1, 21)}  # A..T
FIRST = range(1, 15)  # 14 couriers fail from minute 10 to 19
LATER = range(15, 18)  # 3 more from minute 11 to 20


@pytest.fixture
def outage(db, base):
    """20 couriers, 10 calls a minute each for 30 minutes; 14 fail entirely from minute 10,
    3 more from minute 11, all recover 10 minutes later. A 5-minute error rate over 0.5
    needs 3 failing minutes: the 14 fire at minute 13, the 3 at 14; they resolve at 23 and
    24 (two failing minutes of five: 0.4)."""
    events = []
    for cp_id, name in COURIERS.items():
        start = 10 if cp_id in FIRST else 11 if cp_id in LATER else None
        if start is None:
            events += calls(start=base, minutes=30, per_minute=10, cp_id=cp_id, courier=name)
            continue
        for first, minutes, failing in (
            (0, start, 0),
            (start, 10, 10),
            (start + 10, 20 - start, 0),
        ):
            events += calls(
                start=base + timedelta(minutes=first),
                minutes=minutes,
                per_minute=10,
                failing=failing,
                cp_id=cp_id,
                courier=name,
            )  # fmt: skip
    ingest(events)


@pytest.fixture
def second_receiver():
    server = Receiver()
    yield server
    server.close()


def run(base, minutes) -> None:
    for m in minutes:
        evaluate_minute(base + timedelta(minutes=m))
        deliver_due()


def test_fourteen_couriers_failing_at_once_are_one_message_per_channel_with_the_headline(
    outage, base, webhook, receiver, second_receiver
):
    slack = Channel.objects.create(name="slack", kind="slack", config={"url": second_receiver.url})
    rule = make_rule(webhook, name="Couriers failing", threshold=0.5)
    rule.channels.add(slack)

    run(base, range(12, 14))

    [message] = [r.json() for r in receiver.received]
    assert message["status"] == "firing"
    assert sorted(a["group"]["cp_id"] for a in message["alerts"]) == list(FIRST)
    assert {a["group"]["courier"] for a in message["alerts"]} == {COURIERS[n] for n in FIRST}
    assert message["summary"].startswith(
        "14 of 20 couriers at once: this looks like Clickpost itself, not a courier"
    )
    assert message["dedup_key"] == f"cpm-rule-{rule.pk}"
    assert {a["value_text"] for a in message["alerts"]} == {"60.0 %"}  # 30 of 50 calls
    assert message["rule"] == {"id": rule.pk, "name": rule.name, "metric": "error_rate"}
    assert len({a["dedup_key"] for a in message["alerts"]}) == 14
    [chat] = [r.json() for r in second_receiver.received]
    assert chat["text"].startswith("[Firing] Couriers failing: Courier A, Courier B, Courier C")
    listed = next(
        b["text"]["text"] for b in chat["blocks"] if "•" in b.get("text", {}).get("text", "")
    )
    assert listed.count("•") == 14 and "Courier N: 60.0 % (critical)" in listed  # fmt: skip
    assert "cp_id" not in chat["text"]

    run(base, range(14, 25))

    statuses = [(r.json()["status"], len(r.json()["alerts"])) for r in receiver.received]
    assert statuses == [("firing", 14), ("firing", 3), ("resolved", 14), ("resolved", 3)]
    later = receiver.received[1].json()
    assert sorted(a["group"]["cp_id"] for a in later["alerts"]) == list(LATER)
    assert later["summary"].startswith("17 of 20 couriers at once")
    assert len(second_receiver.received) == 4
    told = Transition.objects.filter(notify=True)
    assert Counter(told.values_list("kind", flat=True)) == {"firing": 17, "resolved": 17}
    assert Notification.objects.count() == 8  # 4 minutes x 2 channels


def test_each_keeps_one_message_per_group_and_change(outage, base, webhook, receiver):
    make_rule(webhook, name="Couriers failing", threshold=0.5, notify="each")

    run(base, range(12, 25))

    bodies = [r.json() for r in receiver.received]
    assert len(bodies) == 17 * 2
    assert all("alerts" not in body for body in bodies)
    assert Counter(b["status"] for b in bodies) == {"firing": 17, "resolved": 17}
    firing = next(b for b in bodies if b["group"]["cp_id"] == 4)
    assert firing["group"] == {"cp_id": 4, "courier": "Courier D"}
    assert firing["value_text"] == "60.0 %" and firing["value"] == 0.6


def test_pagerduty_has_one_incident_per_rule_resolved_with_its_last_group(outage, base, receiver):
    pager = Channel.objects.create(
        name="pd", kind="pagerduty", config={"routing_key": "R0", "events_url": receiver.url}
    )
    rule = make_rule(pager, name="Couriers failing", threshold=0.5)

    run(base, range(12, 25))

    events = [r.json() for r in receiver.received]
    assert [e["event_action"] for e in events] == ["trigger", "trigger", "resolve"]
    assert {e["dedup_key"] for e in events} == {f"cpm-rule-{rule.pk}"}
    groups = events[0]["payload"]["custom_details"]["groups"]
    assert (
        len(groups) == 14
        and {"where": "Courier A", "value": "60.0 %"} | {"severity": "critical"} in groups
    )
    assert events[0]["payload"]["custom_details"]["headline"].startswith("14 of 20 couriers")
    # The resolve came when the last three resolved (minute 24), not with the first fourteen.
    resolved_at = Transition.objects.filter(kind="resolved").order_by("-at").first().at
    assert resolved_at == base + timedelta(minutes=24)


def test_a_chat_message_lists_twenty_groups_then_says_how_many_more(db):
    from alerts.channels import slack_payload, teams_payload
    from alerts.messages import Facts, alert_of, build_grouped_message

    rule = make_rule(name="Many")
    at = rule.created_at.replace(second=0, microsecond=0)
    alerts = [
        alert_of(
            rule,
            labels={"cp_id": n, "courier": f"C{n:02}"},
            kind="firing",
            at=at,
            value=0.5,
            severity="critical",
            summary="",
            started_at=at,
            facts=Facts(),
        )
        for n in range(1, 26)
    ]
    message = build_grouped_message(rule=rule, alerts=alerts, at=at)

    listed = next(b for b in slack_payload(message)["blocks"] if "…and" in str(b))
    assert listed["text"]["text"].count("•") == 20 and "…and 5 more" in listed["text"]["text"]
    card = teams_payload(message)["attachments"][0]["content"]["body"]
    assert any(block.get("text") == "…and 5 more" for block in card)
    assert len(message["body"]["alerts"]) == 25  # the webhook names every group


def test_webhook_signatures_hold_for_grouped_messages(outage, base, webhook, receiver):
    make_rule(webhook, name="Couriers failing", threshold=0.5)

    run(base, range(12, 14))

    verifier = Webhook(webhook.secret)
    assert [verifier.verify(r.body, r.headers)["status"] for r in receiver.received] == ["firing"]
