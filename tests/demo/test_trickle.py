"""The demo's live traffic (demo.trickle, `manage.py demo_trickle`): calls keep arriving as
they happen, through the ingest pipeline, with incidents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from demo.management.commands.demo_trickle import send
from demo.management.commands.generate_demo_data import demo_token
from demo.trickle import DAY, Trickle
from ingest.models import Event
from tokens.models import ApiToken

START = datetime(2031, 3, 4, 9, 17, tzinfo=UTC)  # pure generation: no database, any date


def _times(calls: list[dict]) -> list[datetime]:
    return [datetime.fromisoformat(call["timestamp"]) for call in calls]


def test_calls_are_handed_out_once_in_time_order_as_their_time_comes():
    trickle = Trickle(start=START, per_day=10_000)
    handed: list[dict] = []
    for minutes in (1, 2, 2, 30, 24 * 60 + 90):  # across the first day into the second
        now = START + timedelta(minutes=minutes)
        due = trickle.due(now)
        assert all(START <= at < now for at in _times(due))
        handed += due
    times = _times(handed)
    assert times == sorted(times)
    assert len({(c["timestamp"], c["order_id"], c["url"]) for c in handed}) == len(handed)
    assert 8_000 < len(handed) < 14_000  # a day and an hour and a half at 10,000 a day
    second_day = [c for c in handed if datetime.fromisoformat(c["timestamp"]) >= START + DAY]
    assert second_day, "the trickle goes on after its first day"
    first_day_orders = {c["order_id"] for c in handed if c not in second_day and c["order_id"]}
    assert first_day_orders.isdisjoint(c["order_id"] for c in second_day if c["order_id"])


def test_the_gateway_failure_under_way_at_the_start_keeps_failing():
    calls = Trickle(start=START, per_day=10_000).due(START + timedelta(hours=2))
    delhivery = [c for c in calls if c["cp_id"] == 4]
    failing = [c for c in delhivery if c["http_status"] >= 500]
    assert len(failing) > len(delhivery) / 2


def test_the_due_calls_are_stored_through_the_ingest_pipeline_as_the_demo_shipper(db):
    trickle = Trickle(start=timezone.now() - timedelta(minutes=20), per_day=20_000)
    token = demo_token()
    accepted = send(trickle, token_id=token.pk)
    assert accepted > 100  # twenty minutes at 20,000 a day, busy or not
    assert Event.objects.count() == accepted
    assert Event.objects.filter(category="server", cp_id=4).exists()  # the gateway failure
    token = ApiToken.objects.get(pk=token.pk)
    assert (token.accepted, token.last_used_at is not None) == (accepted, True)
    assert send(trickle, token_id=token.pk) <= 10  # only what came due since


def test_the_trickle_refuses_a_database_named_by_database_url(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://production/db")
    with pytest.raises(CommandError, match="DATABASE_URL unset"):
        call_command("demo_trickle")
