"""The alerts API: rules with 400s naming the field, secrets masked, the preview replays what
the evaluator does, a test send, silences, alerts now and the history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.evaluator import evaluate_minute
from alerts.leader import floor_minute
from alerts.models import Channel, Rule, Silence, Transition
from alerts.outbox import deliver_due
from tests.alerts.conftest import make_rule
from tests.alerts.traffic import calls, ingest
from tokens.auth import create_token

RULE = {
    "name": "Couriers failing",
    "metric": "error_rate",
    "group_by": "cp_id",
    "window_minutes": 5,
    "threshold": 0.2,
}


@pytest.fixture
def admin(db) -> APIClient:
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {create_token(name='on-call', scopes=['admin'])[1]}"
    )
    return client


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"metric": "latency_p99"}, "metric"),
        ({"metric": "latency", "threshold": 0}, "threshold"),
        ({"metric": "latency", "threshold": 2000, "percentile": 100}, "percentile"),
        ({"metric": "latency", "threshold": 2000, "percentile": 99.95}, "percentile"),
        ({"metric": "latency", "threshold": 2000, "min_errors": 3}, "min_errors"),
        ({"window_minutes": 4}, "window_minutes"),
        ({"window_minutes": 1441}, "window_minutes"),
        ({"group_by": "waybill"}, "group_by"),
        ({"threshold": "high"}, "threshold"),
        ({"threshold": 5}, "threshold"),  # an error rate is a fraction
        ({"warning": 0.3}, "warning"),  # above the critical line of an "above" rule
        ({"resolve_threshold": 0.25}, "resolve_threshold"),
        ({"direction": "sideways"}, "direction"),
        ({"category": ["nonsense"]}, "category"),
        ({"code": ["x"]}, "code"),
        ({"min_calls": -1}, "min_calls"),
        ({"tz": "Mars/Olympus"}, "tz"),
        ({"channels": [999]}, "channels"),
        ({"metric": "anomaly", "threshold": 2}, "threshold"),
        ({"name": ""}, "name"),
    ],
)
def test_a_bad_rule_field_is_a_400_naming_it_and_nothing_is_saved(admin, change, field):
    before = Rule.objects.count()  # the default rules

    response = admin.post("/api/v1/alerts/rules/", RULE | change, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()["detail"]
    assert response.json()["error"].startswith(field)
    assert Rule.objects.count() == before


def test_a_rule_is_created_read_patched_and_deleted(admin, read_client, webhook):
    created = admin.post("/api/v1/alerts/rules/", RULE | {"channels": [webhook.pk]}, format="json")
    assert created.status_code == 201, created.content
    rule_id = created.json()["id"]

    assert read_client.get(f"/api/v1/alerts/rules/{rule_id}/").json()["channels"] == [webhook.pk]
    assert read_client.post("/api/v1/alerts/rules/", RULE, format="json").status_code == 403
    patched = admin.patch(f"/api/v1/alerts/rules/{rule_id}/", {"warning": 0.1}, format="json")
    assert patched.status_code == 200 and patched.json()["warning"] == 0.1
    bad = admin.patch(f"/api/v1/alerts/rules/{rule_id}/", {"warning": 0.5}, format="json")
    assert bad.status_code == 400 and "warning" in bad.json()["detail"]
    assert admin.delete(f"/api/v1/alerts/rules/{rule_id}/").status_code == 204
    assert not Rule.objects.filter(pk=rule_id).exists()


def test_channel_secrets_are_never_echoed_back_in_full(admin, read_client):
    created = admin.post(
        "/api/v1/alerts/channels/",
        {
            "name": "slack-ops",
            "kind": "slack",
            "config": {"url": "https://hooks.example/T0/B0/xyzsecretpath"},
        },
        format="json",
    )
    hook = admin.post(
        "/api/v1/alerts/channels/",
        {"name": "hook", "kind": "webhook", "config": {"url": "http://127.0.0.1:9/h"}},
        format="json",
    )
    assert created.status_code == 201 and hook.status_code == 201
    secret = Channel.objects.get(name="hook").secret
    assert hook.json()["secret"] == secret  # shown once, to set up the receiver
    listed = read_client.get("/api/v1/alerts/channels/").content.decode()
    assert "xyzsecretpath" not in listed and secret not in listed


def test_a_channel_without_what_its_kind_needs_is_a_400(admin):
    response = admin.post(
        "/api/v1/alerts/channels/", {"name": "pd", "kind": "pagerduty", "config": {}}, format="json"
    )
    assert response.status_code == 400 and "routing_key" in response.json()["error"]


def test_silences_are_created_listed_and_deleted(admin, read_client):
    now = timezone.now()
    body = {
        "matchers": {"cp_id": 7},
        "start": now.isoformat(),
        "end": (now + timedelta(hours=1)).isoformat(),
    }
    created = admin.post("/api/v1/alerts/silences/", body, format="json")
    assert created.status_code == 201, created.content
    assert read_client.get("/api/v1/alerts/silences/").json()[0]["matchers"] == {"cp_id": 7}
    backwards = admin.post("/api/v1/alerts/silences/", body | {"end": body["start"]}, format="json")
    assert backwards.status_code == 400 and "end" in backwards.json()["detail"]
    unknown = admin.post("/api/v1/alerts/silences/", body | {"matchers": {"x": 1}}, format="json")
    assert unknown.status_code == 400 and "matchers" in unknown.json()["detail"]
    assert admin.delete(f"/api/v1/alerts/silences/{created.json()['id']}/").status_code == 204
    assert not Silence.objects.exists()


@pytest.fixture
def recent_incident(db):
    """Courier 7, 20 calls a minute over the last 40 minutes, 10 of them at 50 % errors."""
    base = floor_minute(timezone.now()) - timedelta(minutes=40)
    ingest(calls(start=base, minutes=10, per_minute=20, failing=1))
    ingest(calls(start=base + timedelta(minutes=10), minutes=10, per_minute=20, failing=10))
    ingest(calls(start=base + timedelta(minutes=20), minutes=19, per_minute=20))
    return base


def test_the_preview_answers_what_the_evaluator_does(admin, recent_incident, webhook):
    base = recent_incident
    make_rule(webhook)
    end = floor_minute(timezone.now())
    minute = base - timedelta(minutes=5)
    while minute <= end:
        evaluate_minute(minute)
        minute += timedelta(minutes=1)
    evaluated = [(t.kind, t.at) for t in Transition.objects.order_by("at")]

    preview = admin.post("/api/v1/alerts/rules/preview/", RULE | {"days": 1}, format="json")

    assert preview.status_code == 200, preview.content
    answer = preview.json()
    [firing] = answer["firings"]
    assert firing["group"] == {"cp_id": 7}
    replayed = [("firing", firing["fired_at"]), ("resolved", firing["resolved_at"])]
    assert [(k, at.isoformat().replace("+00:00", "Z")) for k, at in evaluated] == replayed
    assert not Rule.objects.filter(name=RULE["name"]).exists()  # the preview saved nothing


def test_the_preview_caps_days(admin):
    response = admin.post("/api/v1/alerts/rules/preview/", RULE | {"days": 365}, format="json")
    assert response.status_code == 400 and "days" in response.json()["detail"]


def test_a_test_send_reaches_the_rules_channels(admin, webhook, receiver):
    rule = make_rule(webhook)

    response = admin.post(f"/api/v1/alerts/rules/{rule.pk}/test/")

    assert response.status_code == 200, response.content
    assert response.json()["channels"] == [
        {"channel": webhook.name, "status": "sent", "last_error": ""}
    ]
    assert receiver.received[0].json()["rule"]["id"] == rule.pk


def test_alerts_now_and_the_history(read_client, recent_incident, webhook, receiver):
    base = recent_incident
    make_rule(webhook)
    for m in range(10, 16):
        evaluate_minute(base + timedelta(minutes=m))
    deliver_due()

    [alert] = read_client.get("/api/v1/alerts/").json()
    assert alert["status"] == "firing" and alert["labels"] == {"cp_id": 7, "courier": "Delhivery"}
    assert alert["threshold"] == 0.2 and alert["value"] > 0.2 and alert["since"]
    history = read_client.get("/api/v1/alerts/history/").json()
    assert [t["kind"] for t in history["results"]] == ["firing"]
    assert history["results"][0]["notifications"][0]["status"] == "sent"


def test_the_history_is_cursor_paginated_newest_first(read_client, webhook):
    rule = make_rule(webhook)
    now = timezone.now()
    Transition.objects.bulk_create(
        Transition(
            rule=rule, group_key="{}", kind="firing", at=now - timedelta(minutes=n), threshold=1
        )
        for n in range(120)
    )
    seen, url = [], "/api/v1/alerts/history/"
    while url:
        page = read_client.get(url).json()
        seen += [t["at"] for t in page["results"]]
        url = page["next"]
    assert len(seen) == 120 and seen == sorted(seen, reverse=True)


def test_the_alert_endpoints_are_in_the_openapi_schema(read_client):
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json")
    text = schema.content.decode()
    for path in ("/api/v1/alerts/", "/api/v1/alerts/rules/preview/", "/api/v1/alerts/history/"):
        assert path in text
