"""ingest/pipeline.py: raw items -> clean events -> one stored batch -> the token's counts.

The pipeline keeps every rejection (a door answering per item reads them all) and lists at most
100 in its answer; the token's counts follow every batch and every refused request.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection
from django.utils import timezone

from ingest import events, partitions, pipeline, store
from ingest.catalog import current_catalog
from ingest.framing import Unparsable
from ingest.models import Event
from ingest.pipeline import MAX_LISTED_ERRORS, IngestOutcome, RawItem, ingest_items
from tokens.auth import create_token
from tokens.models import ApiToken

pytestmark = pytest.mark.django_db  # the catalog is read from the database


def good(n: int = 0, **fields) -> dict:
    when = timezone.now() - timedelta(minutes=1)
    return {
        "timestamp": when.isoformat(),
        "endpoint": "order_create",
        "http_status": 200,
        "waybill": f"W{n}",
        **fields,
    }


def stored_rows() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM ingest_event")
        return cursor.fetchone()[0]


@pytest.fixture
def token(db) -> ApiToken:
    return create_token(name="shipper", scopes=["ingest"])[0]


def test_clean_items_keeps_every_rejection_but_lists_the_first_hundred():
    items = [RawItem(good(i) if i % 3 == 0 else {"endpoint": "x"}) for i in range(450)]
    clean, outcome = pipeline.clean_items(items, now=timezone.now())
    bad = [i for i in range(450) if i % 3]
    assert len(clean) == 150
    assert sorted(outcome.rejections) == bad
    assert outcome.rejected == 300
    assert [e["index"] for e in outcome.errors] == bad[:MAX_LISTED_ERRORS]
    assert outcome.as_json()["errors"] == outcome.errors
    assert outcome.rejections[1] == {
        "timestamp": ["required"],
        "http_status": ["required unless code or response.meta.status is given"],
    }


def test_an_unparsable_item_is_rejected_at_its_index_with_its_line():
    items = [RawItem(good(0)), RawItem(Unparsable(2, "not valid JSON")), RawItem([1])]
    _, outcome = pipeline.clean_items(items, now=timezone.now())
    assert outcome.rejections == {
        1: {"event": ["line 2: not valid JSON"]},
        2: {"event": ["must be a JSON object"]},
    }


def test_door_context_and_default_time_reach_the_event():
    when = timezone.now() - timedelta(hours=1)
    item = RawItem(
        {"endpoint": "order_create", "http_status": 503, "app": "mine"},
        default_timestamp=when,
        context={"app": "label", "host": "h1"},
    )
    clean, outcome = pipeline.clean_items([item], now=timezone.now())
    assert outcome.rejected == 0
    assert clean[0].ts == when
    assert clean[0].extra == {"app": "mine", "host": "h1"}


def test_ingest_items_stores_the_valid_counts_duplicates_and_keeps_the_token_exact(token):
    items = [RawItem(good(i)) for i in range(5)] + [RawItem({"junk": 1})]
    first = ingest_items(items, token_id=token.pk)
    again = ingest_items(items, token_id=token.pk)
    assert (first.accepted, first.duplicates, first.rejected) == (5, 0, 1)
    assert (again.accepted, again.duplicates, again.rejected) == (0, 5, 1)
    assert stored_rows() == 5
    token.refresh_from_db()
    assert (token.accepted, token.duplicates, token.rejected) == (5, 5, 2)
    assert token.last_error.startswith("1 rejected; event 5: timestamp: required")
    assert token.last_error_at == token.last_used_at


def test_all_rejected_and_empty_batches(token):
    rejected = ingest_items([RawItem("x")], token_id=token.pk)
    empty = ingest_items([], token_id=token.pk)
    assert rejected.all_rejected and not empty.all_rejected
    assert empty.as_json() == {"accepted": 0, "duplicates": 0, "rejected": 0, "errors": []}
    assert stored_rows() == 0


def test_a_refused_request_shows_on_the_token_and_counts_nothing(token):
    pipeline.record_refused_request(token.pk, "body is not valid JSON")
    pipeline.record_refused_request(None, "no token: nothing to record")
    token.refresh_from_db()
    assert (token.accepted, token.duplicates, token.rejected) == (0, 0, 0)
    assert token.last_error == "body is not valid JSON"
    assert token.last_used_at is not None


def test_outcome_of_nothing_rejected_is_not_all_rejected():
    assert not IngestOutcome(accepted=0, duplicates=0).all_rejected


# --- issue 13: partitions per request, the token's counts in the batch's transaction ---


def _partition_exists(day) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [partitions.partition_name(day)])
        return cursor.fetchone()[0]


def test_one_request_creates_at_most_the_setting_of_new_days(settings, token):
    settings.INGEST_MAX_NEW_PARTITIONS = 3
    settings.RETENTION_DAYS = 400  # days 200+ back: inside the horizon, never made ahead
    noon = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    days = [noon - timedelta(days=200 + n) for n in range(5)]
    assert not any(_partition_exists(at.date()) for at in days)
    items = [RawItem(good(n, timestamp=at.isoformat())) for n, at in enumerate(days * 2)]
    today = RawItem(good(99))  # today's partition exists (made ahead): free

    outcome = ingest_items([today, *items], token_id=token.pk)

    assert outcome.accepted == 1 + 3 * 2
    assert sorted(outcome.rejections) == [4, 5, 9, 10]
    (reason,) = outcome.rejections[4]["timestamp"]
    assert reason.startswith(f"falls on {days[3].date().isoformat()}, a day not stored yet")
    assert "INGEST_MAX_NEW_PARTITIONS" in reason
    assert [_partition_exists(at.date()) for at in days] == [True] * 3 + [False] * 2
    # The backfill goes on in the next request; the days made are free now.
    again = ingest_items(items, token_id=token.pk)
    assert (again.accepted, again.duplicates, again.rejected) == (4, 6, 0)
    token.refresh_from_db()
    assert (token.accepted, token.duplicates, token.rejected) == (11, 6, 4)


def test_events_past_the_horizon_make_no_partition(settings, token):
    settings.RETENTION_DAYS = 90
    old = [timezone.now() - timedelta(days=400 + n) for n in range(10)]
    outcome = ingest_items(
        [RawItem(good(n, timestamp=at.isoformat())) for n, at in enumerate(old)], token_id=token.pk
    )
    assert outcome.all_rejected and outcome.rejected == 10
    assert not any(_partition_exists(at.date()) for at in old)


def test_a_failing_token_update_stores_nothing_of_the_batch(token):
    """The counts are in the batch's transaction: when they cannot be written (here a trigger
    refuses; in production a lock wait past the timeout, a dropped connection), nothing is."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION refuse_token_update() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'token row unavailable'; END $$; "
            "CREATE TRIGGER refuse BEFORE UPDATE ON ingest_apitoken "
            "FOR EACH ROW EXECUTE FUNCTION refuse_token_update()"
        )
    with pytest.raises(DatabaseError, match="token row unavailable"):
        ingest_items([RawItem(good(n)) for n in range(3)], token_id=token.pk)
    assert stored_rows() == 0


# --- the content key's second version ---


def _switch_key_version(at) -> None:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ingest_keyversion SET since = %s WHERE version = 2", [at])
    store.forget_key_version()


def _store_under_the_first_version(raw: dict) -> None:
    """As the code before the second key version stored it: the same row, keyed "h:"."""
    clean = events.clean_event(raw, now=timezone.now(), catalog=current_catalog())
    first = events._legacy_content_key(
        {
            name: getattr(clean, name)
            for name in [
                "ts",
                "endpoint",
                "http_status",
                "cp_id",
                "courier",
                "waybill",
                "order_id",
                "account_code",
                "latency_ms",
                "message",
                "request",
                "response",
                "extra",
                "code",
            ]
        }
    )
    store.write_events([dataclasses.replace(clean, event_key=first)], token_id=None)


def test_an_event_stored_under_the_first_key_version_is_a_duplicate_when_sent_again(token):
    """A retry spanning the deploy of the second version is still a duplicate, and an event
    after the switch is keyed by the second version alone."""
    before, after = good(1), good(2)
    _store_under_the_first_version(before)
    _switch_key_version(timezone.now())

    again = ingest_items([RawItem(before), RawItem(after)], token_id=token.pk)

    assert (again.accepted, again.duplicates) == (1, 1)
    keys = set(Event.objects.values_list("event_key", flat=True))
    assert {key.split(":")[0] for key in keys} == {"h", "h2"}


def test_a_database_that_never_held_the_first_version_looks_nothing_up_twice(token):
    assert store.legacy_keys_before() is None  # migrated empty: nothing keyed "h:"
    raw = good(1)
    _store_under_the_first_version(raw)
    assert ingest_items([RawItem(raw)], token_id=token.pk).accepted == 1
