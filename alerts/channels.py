"""Channels: each kind is a small class with one `send(message, *, message_id)`.

A send raises `SendFailed` (with what to fix) when the receiver did not take the message; the
outbox records it and retries later. `message_id` is stable for one notification across
retries: the webhook's `webhook-id`, so a receiver can drop a repeat delivery.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from alerts.messages import message_text
from alerts.models import Channel

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"


class SendFailed(Exception):
    """The receiver did not take the message; the text says why (shown on the rule)."""


def post_json(url: str, payload: Any, *, headers: dict[str, str] | None = None) -> bytes:
    """POST JSON; the response body on 2xx, else SendFailed with the status and a snippet."""
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    request = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "clickpost-monitor"}
        | (headers or {}),
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.ALERTS_SEND_TIMEOUT_SECONDS) as r:
            return r.read()
    except urllib.error.HTTPError as error:
        snippet = error.read()[:200].decode(errors="replace")
        raise SendFailed(f"{url_host(url)} answered HTTP {error.code}: {snippet}") from None
    except (urllib.error.URLError, OSError, TimeoutError) as error:
        reason = getattr(error, "reason", error)
        raise SendFailed(f"could not reach {url_host(url)}: {reason}") from None


def url_host(url: str) -> str:
    """The scheme and host of a URL, for errors (a Slack or Teams URL path is a secret)."""
    parsed = urllib.parse.urlsplit(url)
    return f"{parsed.scheme}://{parsed.netloc}"


def sign(secret: str, *, message_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks: `v1,` + base64 HMAC-SHA256 of `id.timestamp.body`, the key being the
    base64 part of `whsec_...`."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


class Webhook:
    def __init__(self, channel: Channel):
        self.url = channel.config["url"]
        self.secret = channel.secret

    def send(self, message: dict[str, Any], *, message_id: str) -> None:
        body = json.dumps(message["body"]).encode()
        timestamp = int(time.time())
        post_json(
            self.url,
            body,
            headers={
                "webhook-id": message_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign(
                    self.secret, message_id=message_id, timestamp=timestamp, body=body
                ),
            },
        )


class Slack:
    """Incoming webhook: Block Kit `blocks` plus `text`, the fallback for notifications."""

    def __init__(self, channel: Channel):
        self.url = channel.config["url"]

    def send(self, message: dict[str, Any], *, message_id: str) -> None:
        post_json(self.url, slack_payload(message))


def slack_payload(message: dict[str, Any]) -> dict[str, Any]:
    body = message["body"]
    facts = f"*Where:* {message['where']}\n*How bad:* {message['how_bad']}"
    if message.get("since"):
        facts += f"\n*Since:* {message['since']}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": message["title"][:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": body["summary"] or "-"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": facts}},
    ]
    if message.get("action"):
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": message["action"]}]}
        )
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open the events"},
                    "url": body["url"],
                }
            ],
        }
    )
    return {"text": f"{message['title']}: {body['summary']}", "blocks": blocks}


class Teams:
    """Workflows webhook ("Post to a channel when a webhook request is received"): a message
    with one Adaptive Card attachment."""

    def __init__(self, channel: Channel):
        self.url = channel.config["url"]

    def send(self, message: dict[str, Any], *, message_id: str) -> None:
        post_json(self.url, teams_payload(message))


def teams_payload(message: dict[str, Any]) -> dict[str, Any]:
    body = message["body"]
    facts = [
        {"title": "Where", "value": message["where"]},
        {"title": "How bad", "value": message["how_bad"]},
    ]
    if message.get("since"):
        facts.append({"title": "Since", "value": message["since"]})
    if message.get("action"):
        facts.append({"title": "What to do", "value": message["action"]})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": message["title"], "weight": "Bolder", "wrap": True},
            {"type": "TextBlock", "text": body["summary"] or "-", "wrap": True},
            {"type": "FactSet", "facts": facts},
        ],
        "actions": [{"type": "Action.OpenUrl", "title": "Open the events", "url": body["url"]}],
    }
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


class Email:
    """Django's e-mail backend (SMTP from the EMAIL_* settings); config {"to": [addresses]}.

    `"backend": "file"` in the config writes the messages to .local/mail/ instead (the demo's
    channel: a notification on a laptop with no mail server, and no network).
    """

    def __init__(self, channel: Channel):
        self.to = list(channel.config.get("to", []))
        self.to_file = channel.config.get("backend") == "file"

    def _connection(self):
        if self.to_file:
            return get_connection(
                "django.core.mail.backends.filebased.EmailBackend",
                file_path=str(settings.LOCAL_DIR / "mail"),
            )
        return get_connection(fail_silently=False)

    def send(self, message: dict[str, Any], *, message_id: str) -> None:
        email = EmailMessage(
            subject=message["title"],
            body=message_text(message),
            to=self.to,
            headers={"X-Clickpost-Monitor-Id": message_id},
            connection=self._connection(),
        )
        try:
            email.send()
        except OSError as error:  # smtplib's errors are OSErrors
            raise SendFailed(f"SMTP {settings.EMAIL_HOST}:{settings.EMAIL_PORT}: {error}") from None


class PagerDuty:
    """Events API v2: `trigger` on firing (and repeats), `resolve` on resolved, one dedup_key per
    rule and group. config {"routing_key", "events_url" (default PagerDuty's)}."""

    def __init__(self, channel: Channel):
        self.routing_key = channel.config["routing_key"]
        self.url = channel.config.get("events_url") or PAGERDUTY_EVENTS_URL

    def send(self, message: dict[str, Any], *, message_id: str) -> None:
        post_json(self.url, pagerduty_payload(message, routing_key=self.routing_key))


def pagerduty_payload(message: dict[str, Any], *, routing_key: str) -> dict[str, Any]:
    body = message["body"]
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "resolve" if body["status"] == "resolved" else "trigger",
        "dedup_key": body["dedup_key"],
    }
    if event["event_action"] == "trigger":
        event["payload"] = {
            "summary": f"{message['title']}: {body['summary']}"[:1024],
            "source": message["where"],
            "severity": body["severity"],
            "timestamp": body["started_at"],
            "component": body["rule"]["metric"],
            "group": message["where"],
            "class": body["rule"]["name"],
            "custom_details": {
                "value": body["value"],
                "threshold": body["threshold"],
                "how_bad": message["how_bad"],
                "action": message.get("action", ""),
                "group": body["group"],
            },
        }
        event["links"] = [{"href": body["url"], "text": "Open the events"}]
    return event


KINDS: dict[str, type] = {
    "webhook": Webhook,
    "slack": Slack,
    "teams": Teams,
    "email": Email,
    "pagerduty": PagerDuty,
}


def channel_sender(channel: Channel) -> Any:
    """The sender for a channel; SendFailed when its config lacks what its kind needs."""
    try:
        return KINDS[channel.kind](channel)
    except KeyError as error:
        raise SendFailed(f"channel {channel.name!r} has no {error} in its config") from None
