"""ingest/pipeline.py: raw items -> clean events -> one stored batch -> the token's counts.

The pipeline keeps every rejection (a door answering per item reads them all) and lists at most
100 in its answer; the token's counts follow every batch and every refused request.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from ingest import pipeline
from ingest.framing import Unparsable
from ingest.models import ApiToken
from ingest.pipeline import MAX_LISTED_ERRORS, IngestOutcome, RawItem, ingest_items
from tokens.auth import create_token

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
