from __future__ import annotations

import pytest
from django.db import connection

from alerts.models import Channel, Rule, new_webhook_secret
from tests.alerts.receivers import Receiver


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

    with connection.cursor() as cursor:
        rollups = ", ".join(rollup.table for rollup in store.ROLLUP_TABLES)
        cursor.execute(f"TRUNCATE ingest_event, {rollups}, ingest_courier")
