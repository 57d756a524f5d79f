"""The per-token rate limit is exact under concurrency and costs one SQL statement.

Before: DRF's SimpleRateThrottle rewrote a pickled history in the database cache; ten threads
lost each other's updates and let far more than the limit through (issue 13, #5)."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient, APIRequestFactory

from tokens import ratelimit
from tokens.auth import IngestThrottle, ReadThrottle, create_token

THREADS = 10
PER_THREAD = 8
LIMIT = 25
BODY = json.dumps(
    {"timestamp": datetime.now(UTC).isoformat(), "endpoint": "order_create", "http_status": 200}
)


@pytest.fixture
def slow_refill(monkeypatch):
    """An hour-long period: the bucket refills one request every 144 s, so none comes back
    while the test runs however slow the machine is; the burst is the part under test."""
    monkeypatch.setattr(IngestThrottle, "period_seconds", 3600, raising=False)


def _post_many(secret: str, results: Counter, lock: threading.Lock) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    try:
        for _ in range(PER_THREAD):
            status = client.post(
                "/api/v1/events/", BODY, content_type="application/json"
            ).status_code
            with lock:
                results[status] += 1
    finally:
        connection.close()  # each thread has its own connection to the test database


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_ten_threads_get_exactly_the_limit_through(settings, slow_refill):
    settings.INGEST_RATE_PER_MINUTE = LIMIT
    secret = create_token(name="burst", scopes=["ingest"])[1]
    results: Counter = Counter()
    lock = threading.Lock()
    threads = [
        threading.Thread(target=_post_many, args=(secret, results, lock)) for _ in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert results == {200: LIMIT, 429: THREADS * PER_THREAD - LIMIT}


@pytest.mark.django_db
def test_a_refused_request_says_when_to_retry(settings, slow_refill):
    settings.INGEST_RATE_PER_MINUTE = 2
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {create_token(name='t', scopes=['ingest'])[1]}")

    answers = [client.post("/api/v1/events/", BODY, content_type="application/json") for _ in "abc"]

    assert [a.status_code for a in answers] == [200, 200, 429]
    # One request comes back every 3600 / 2 s; the refused one waits for that whole step.
    assert 1790 <= int(answers[2]["Retry-After"]) <= 1800
    assert answers[2].json()["retry_after"] == int(answers[2]["Retry-After"])


@pytest.mark.django_db
def test_the_bucket_refills_at_limit_per_period():
    key = "refill-test"
    assert ratelimit.take(key, limit=2, period_seconds=0.2).allowed
    assert ratelimit.take(key, limit=2, period_seconds=0.2).allowed
    assert not ratelimit.take(key, limit=2, period_seconds=0.2).allowed
    time.sleep(0.15)  # more than one step (0.1 s): one request is back, not two
    assert ratelimit.take(key, limit=2, period_seconds=0.2).allowed
    assert not ratelimit.take(key, limit=2, period_seconds=0.2).allowed


@pytest.mark.django_db
def test_limits_are_per_token_and_per_scope(settings, slow_refill, monkeypatch):
    monkeypatch.setattr(ReadThrottle, "period_seconds", 3600)
    settings.INGEST_RATE_PER_MINUTE = 1
    settings.READ_RATE_PER_MINUTE = 1
    both = create_token(name="both", scopes=["ingest", "read"])[0]
    other = create_token(name="other", scopes=["ingest"])[0]
    request = APIRequestFactory().post("/api/v1/events/")
    request.auth = both

    def allowed(throttle, token) -> bool:
        request.auth = token
        return throttle.allow_request(request, None)

    assert allowed(IngestThrottle(), both)
    assert not allowed(IngestThrottle(), both)
    assert allowed(ReadThrottle(), both)  # the read limit is a bucket of its own
    assert allowed(IngestThrottle(), other)


@pytest.mark.django_db
def test_one_statement_per_request(settings):
    token = create_token(name="cost", scopes=["ingest"])[0]
    request = APIRequestFactory().post("/api/v1/events/")
    request.auth = token
    with CaptureQueriesContext(connection) as queries:
        IngestThrottle().allow_request(request, None)
        IngestThrottle().allow_request(request, None)

    assert len(queries) == 2
