"""The alert metric `open_failures`: open references in the rule's filters waiting longer than
`window_minutes`, per group; the evaluator fires on it and the preview answers it now."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.evaluator import evaluate_minute, floor_minute
from alerts.models import AlertState
from alerts.values import Reader, question_of
from ingest import store
from tests.alerts.conftest import make_rule
from tests.ingest.test_open_failures import call
from tokens.auth import create_token


@pytest.fixture
def failing(db):
    now = timezone.now()
    minute = timedelta(minutes=1)
    store.write_events(
        [call(now - 40 * minute, 316, order_id=f"d{n}", cp_id=4, key=f"d{n}") for n in range(3)]
        + [call(now - 10 * minute, 316, order_id="d-new", cp_id=4, key="d-new")]
        + [call(now - 50 * minute, 503, order_id="e1", cp_id=9, key="e1")]
        + [call(now - 60 * minute, 503, order_id="ok", cp_id=9, key="ok-1")]
        + [call(now - 55 * minute, 200, order_id="ok", cp_id=9, key="ok-2")],
        token_id=None,
    )


def test_readings_count_open_references_waiting_longer_than_the_window(failing):
    rule = make_rule(metric="open_failures", window_minutes=30, threshold=2, group_by="cp_id")
    readings = Reader(at=timezone.now()).readings(question_of(rule))
    assert {key: reading.value for key, reading in readings.items()} == {(4,): 3.0, (9,): 1.0}
    assert "3 open failures waiting over 30 minutes" in readings[(4,)].summary
    whole = make_rule(metric="open_failures", window_minutes=5, threshold=2, group_by="none")
    assert Reader(at=timezone.now()).readings(question_of(whole))[()].value == 5.0


def test_the_evaluator_fires_for_the_group_over_the_threshold(failing):
    make_rule(metric="open_failures", window_minutes=30, threshold=2, group_by="cp_id")
    evaluate_minute(floor_minute(timezone.now()))
    firing = {s.labels["cp_id"] for s in AlertState.objects.all() if s.status == "firing"}
    assert firing == {4}


def test_preview_and_validation(failing):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {create_token(name='a', scopes=['admin'])[1]}")
    body = {
        "name": "Orders stuck",
        "metric": "open_failures",
        "group_by": "cp_id",
        "window_minutes": 30,
        "threshold": 2,
    }
    answer = client.post("/api/v1/alerts/rules/preview/", body | {"days": 1}, format="json")
    assert answer.status_code == 200, answer.content
    assert [firing["group"] for firing in answer.json()["firings"]] == [{"cp_id": 4}]
    bad = client.post("/api/v1/alerts/rules/", body | {"threshold": -1}, format="json")
    assert bad.status_code == 400 and "threshold" in bad.json()["detail"]
    bad = client.post("/api/v1/alerts/rules/", body | {"metric": "open_failure"}, format="json")
    assert bad.status_code == 400 and "metric" in bad.json()["detail"]
