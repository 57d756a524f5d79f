"""The /alerts/ page, the overview's selectors and banner, the default rules and the demo."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.template.loader import render_to_string
from django.test import Client
from django.utils import timezone

from alerts import selectors
from alerts.defaults import DEFAULT_RULES
from alerts.demo import DEMO_RULE, setup_demo_alerts
from alerts.evaluator import evaluate_minute
from alerts.leader import floor_minute
from alerts.models import Notification, Rule, Transition
from alerts.outbox import deliver_due
from tests.alerts.conftest import make_rule
from tests.alerts.traffic import calls, ingest


@pytest.fixture
def incident_now(db):
    """Courier 7 failing half its calls for the last 20 minutes, 40 calls a minute."""
    now = floor_minute(timezone.now())
    ingest(calls(start=now - timedelta(minutes=40), minutes=20, per_minute=40, failing=2))
    ingest(calls(start=now - timedelta(minutes=20), minutes=20, per_minute=40, failing=20))
    return now


@pytest.fixture
def logged_in(db, settings) -> Client:
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    client = Client()
    client.force_login(get_user_model().objects.create_user("operator", password="x" * 20))
    return client


def test_the_default_rules_exist_disabled_on_a_fresh_install(db):
    defaults = Rule.objects.filter(name__in=[r["name"] for r in DEFAULT_RULES])
    assert defaults.count() == 4
    assert not defaults.filter(enabled=True).exists()
    assert set(defaults.values_list("metric", flat=True)) == {"anomaly", "errors", "calls"}
    assert defaults.get(metric="calls").direction == "below"


def test_the_page_shows_what_is_firing_the_rules_chart_and_the_history(
    logged_in, incident_now, webhook, receiver
):
    rule = make_rule(webhook, window_minutes=15)
    evaluate_minute(incident_now)
    deliver_due()

    html = logged_in.get("/alerts/").content.decode()

    assert 'data-alert="firing"' in html and rule.name in html
    assert f'id="rule-{rule.pk}"' in html  # the preview chart's figure
    assert "ops-webhook: sent" in html
    assert "vendor/plotly.min.js" in html


def test_the_page_needs_a_login(db):
    assert Client().get("/alerts/")["Location"].startswith("/accounts/login/")


def test_selectors_for_the_overview(incident_now, webhook):
    make_rule(webhook, window_minutes=15)
    evaluate_minute(incident_now)

    [alert] = selectors.firing_now()
    assert alert.labels == {"cp_id": 7, "courier": "Delhivery"} and alert.status == "firing"
    marks = selectors.firings_between(
        incident_now - timedelta(hours=1), incident_now + timedelta(minutes=1)
    )
    assert [t.kind for t in marks] == ["firing"]
    assert (
        selectors.firings_between(
            incident_now + timedelta(minutes=1), incident_now + timedelta(hours=1)
        )
        == []
    )
    banner = render_to_string("alerts/_firing_banner.html", {"alerts": selectors.firing_now()})
    assert "Firing now" in banner and "Delhivery" in banner and "cp_id" not in banner


def test_the_demo_set_up_has_an_incident_firing_now_with_its_notification_sent(
    incident_now, settings, tmp_path
):
    settings.LOCAL_DIR = tmp_path

    setup_demo_alerts()
    setup_demo_alerts()  # idempotent: the minute is claimed, nothing is sent twice

    rule = Rule.objects.get(name=DEMO_RULE)
    assert rule.enabled
    [alert] = selectors.firing_now()
    assert alert.rule == rule
    [note] = Notification.objects.all()
    assert note.status == "sent"
    assert Transition.objects.filter(kind="firing").count() == 1
    [mail] = list((tmp_path / "mail").iterdir())
    assert "[Firing]" in mail.read_text()


def test_the_demos_own_traffic_fires_the_demo_rule_at_this_hour(db, settings, tmp_path):
    """The demo's incident under way, generated now (whatever the hour CI runs at, the Indian
    night trough included), fires the demo rule at set-up: what a fresh `make run` shows."""
    from demo.traffic import DemoTraffic
    from ingest.pipeline import RawItem, ingest_items

    settings.LOCAL_DIR = tmp_path
    now = timezone.now()
    records = list(DemoTraffic(now=now, days=1, per_day=10_000, seed=7).records())
    for first in range(0, len(records), 2000):
        ingest_items([RawItem(r) for r in records[first : first + 2000]], token_id=None)

    setup_demo_alerts()

    firing = selectors.firing_now()
    assert [alert.rule.name for alert in firing] == [DEMO_RULE] * len(firing)
    assert firing, f"nothing fired at {now:%H:%M} UTC"
    assert Notification.objects.filter(status="sent").count() == len(firing)
