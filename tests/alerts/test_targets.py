"""Channel URLs reach public receivers only: loopback, private, link-local, IPv6 loopback and
ULA targets (in any spelling, or behind a name or a redirect) are refused in the API, the
admin and at send time, unless ALERTS_PRIVATE_TARGETS lists them; file:// never. A receiver's
error text is for staff, never for a `read` token. Test sends say they are tests."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from alerts.models import Channel, Notification, new_webhook_secret
from alerts.outbox import deliver_due
from alerts.targets import refusal
from tests.alerts.conftest import make_rule
from tests.alerts.receivers import Receiver
from tokens.auth import create_token

PRIVATE = [
    "http://127.0.0.1:8000/hook",
    "http://localhost/hook",  # a name that resolves to loopback
    "http://10.1.2.3/hook",
    "http://172.16.0.9/hook",
    "http://192.168.1.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/hook",
    "http://[fd00::1]/hook",
    "http://[fe80::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://2130706433/hook",  # 127.0.0.1 as one decimal number
    "http://0177.0.0.1/hook",  # octal
    "http://0x7f.1/hook",  # hex, short form
    "http://0/hook",
    "http://100.64.0.1/hook",  # carrier-grade NAT
]


@pytest.fixture
def no_private_targets(settings):
    settings.ALERTS_PRIVATE_TARGETS = []


@pytest.fixture
def admin(db) -> APIClient:
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {create_token(name='on-call', scopes=['admin'])[1]}"
    )
    return client


@pytest.mark.parametrize("url", PRIVATE)
def test_private_targets_are_refused_in_any_spelling(no_private_targets, url):
    assert "ALERTS_PRIVATE_TARGETS" in refusal(url)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://x/", "ftp://x/", "//x/", 7])
def test_only_http_and_https_urls(url):
    assert refusal(url) == "must be an http:// or https:// URL."


def test_listed_hosts_and_networks_are_allowed(settings):
    settings.ALERTS_PRIVATE_TARGETS = ["10.20.0.0/16", "hooks.internal", "127.0.0.1"]
    assert refusal("http://10.20.3.4/x") is None
    assert refusal("http://hooks.internal/x") is None
    assert refusal("http://127.0.0.1:9/x") is None
    assert refusal("http://10.21.0.1/x") is not None
    assert refusal("http://[::1]/x") is not None


def test_a_public_address_is_allowed(no_private_targets):
    assert refusal("https://93.184.216.34/hook") is None


@pytest.mark.parametrize("kind", ["webhook", "slack", "teams"])
def test_the_api_refuses_a_private_target_naming_config(no_private_targets, admin, kind):
    answer = admin.post(
        "/api/v1/alerts/channels/",
        {"name": "x", "kind": kind, "config": {"url": "http://169.254.169.254/"}},
        format="json",
    )
    assert answer.status_code == 400
    assert "config" in answer.json()["detail"]
    assert "169.254.169.254" in str(answer.json()["detail"]["config"])
    assert not Channel.objects.exists()


def test_the_api_refuses_a_private_pagerduty_events_url(no_private_targets, admin):
    answer = admin.post(
        "/api/v1/alerts/channels/",
        {"name": "pd", "kind": "pagerduty",
         "config": {"routing_key": "R", "events_url": "http://[fd12::3]/v2/enqueue"}},
        format="json",
    )  # fmt: skip
    assert answer.status_code == 400 and "config" in answer.json()["detail"]


def test_the_admin_refuses_file_urls_and_private_targets(no_private_targets, admin_client):
    for url, why in (
        ("file:///etc/passwd", "must be an http:// or https:// URL."),
        ("http://127.0.0.1:22/", "list the host or its network in ALERTS_PRIVATE_TARGETS"),
    ):
        page = admin_client.post(
            "/admin/alerts/channel/add/",
            {"name": "x", "kind": "webhook", "config": f'{{"url": "{url}"}}', "secret": "",
             "enabled": "on", "matchers": "{}"},
        )  # fmt: skip
        assert page.status_code == 200  # the form again, with the error
        assert why in page.content.decode()
        assert not Channel.objects.exists()


def test_a_send_is_refused_when_the_target_is_no_longer_allowed(db, settings, receiver):
    channel = Channel.objects.create(
        name="hook", kind="webhook", config={"url": receiver.url}, secret=new_webhook_secret()
    )
    rule = make_rule(channel)
    settings.ALERTS_PRIVATE_TARGETS = []  # what was allowed when saved is checked again

    from alerts.services import send_test

    outcome = send_test(rule=rule)

    assert receiver.received == [] and receiver.refused == 0
    [sent] = outcome["channels"]
    assert sent["status"] == "pending" and "ALERTS_PRIVATE_TARGETS" in sent["last_error"]


def test_a_redirect_to_a_private_address_is_not_followed(db, receiver):
    trap = Receiver()
    bouncer = Receiver(redirect_to=trap.url.replace("127.0.0.1", "127.0.0.2"))
    try:
        channel = Channel.objects.create(
            name="hook", kind="webhook", config={"url": bouncer.url}, secret=new_webhook_secret()
        )
        from alerts.services import send_test

        outcome = send_test(rule=make_rule(channel))
    finally:
        bouncer.close()
        trap.close()
    [sent] = outcome["channels"]
    assert bouncer.refused == 1 and trap.received == []
    assert "redirected" in sent["last_error"] and "127.0.0.2" in sent["last_error"]


def test_a_receivers_error_text_is_for_staff_only(db, receiver, admin, read_client):
    receiver.status = 503
    channel = Channel.objects.create(
        name="hook", kind="webhook", config={"url": receiver.url}, secret=new_webhook_secret()
    )
    rule = make_rule(channel)
    from alerts.services import send_test

    send_test(rule=rule)
    assert Notification.objects.get().last_error

    for client, shows in ((admin, True), (read_client, False)):
        [listed] = [r for r in client.get("/api/v1/alerts/rules/").json() if r["id"] == rule.pk]
        one = client.get(f"/api/v1/alerts/rules/{rule.pk}/").json()
        [history] = client.get("/api/v1/alerts/history/").json()["results"]
        texts = [listed["last_error"], one["last_error"], history["notifications"][0]["last_error"]]
        assert all(("HTTP 503" in text) == shows for text in texts), texts
        assert all(text for text in texts)  # a reader still sees that a send failed


def test_test_sends_are_marked_in_every_channel(db, receiver):
    hook = Channel.objects.create(
        name="hook", kind="webhook", config={"url": receiver.url}, secret=new_webhook_secret()
    )
    chat = Channel.objects.create(name="chat", kind="slack", config={"url": receiver.url})
    teams = Channel.objects.create(name="teams", kind="teams", config={"url": receiver.url})
    pager = Channel.objects.create(
        name="pd", kind="pagerduty", config={"routing_key": "R", "events_url": receiver.url}
    )
    rule = make_rule(hook)
    rule.channels.add(chat, teams, pager)
    from alerts.services import send_test

    send_test(rule=rule)
    deliver_due()

    bodies = [r.json() for r in receiver.received]
    webhook = next(b for b in bodies if "rule" in b)
    assert webhook["test"] is True and webhook["status"] == "firing"
    slack = next(b for b in bodies if "blocks" in b)
    assert slack["text"].startswith("[TEST]")
    card = next(b for b in bodies if b.get("type") == "message")
    assert "[TEST]" in card["attachments"][0]["content"]["body"][0]["text"]
    trigger, resolve = [b for b in bodies if "event_action" in b]
    assert (trigger["event_action"], resolve["event_action"]) == ("trigger", "resolve")
    assert trigger["payload"]["severity"] == "info"
    assert trigger["dedup_key"] == resolve["dedup_key"]
    assert trigger["dedup_key"].startswith(f"cpm-test-rule-{rule.pk}-")
