"""A latency rule: its value is the percentile of exactly the window's calls (whole quarter hours
from the rollups' histograms, edge minutes from the raw rows, merged bucket by bucket), its
message says it in ms, and the preview replays what the evaluator does on a courier that only
got slow (no error at all)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.evaluator import evaluate_minute, floor_minute
from alerts.messages import format_value
from alerts.models import Transition
from alerts.values import Question, latency_reading
from ingest.latency import bucket_of
from stats.window import Filters
from stats.windowed import window_histograms
from tests.alerts.conftest import make_rule
from tests.alerts.traffic import ingest
from tokens.auth import create_token

RULE = {
    "name": "Courier slow",
    "metric": "latency",
    "percentile": 95,
    "group_by": "cp_id",
    "window_minutes": 10,
    "threshold": 5000,
    "min_calls": 20,
}


def slow_courier(start, *, minutes: int, slow_from: int, slow_to: int) -> list[dict]:
    """Courier 7, 10 calls a minute at 300-390 ms, ~12 s in [slow_from, slow_to); every call
    succeeds; every fifth call carries no latency."""
    events = []
    for m in range(minutes):
        for n in range(10):
            slow = slow_from <= m < slow_to
            events.append(
                {
                    "event_id": f"latency-rule-{m}-{n}",
                    "timestamp": (start + timedelta(minutes=m, seconds=6 * n)).isoformat(),
                    "endpoint": "tracking_status",
                    "http_status": 200,
                    "cp_id": 7,
                    "courier": "Delhivery",
                    **({} if n == 4 else {"latency_ms": 12_000 + n if slow else 300 + 10 * n}),
                }
            )
    return events


@pytest.fixture
def admin(db) -> APIClient:
    client = APIClient()
    token = create_token(name="on-call", scopes=["admin"])[1]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_a_minute_window_merges_rollup_histograms_and_raw_edges_exactly(db):
    start = floor_minute(timezone.now()) - timedelta(minutes=70)
    events = slow_courier(start, minutes=60, slow_from=20, slow_to=30)
    ingest(events)
    window_start, window_end = start + timedelta(minutes=7), start + timedelta(minutes=53)
    want = Counter(
        bucket_of(e["latency_ms"])
        for e in events
        if "latency_ms" in e and window_start <= datetime.fromisoformat(e["timestamp"]) < window_end
    )
    got = window_histograms(start=window_start, end=window_end, filters=Filters(), group=("cp_id",))
    assert got == {(7,): dict(want)}


def test_the_message_says_the_percentile_in_ms_over_the_window_with_its_calls():
    question = Question(metric="latency", filters=Filters(), group_by="none", window_minutes=15)
    reading = latency_reading(question, {bucket_of(2450.0): 312})
    assert reading.calls == 312 and reading.errors == 0
    assert reading.summary == f"p95 {format_value('latency', reading.value)} over 15 min, 312 calls"
    assert format_value("latency", 2450.0) == "2,450 ms"
    assert abs(reading.value - 2450) <= 0.05 * 2450


def test_the_preview_of_a_slow_courier_with_no_errors_is_what_the_evaluator_does(admin, db):
    base = floor_minute(timezone.now()) - timedelta(minutes=50)
    ingest(slow_courier(base, minutes=45, slow_from=15, slow_to=25))
    make_rule(None, **RULE)
    minute = base
    while minute <= floor_minute(timezone.now()):
        evaluate_minute(minute)
        minute += timedelta(minutes=1)
    evaluated = [(t.kind, t.at) for t in Transition.objects.order_by("at")]
    assert [kind for kind, _ in evaluated] == ["firing", "resolved"]

    preview = admin.post(
        "/api/v1/alerts/rules/preview/", RULE | {"name": "preview", "days": 1}, format="json"
    )
    assert preview.status_code == 200, preview.content
    [firing] = preview.json()["firings"]
    assert firing["group"] == {"cp_id": 7} and firing["peak"] > 11_000
    replayed = [("firing", firing["fired_at"]), ("resolved", firing["resolved_at"])]
    assert [(k, at.isoformat().replace("+00:00", "Z")) for k, at in evaluated] == replayed
