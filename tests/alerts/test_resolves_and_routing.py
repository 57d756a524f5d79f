"""A resolve is never lost (disable, delete, edit: each once, also across evaluator restarts;
a group whose calls stop resolves as "no calls"), inhibition mutes a rule while another fires,
and a channel's matchers route alerts to it from any rule, never twice."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from alerts.evaluator import evaluate_minute
from alerts.models import AlertState, Channel, Rule, Transition, new_webhook_secret
from alerts.outbox import deliver_due
from tests.alerts.conftest import make_rule
from tests.alerts.receivers import Receiver
from tests.alerts.traffic import calls, ingest
from tokens.auth import create_token


@pytest.fixture
def admin(db) -> APIClient:
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {create_token(name='on-call', scopes=['admin'])[1]}"
    )
    return client


@pytest.fixture
def receivers():
    servers = [Receiver() for _ in range(3)]
    yield servers
    for server in servers:
        server.close()


def run(base, minutes) -> None:
    for m in minutes:
        evaluate_minute(base + timedelta(minutes=m))
        deliver_due()


def evaluator_once(at) -> None:
    """A fresh `run_alerts --once`: nothing carried over in memory from a previous one."""
    call_command("run_alerts", "--once", "--at", at.isoformat(), stdout=StringIO())


def statuses(receiver) -> list[tuple[str, str | None]]:
    out = []
    for got in receiver.received:
        body = got.json()
        for alert in body.get("alerts", [body]):
            out.append((alert["status"], alert.get("reason")))
    return out


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"enabled": False}, "rule disabled"),
        ({"cp_id": [9]}, "rule edited"),  # courier 7 is no longer in the rule
        ({"group_by": "account_code"}, "rule edited"),  # no courier groups any more
    ],
)
def test_disabling_or_editing_a_firing_rule_resolves_it_once_across_restarts(
    incident, base, webhook, receiver, admin, change, reason
):
    rule = make_rule(webhook)
    run(base, range(10, 14))
    assert statuses(receiver) == [("firing", None)]

    assert admin.patch(f"/api/v1/alerts/rules/{rule.pk}/", change, format="json").status_code == 200
    evaluator_once(base + timedelta(minutes=14))  # a new evaluator sends what the edit queued
    evaluator_once(base + timedelta(minutes=15))  # and another finds nothing more to tell
    evaluator_once(base + timedelta(minutes=15))

    told = statuses(receiver)
    assert told[:2] == [("firing", None), ("resolved", reason)]
    assert told[2:] in ([], [("firing", None)])  # regrouped by account: acme fires anew
    resolve = receiver.received[1].json()
    assert resolve["alerts"][0]["summary"].startswith(reason)
    assert not AlertState.objects.filter(labels__cp_id=7, status="firing").exists()


def test_a_rule_disabled_in_bulk_is_resolved_by_the_next_evaluation(
    incident, base, webhook, receiver
):
    rule = make_rule(webhook)
    run(base, range(10, 14))

    Rule.objects.filter(pk=rule.pk).update(enabled=False)  # no service was told
    evaluator_once(base + timedelta(minutes=14))
    evaluator_once(base + timedelta(minutes=15))

    assert statuses(receiver) == [("firing", None), ("resolved", "rule disabled")]


def test_deleting_a_firing_rule_resolves_it_once_and_keeps_its_history(
    incident, base, webhook, receiver, admin, read_client
):
    rule = make_rule(webhook, name="Couriers failing")
    run(base, range(10, 14))

    assert admin.delete(f"/api/v1/alerts/rules/{rule.pk}/").status_code == 204
    evaluator_once(base + timedelta(minutes=14))
    evaluator_once(base + timedelta(minutes=15))

    assert statuses(receiver) == [("firing", None), ("resolved", "rule deleted")]
    body = receiver.received[1].json()
    assert body["rule"]["name"] == "Couriers failing"
    history = read_client.get("/api/v1/alerts/history/").json()["results"]
    assert [(t["kind"], t["reason"]) for t in history] == [
        ("resolved", "rule deleted"),
        ("firing", ""),
    ]
    assert {t["rule"]["name"] for t in history} == {"Couriers failing"}
    assert all(t["rule"]["deleted"] and t["rule"]["id"] is None for t in history)
    assert history[0]["labels"] == {"cp_id": 7, "courier": "Delhivery"}
    assert history[0]["notifications"][0]["status"] == "sent"


def test_a_group_whose_calls_stop_resolves_as_no_calls_not_as_zero(db, base, webhook, receiver):
    ingest(calls(start=base, minutes=10, per_minute=10, failing=6, cp_id=5, courier="Ekart"))
    make_rule(webhook, threshold=0.5)

    run(base, range(3, 17))

    assert statuses(receiver) == [("firing", None), ("resolved", "no data")]
    [alert] = receiver.received[1].json()["alerts"]
    assert alert["value"] is None and alert["value_text"] == "—"
    assert alert["summary"] == "no calls: no calls in the last 5 minutes"
    resolved = Transition.objects.get(kind="resolved")
    assert (resolved.reason, resolved.value_text) == ("no data", "no calls")
    assert resolved.at == base + timedelta(minutes=15)  # [10, 15) has no calls


def test_an_ungrouped_rule_firing_inhibits_the_per_courier_rule(
    incident, base, webhook, receiver, read_client
):
    clickpost = make_rule(
        webhook, name="Clickpost 5xx", metric="errors", group_by="none", threshold=20
    )
    couriers = make_rule(webhook, name="Courier failing")
    couriers.inhibited_by.add(clickpost)

    run(base, range(10, 14))

    assert [r.json()["rule"]["name"] for r in receiver.received] == ["Clickpost 5xx"]
    [state] = AlertState.objects.filter(rule=couriers)
    assert state.status == "firing" and state.inhibited
    shown = {a["rule"]["name"]: a for a in read_client.get("/api/v1/alerts/").json()}
    assert shown["Courier failing"]["inhibited"] is True
    told = Transition.objects.get(rule=couriers, kind="firing")
    assert told.inhibited and not told.notify


def test_inhibition_holds_for_the_same_labels_only_when_both_rules_group_alike(
    incident, base, webhook, receiver
):
    ingest(calls(start=base, minutes=40, per_minute=20, failing=10, cp_id=9, courier="Ecom"))
    by_courier = make_rule(webhook, name="5xx per courier", metric="errors", threshold=20)
    by_courier.cp_id = [7]  # fires for courier 7 only
    by_courier.save()
    rates = make_rule(webhook, name="Courier failing")
    rates.inhibited_by.add(by_courier)

    run(base, range(10, 14))

    sent = [(r.json()["rule"]["name"], a["group"]["cp_id"]) for r in receiver.received
            for a in r.json()["alerts"]]  # fmt: skip
    assert sorted(sent) == [("5xx per courier", 7), ("Courier failing", 9)]


def test_a_matching_channel_gets_only_its_alerts_from_any_rule_and_never_twice(db, base, receivers):
    ingest(calls(start=base, minutes=20, per_minute=20, failing=10, cp_id=7))
    ingest(calls(start=base, minutes=20, per_minute=20, failing=10, cp_id=9, courier="Ecom"))
    own, team_7, team_9 = (
        Channel.objects.create(
            name=name, kind="webhook", config={"url": r.url}, secret=new_webhook_secret(),
            matchers=matchers,
        )
        for name, r, matchers in zip(
            ("own", "team-7", "team-9"),
            receivers,
            ({}, {"courier": ["Delhivery"], "severity": ["critical"]}, {"cp_id": [9]}),
            strict=True,
        )
    )  # fmt: skip
    make_rule(own, name="Couriers failing")
    make_rule(team_7, name="Delhivery failing", cp_id=[7])  # linked and matching: told once
    make_rule(name="Unlinked rule", threshold=0.3, cp_id=[9])  # no channel of its own

    run(base, range(4, 7))

    got = {
        channel.name: sorted(
            (body["rule"]["name"], alert["group"]["cp_id"])
            for r in receiver.received
            for body in [r.json()]
            for alert in body["alerts"]
        )
        for channel, receiver in zip((own, team_7, team_9), receivers, strict=True)
    }
    assert got == {
        "own": [("Couriers failing", 7), ("Couriers failing", 9)],
        "team-7": [("Couriers failing", 7), ("Delhivery failing", 7)],
        "team-9": [("Couriers failing", 9), ("Unlinked rule", 9)],
    }
    assert len(receivers[1].received) == 2  # one message per rule, not one per way there


@pytest.mark.parametrize(
    "matchers",
    [{"waybill": ["x"]}, {"cp_id": "7"}, {"cp_id": ["seven"]}, {"severity": ["loud"]}, []],
)
def test_bad_matchers_are_a_400_naming_the_field(admin, matchers):
    answer = admin.post(
        "/api/v1/alerts/channels/",
        {"name": "m", "kind": "slack", "config": {"url": "https://hooks.example/x"},
         "matchers": matchers},
        format="json",
    )  # fmt: skip
    assert answer.status_code == 400 and "matchers" in answer.json()["detail"]
    assert not Channel.objects.filter(name="m").exists()
