"""Retention: `prune_events` drops whole days of raw events, keeps the rollups, and is safe
while ingest goes on; partitions are made ahead (`ensure_partitions`, and after migrate)."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from ingest import partitions, store
from ingest.catalog import current_catalog
from ingest.events import clean_event
from ingest.management.commands.prune_events import parse_age
from ingest.models import Event, RollupByCode, RollupByCourier
from ingest.pipeline import RawItem
from ingest.times import EPOCH


def _event(at: datetime, *, status: int = 503) -> RawItem:
    return RawItem(
        {
            "event_id": uuid.uuid4().hex,
            "timestamp": at.isoformat(),
            "endpoint": "order_create",
            "http_status": status,
            "cp_id": 7,
        }
    )


def _ingest(moments: list[datetime]) -> int:
    """Store events at `moments`, old ones too: ingest now refuses events past the retention
    horizon, but a database keeps what it took under a longer RETENTION_DAYS until pruned."""
    now, catalog = timezone.now(), current_catalog()
    clean = [
        clean_event(_event(at).value, now=now, catalog=catalog, horizon=EPOCH) for at in moments
    ]
    return store.write_events(clean, token_id=None).accepted


def _rollup_events() -> int:
    return RollupByCode.objects.aggregate(n=Sum("events"))["n"] or 0


def _prune(*args: str) -> str:
    out = StringIO()
    call_command("prune_events", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def committed_events(transactional_db, django_db_serialized_rollback):
    """Raw events are an unmanaged table that the test flush leaves alone: empty it after.

    Serialized rollback, as every transactional test here: a plain one's flush re-creates the
    content types with new ids, and the next serialized test's restore then collides with them."""
    yield
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE ingest_event")


@pytest.mark.parametrize("text,days", [("90d", 90), ("90", 90), ("1D", 1), (" 30d ", 30)])
def test_older_than_takes_whole_days(text, days):
    assert parse_age(text) == timedelta(days=days)


@pytest.mark.parametrize("text", ["0d", "12h", "-3d", "d", "ninety"])
def test_older_than_refuses_anything_else(text):
    with pytest.raises(CommandError, match="whole days"):
        parse_age(text)


def test_prune_drops_old_days_and_keeps_the_rollups(db):
    now = timezone.now()
    old = [now - timedelta(days=120), now - timedelta(days=100), now - timedelta(days=91, hours=1)]
    recent = [now - timedelta(days=89), now - timedelta(hours=1), now]
    assert _ingest(old + recent) == 6
    rollups_before = _rollup_events()

    output = _prune("--older-than", "90d")

    assert sorted(Event.objects.values_list("ts", flat=True)) == sorted(recent)
    assert _rollup_events() == rollups_before == 6
    assert "Dropped 3 day(s)" in output
    assert all(day >= (now - timedelta(days=90)).date() for day in partitions.partition_days())


def test_prune_keeps_the_day_the_cutoff_falls_in(db):
    now = timezone.now()
    cutoff_day = (now - timedelta(days=90)).astimezone(UTC).date()
    start_of_cutoff_day = datetime(*cutoff_day.timetuple()[:3], tzinfo=UTC)
    _ingest([start_of_cutoff_day, start_of_cutoff_day - timedelta(seconds=1)])

    _prune("--older-than", "90d")

    assert list(Event.objects.values_list("ts", flat=True)) == [start_of_cutoff_day]


def test_dry_run_drops_nothing(db):
    _ingest([timezone.now() - timedelta(days=200)])

    output = _prune("--older-than", "90d", "--dry-run")

    assert "Would drop 1 day(s)" in output
    assert Event.objects.count() == 1


def test_retention_days_setting_is_the_default(db, settings):
    now = timezone.now()
    settings.RETENTION_DAYS = 10
    _ingest([now - timedelta(days=12), now - timedelta(days=5)])

    # The default is read when the command's arguments are built, at each call.
    _prune()

    assert list(Event.objects.values_list("ts", flat=True)) == [now - timedelta(days=5)]


def test_prune_finishes_a_drop_that_was_interrupted(db):
    day = (timezone.now() - timedelta(days=300)).astimezone(UTC).date()
    _ingest([datetime(*day.timetuple()[:3], 12, tzinfo=UTC)])
    with connection.cursor() as cursor:  # a crash between DETACH and DROP left this behind
        name = partitions.partition_name(day)
        cursor.execute(f"ALTER TABLE ingest_event DETACH PARTITION {name}")

    _prune("--older-than", "90d")

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [partitions.partition_name(day)])
        assert cursor.fetchone() == (None,)


def test_prune_while_ingest_continues_loses_nothing_of_today(committed_events):
    now = timezone.now()
    old_days = [now - timedelta(days=d) for d in range(95, 101)]
    assert _ingest(old_days) == len(old_days)
    old_rollup_rows = RollupByCourier.objects.filter(bucket__lt=now - timedelta(days=90)).count()
    pruned = threading.Event()
    first_batch_done = threading.Event()
    sent, accepted, errors = [], [], []

    def ship() -> None:
        try:
            while not pruned.is_set() or len(sent) < 20:
                moments = [timezone.now()] * 50
                accepted.append(_ingest(moments))
                sent.append(len(moments))
                first_batch_done.set()
        except Exception as error:  # the assertion below reports it
            errors.append(error)
            first_batch_done.set()
        finally:
            connection.close()

    shipper = threading.Thread(target=ship)
    shipper.start()
    first_batch_done.wait()
    dropped = partitions.drop_partitions_before((now - timedelta(days=90)).date())
    pruned.set()
    shipper.join()

    assert errors == []
    assert {day.date() for day in old_days} <= set(dropped)
    today = Event.objects.filter(ts__gte=now - timedelta(hours=1)).count()
    assert today == sum(accepted) == sum(sent)
    assert not Event.objects.filter(ts__lt=now - timedelta(days=90)).exists()
    assert RollupByCourier.objects.filter(bucket__lt=now - timedelta(days=90)).count() == (
        old_rollup_rows
    )


def test_partitions_exist_ahead_after_migrate(db, settings):
    today = timezone.now().astimezone(UTC).date()
    ahead = {today + timedelta(days=n) for n in range(settings.PARTITIONS_AHEAD_DAYS + 1)}

    assert ahead <= set(partitions.partition_days())


def test_ensure_partitions_makes_the_days_ahead(db):
    today = timezone.now().astimezone(UTC).date()
    out = StringIO()

    call_command("ensure_partitions", "--days-ahead", "9", stdout=out)

    days = set(partitions.partition_days())
    assert {today + timedelta(days=n) for n in range(-1, 10)} <= days
    assert "daily partitions" in out.getvalue()
