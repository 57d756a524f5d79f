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
from django.core.mail import EmailMultiAlternatives, get_connection
from django.utils.html import escape

from alerts.messages import line_text, message_text, shown_lines
from alerts.models import Channel
from alerts.targets import refusal

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
SLACK_TEXT_LIMIT = 3000  # characters in one Block Kit section


class SendFailed(Exception):
    """The receiver did not take the message; the text says why (shown on the rule)."""


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is followed only to a target a channel could name itself (alerts.targets):
    a public receiver cannot bounce the request to 127.0.0.1 or the metadata service."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        why = refusal(newurl)
        if why:
            raise SendFailed(f"{url_host(req.full_url)} redirected to a target that {why}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_opener = urllib.request.build_opener(_CheckedRedirects)


def post_json(url: str, payload: Any, *, headers: dict[str, str] | None = None) -> bytes:
    """POST JSON; the response body on 2xx, else SendFailed with the status and a snippet.
    The target is checked again here (what a name resolves to may have changed)."""
    why = refusal(url)
    if why:
        raise SendFailed(f"refused to send to {url_host(url)}: the URL {why}")
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    request = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "clickpost-monitor"}
        | (headers or {}),
    )
    try:
        with _opener.open(request, timeout=settings.ALERTS_SEND_TIMEOUT_SECONDS) as r:
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
    ]
    if message.get("test"):
        blocks.append(_slack_text("*TEST*: a test notification; nothing is wrong."))
    if message.get("headline"):
        blocks.append(_slack_text(f"*{message['headline']}*"))
    blocks += [_slack_text(body["summary"] or "-"), _slack_text(facts)]
    if "alerts" in body:
        lines, more = shown_lines(message)
        tail = f"\n…and {more} more" if more else ""
        listed = "\n".join(f"• <{line['url']}|{line_text(line)}>" for line in lines)
        if len(listed + tail) > SLACK_TEXT_LIMIT:  # links are long: the names must all show
            listed = "\n".join(f"• {line_text(line)}" for line in lines)
        blocks.append(_slack_text(listed + tail))
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


def _slack_text(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SLACK_TEXT_LIMIT]}}


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
    blocks: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": message["title"], "weight": "Bolder", "wrap": True},
    ]
    if message.get("test"):
        blocks.append({"type": "TextBlock", "text": "TEST: nothing is wrong.", "wrap": True})
    if message.get("headline"):
        blocks.append(
            {"type": "TextBlock", "text": message["headline"], "weight": "Bolder", "wrap": True}
        )
    blocks += [
        {"type": "TextBlock", "text": body["summary"] or "-", "wrap": True},
        {"type": "FactSet", "facts": facts},
    ]
    if "alerts" in body:
        lines, more = shown_lines(message)
        listed = [{"title": line["where"], "value": line_text(line)} for line in lines]
        blocks.append({"type": "FactSet", "facts": listed})
        if more:
            blocks.append({"type": "TextBlock", "text": f"…and {more} more", "wrap": True})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": blocks,
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
        email = EmailMultiAlternatives(
            subject=message["title"],
            body=message_text(message),
            to=self.to,
            headers={"X-Clickpost-Monitor-Id": message_id},
            connection=self._connection(),
        )
        email.attach_alternative(email_html(message), "text/html")
        try:
            email.send()
        except OSError as error:  # smtplib's errors are OSErrors
            raise SendFailed(f"SMTP {settings.EMAIL_HOST}:{settings.EMAIL_PORT}: {error}") from None


def email_html(message: dict[str, Any]) -> str:
    """The e-mail's HTML part: the message's lines and every group as a table row."""
    body = message["body"]
    head = [f"<h2>{escape(message['title'])}</h2>"]
    if message.get("test"):
        head.append("<p><strong>TEST</strong>: a test notification; nothing is wrong.</p>")
    if message.get("headline"):
        head.append(f"<p><strong>{escape(message['headline'])}</strong></p>")
    head.append(f"<p>{escape(body['summary'])}</p>")
    if message.get("action"):
        head.append(f"<p>What to do: {escape(message['action'])}</p>")
    cells = ("where", "value", "severity", "status", "since", "summary")
    rows = "".join(
        "<tr>"
        + "".join(f"<td>{escape(str(line[cell]))}</td>" for cell in cells)
        + f'<td><a href="{escape(line["url"])}">events</a></td></tr>'
        for line in message.get("lines") or []
    )
    header = "".join(f"<th>{cell}</th>" for cell in (*cells, "link"))
    table = f'<table border="1" cellpadding="4"><tr>{header}</tr>{rows}</table>'
    return "".join(head) + table + f'<p><a href="{escape(body["url"])}">Open the events</a></p>'


class PagerDuty:
    """Events API v2: `trigger` on firing (and repeats), `resolve` on resolved. The dedup_key
    is the message's: per rule and group (`each`), or per rule (`together`: one incident for
    the rule, resolved with its last group). A test triggers `info` on a key of its own and
    resolves it at once. config {"routing_key", "events_url" (default PagerDuty's)}."""

    def __init__(self, channel: Channel):
        self.routing_key = channel.config["routing_key"]
        self.url = channel.config.get("events_url") or PAGERDUTY_EVENTS_URL

    def send(self, message: dict[str, Any], *, message_id: str) -> None:
        for event in pagerduty_events(message, routing_key=self.routing_key):
            post_json(self.url, event)


def pagerduty_events(message: dict[str, Any], *, routing_key: str) -> list[dict[str, Any]]:
    """The events one message makes: none for a grouped resolve while other groups of the rule
    still fire (the incident stays open), trigger then resolve for a test."""
    body = message["body"]
    key = message.get("pagerduty_key") or body["dedup_key"]
    resolve = {"routing_key": routing_key, "event_action": "resolve", "dedup_key": key}
    if body["status"] == "resolved":
        return [] if message.get("remaining") else [resolve]
    trigger = pagerduty_payload(message, routing_key=routing_key)
    return [trigger, resolve] if message.get("test") else [trigger]


def pagerduty_payload(message: dict[str, Any], *, routing_key: str) -> dict[str, Any]:
    body = message["body"]
    details: dict[str, Any] = {
        "value": body["value"],
        "threshold": body["threshold"],
        "how_bad": message["how_bad"],
        "action": message.get("action", ""),
        "group": body["group"],
    }
    if message.get("headline"):
        details["headline"] = message["headline"]
    if "alerts" in body:
        details["groups"] = [
            {"where": line["where"], "value": line["value"], "severity": line["severity"]}
            for line in message["lines"]
        ]
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": message.get("pagerduty_key") or body["dedup_key"],
        "payload": {
            "summary": f"{message['title']}: {body['summary']}"[:1024],
            "source": message["where"][:255] or "clickpost-monitor",
            "severity": "info" if message.get("test") else body["severity"],
            "timestamp": body["started_at"],
            "component": body["rule"]["metric"],
            "group": message["where"][:255],
            "class": body["rule"]["name"],
            "custom_details": details,
        },
        "links": [{"href": body["url"], "text": "Open the events"}],
    }


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
