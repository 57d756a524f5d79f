"""A large limit is taken from PostgreSQL a lease at a time (tokens/ratelimit.py): fewer
statements, and still never more than the limit, exactly the limit for one process's burst."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tokens import ratelimit

HOUR = 3600  # nothing refills while a test runs


@pytest.fixture(autouse=True)
def _no_leases_before_or_after(monotonic_clock):
    ratelimit.forget_leases()
    yield
    ratelimit.forget_leases()


def _statements(queries: CaptureQueriesContext) -> int:
    return sum("tokens_rate_bucket" in q["sql"] for q in queries.captured_queries)


@pytest.mark.django_db
def test_a_large_limit_asks_once_a_lease():
    assert ratelimit.lease_size(1200) == 12
    with CaptureQueriesContext(connection) as queries:
        decisions = [ratelimit.take("lease", limit=1200, period_seconds=HOUR) for _ in range(25)]

    assert all(d.allowed for d in decisions)
    # The first request asks for one (nothing known of the bucket), then a lease of 12, twice.
    assert _statements(queries) == 3


@pytest.mark.django_db
def test_a_small_limit_asks_every_request():
    assert ratelimit.lease_size(199) == 1
    with CaptureQueriesContext(connection) as queries:
        for _ in range(5):
            ratelimit.take("small", limit=199, period_seconds=HOUR)

    assert _statements(queries) == 5


@pytest.mark.django_db
def test_a_burst_gets_exactly_the_limit():
    decisions = [ratelimit.take("burst", limit=400, period_seconds=HOUR) for _ in range(450)]

    assert [d.allowed for d in decisions] == [True] * 400 + [False] * 50
    assert all(d.retry_after >= 1 for d in decisions[400:])


@pytest.mark.django_db
def test_another_process_is_refused_at_the_limit_less_one_lease_at_most(monkeypatch):
    """Two processes (two lease books) spend one bucket: never more than the limit between
    them; what one took and did not hand out is all the other may miss."""
    books = [ratelimit._Leases(), ratelimit._Leases()]
    allowed = 0
    for n in range(500):
        monkeypatch.setattr(ratelimit, "_leases", books[n % 2])
        allowed += ratelimit.take("two", limit=400, period_seconds=HOUR).allowed

    assert 400 - ratelimit.lease_size(400) <= allowed <= 400


@pytest.mark.django_db
def test_a_lease_not_handed_out_in_time_is_given_up(monotonic_clock):
    ratelimit.take("stale", limit=1200, period_seconds=HOUR)  # one, exactly
    ratelimit.take("stale", limit=1200, period_seconds=HOUR)  # a lease of 12: 11 left
    monotonic_clock.now += ratelimit.LEASE_SECONDS
    with CaptureQueriesContext(connection) as queries:
        ratelimit.take("stale", limit=1200, period_seconds=HOUR)

    assert _statements(queries) == 1
