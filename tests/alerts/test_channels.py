"""Each channel kind against a real receiver on loopback: e-mail through Django's SMTP backend
into aiosmtpd, Slack's incoming-webhook shape, a Teams Workflows Adaptive Card, PagerDuty
Events API v2 trigger and resolve with one dedup_key."""

from __future__ import annotations

import email
import socket
from datetime import timedelta
from email import policy

import pytest
from aiosmtpd.controller import Controller

from alerts.evaluator import evaluate_minute
from alerts.models import Channel
from alerts.outbox import deliver_due
from tests.alerts.conftest import make_rule

EVALUATED = range(10, 26)  # fires at minute 12, resolves at minute 23


def run_incident(base) -> None:
    for m in EVALUATED:
        evaluate_minute(base + timedelta(minutes=m))
        deliver_due()


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            (envelope.rcpt_tos, email.message_from_bytes(envelope.content, policy=policy.default))
        )
        return "250 OK"


@pytest.fixture
def smtp(settings):
    inbox = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    yield inbox
    controller.stop()


def test_email_goes_through_smtp_and_says_what_where_how_bad_and_what_to_do(
    incident,
    base,
    smtp,
):
    channel = Channel.objects.create(
        name="mail", kind="email", config={"to": ["oncall@example.com"]}
    )
    make_rule(channel, name="Courier errors")

    run_incident(base)

    assert [to for to, _ in smtp.messages] == [["oncall@example.com"]] * 2
    firing, resolved = (message for _, message in smtp.messages)
    assert firing["Subject"] == "[Firing] Courier errors: Delhivery"
    text = firing.get_body(("plain",)).get_content()
    assert "error rate 23.0 % vs threshold 20.0 % (critical)" in text
    assert "Where: Delhivery" in text
    assert "Since: " in text and "IST" in text
    assert "What to do: 503 " in text  # the catalog's hint for the top failing code
    assert "/events/?" in text and "cp_id=7" in text
    assert resolved["Subject"].startswith("[Resolved] Courier errors")


def test_slack_gets_blocks_and_a_fallback_text(incident, base, receiver):
    channel = Channel.objects.create(name="slack", kind="slack", config={"url": receiver.url})
    make_rule(channel)

    run_incident(base)

    firing = receiver.received[0].json()
    assert firing["text"].startswith("[Firing] ")
    assert [b["type"] for b in firing["blocks"]][:2] == ["header", "section"]
    assert firing["blocks"][0]["text"]["type"] == "plain_text"
    assert all(b["text"]["type"] == "mrkdwn" for b in firing["blocks"] if b["type"] == "section")
    button = firing["blocks"][-1]["elements"][0]
    assert button["type"] == "button" and "/events/?" in button["url"]


def test_teams_gets_an_adaptive_card_in_a_message_attachment(incident, base, receiver):
    channel = Channel.objects.create(name="teams", kind="teams", config={"url": receiver.url})
    make_rule(channel)

    run_incident(base)

    message = receiver.received[0].json()
    assert message["type"] == "message"
    [attachment] = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert {b["type"] for b in card["body"]} == {"TextBlock", "FactSet"}
    assert card["actions"][0]["type"] == "Action.OpenUrl"


def test_pagerduty_trigger_and_resolve_share_one_dedup_key(incident, base, receiver):
    channel = Channel.objects.create(
        name="pd",
        kind="pagerduty",
        config={"routing_key": "R0UT1NGKEY0000000000000000000000", "events_url": receiver.url},
    )
    make_rule(channel)

    run_incident(base)

    trigger, resolve = (r.json() for r in receiver.received)
    assert trigger["event_action"] == "trigger" and resolve["event_action"] == "resolve"
    assert trigger["dedup_key"] == resolve["dedup_key"]
    assert trigger["routing_key"] == "R0UT1NGKEY0000000000000000000000"
    payload = trigger["payload"]
    assert {"summary", "source", "severity"} <= set(payload)
    assert payload["severity"] in ("critical", "error", "warning", "info")
    assert len(payload["summary"]) <= 1024
    assert "payload" not in resolve  # a resolve needs only the key
    assert trigger["links"][0]["href"].startswith("http")
