from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from alerts.models import Channel, Rule, new_webhook_secret
from stats.window import floor_to_grain
from tests.alerts.receivers import Receiver
from tests.alerts.traffic import calls, ingest


@pytest.fixture(autouse=True)
def loopback_receivers_allowed(settings):
    """The test receivers listen on 127.0.0.1: listed as an operator would list an internal
    receiver (tests/alerts/test_targets.py proves the refusal without it)."""
    settings.ALERTS_PRIVATE_TARGETS = ["127.0.0.1"]


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def webhook(db, receiver) -> Channel:
    return Channel.objects.create(
        name="ops-webhook",
        kind="webhook",
        config={"url": receiver.url},
        secret=new_webhook_secret(),
    )


def make_rule(channel: Channel | None = None, **fields) -> Rule:
    values = {
        "name": "Delhivery failing",
        "metric": "error_rate",
        "group_by": "cp_id",
        "window_minutes": 5,
        "threshold": 0.2,
        "tz": "Asia/Kolkata",
    } | fields
    rule = Rule.objects.create(**values)
    if channel is not None:
        rule.channels.add(channel)
    return rule


def clear_events() -> None:
    from ingest import store

    store.delete_all_events()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE ingest_courier")


@pytest.fixture
def base() -> datetime:
    """A quarter hour three hours ago: traffic there is accepted and in the past."""
    return floor_to_grain(timezone.now() - timedelta(hours=3))


@pytest.fixture
def incident(db, base):
    """Courier 7: 10 minutes at 5 % errors, 10 at 50 %, 20 at 0 %; 20 calls a minute.
    A 5-minute error rate over 0.2 first at minute 12, back to 0.2 (not above) at minute 23."""
    ingest(calls(start=base, minutes=10, per_minute=20, failing=1))
    ingest(calls(start=base + timedelta(minutes=10), minutes=10, per_minute=20, failing=10))
    ingest(calls(start=base + timedelta(minutes=20), minutes=20, per_minute=20))
    # A quiet courier beside it never alerts.
    ingest(calls(start=base, minutes=40, per_minute=2, failing=0, cp_id=9, courier="Ecom"))
