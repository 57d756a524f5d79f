"""Per-key rate limits in PostgreSQL: a token bucket read and updated by ONE statement.

GCRA (the "generic cell rate algorithm", a token bucket kept as one timestamp): a key may make
`limit` requests per `period`; each request moves the key's *theoretical arrival time* (tat)
`period / limit` later, and a request is allowed when that moved tat is at most `period` ahead
of now. A full bucket therefore allows exactly `limit` requests at once, then one every
`period / limit`. The decision and the update are the same `INSERT ... ON CONFLICT DO UPDATE`,
which takes the row lock: concurrent requests of one key (any worker, any thread) are
serialised on it, so none is lost and exactly `limit` of a burst get through. One round trip.

A key with a large limit is spent a few requests at a time (`_Leases`): when this process last
saw the key's bucket at most a quarter full, it takes `lease_size(limit)` requests (1 % of the
limit, at most 20) in that one statement and hands them out to its next requests without
asking PostgreSQL, each for at most LEASE_SECONDS after it was taken. Never more than `limit`
are taken, as before; near the limit every request asks for one, so a burst still gets exactly
`limit` through, less what a process took and did not hand out (at most one lease per process,
back within `lease * period / limit`). A limit under 200 is never leased.

The statement is also the request's connection health check. Django tests a connection kept
from an earlier request (CONN_HEALTH_CHECKS) with a `SELECT 1` before its first statement, a
round trip of its own on every request; the throttle is the first statement of a token's
request, so it checks instead (`_first_statement`): a kept connection found broken by it is
closed and the statement run once more on a new one, as the `SELECT 1` would have reconnected.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, connection

# `seen` is the statement's own clock, taken once (clock_timestamp() inside a transaction too),
# handed to the UPDATE branch as EXCLUDED.seen.
_TAKE = """
WITH clock AS (SELECT clock_timestamp() AS now)
INSERT INTO tokens_rate_bucket AS b (key, tat, seen, refused)
SELECT %(key)s, now + %(step)s * interval '1 microsecond', now, false FROM clock
ON CONFLICT (key) DO UPDATE SET
    tat = CASE WHEN {fits} THEN {moved} ELSE b.tat END,
    refused = NOT ({fits}),
    seen = EXCLUDED.seen
RETURNING refused, extract(epoch FROM (tat - seen))
""".format(
    moved="greatest(b.tat, EXCLUDED.seen) + %(step)s * interval '1 microsecond'",
    fits=(
        "greatest(b.tat, EXCLUDED.seen) + %(step)s * interval '1 microsecond'"
        " <= EXCLUDED.seen + %(period)s * interval '1 microsecond'"
    ),
)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int  # seconds until the next request of this key would be allowed; 0 if allowed


LEASE_SECONDS = 1.0  # a leased request not handed out by then is given up, not kept for later
_LEASE_SHARE = 100  # a lease is 1 % of the limit
_LEASE_MOST = 20
_ROOMY = 0.25  # a bucket at most this full (of the period ahead of now) may be leased from


def lease_size(limit: int) -> int:
    """How many requests of a `limit` a process takes at once when the bucket has room."""
    return max(1, min(_LEASE_MOST, limit // _LEASE_SHARE))


class _Leases:
    """Requests this process took from PostgreSQL and has not handed out yet, per key, and how
    full each key's bucket was when this process last asked (which decides the next lease)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._left: dict[str, tuple[int, float]] = {}  # key -> (requests, taken at)
        self._roomy: set[str] = set()

    def spend(self, key: str) -> bool:
        """Hand out one leased request of `key`, if this process holds one still fresh."""
        with self._lock:
            left, taken_at = self._left.get(key, (0, 0.0))
            if left <= 0 or time.monotonic() - taken_at >= LEASE_SECONDS:
                self._left.pop(key, None)
                return False
            self._left[key] = (left - 1, taken_at)
            return True

    def size(self, key: str, limit: int) -> int:
        return lease_size(limit) if key in self._roomy else 1

    def taken(self, key: str, *, extra: int, fullness: float) -> None:
        """This process took `extra` requests beyond the one it spends now; the bucket is
        `fullness` full (of the period ahead of now)."""
        now = time.monotonic()
        with self._lock:
            if extra > 0:  # added to what another thread leased meanwhile, expiring with it
                left, taken_at = self._left.get(key, (0, now))
                fresh = now - taken_at < LEASE_SECONDS
                self._left[key] = (left + extra, taken_at) if fresh else (extra, now)
            if fullness <= _ROOMY:
                self._roomy.add(key)
            else:
                self._roomy.discard(key)

    def forget(self) -> None:
        with self._lock:
            self._left.clear()
            self._roomy.clear()


_leases = _Leases()


def forget_leases() -> None:
    """This process asks PostgreSQL again for every key (tests; leased requests are given up)."""
    _leases.forget()


def take(key: str, *, limit: int, period_seconds: float) -> Decision:
    """Spend one request of `key`'s bucket (`limit` per `period_seconds`), if there is one.

    The step is rounded down to a microsecond, so a burst never gets more than `limit` through
    (and `limit` times the step never overshoots the period)."""
    if _leases.spend(key):
        return Decision(allowed=True, retry_after=0)
    period = int(period_seconds * 1_000_000)
    step = period // limit
    cells = _leases.size(key, limit)
    refused, ahead_seconds = _first_statement(
        _TAKE, {"key": key, "step": step * cells, "period": period}
    )
    if refused and cells > 1:  # filled up since this process looked: ask for one, exactly
        cells = 1
        refused, ahead_seconds = _fetch_one(_TAKE, {"key": key, "step": step, "period": period})
    fullness = float(ahead_seconds) / period_seconds
    _leases.taken(key, extra=0 if refused else cells - 1, fullness=fullness)
    if not refused:
        return Decision(allowed=True, retry_after=0)
    # Allowed again once tat + step is within the period from now.
    wait = float(ahead_seconds) + step / 1_000_000 - period_seconds
    return Decision(allowed=False, retry_after=max(1, math.ceil(wait)))


def _first_statement(sql: str, params: dict) -> tuple:
    """The one row of `sql`, run as the request's connection health check (module docstring).

    Only a connection kept from an earlier request and not yet checked in this one is retried,
    and only when the statement found it broken (psycopg marks it closed): a retry never hides
    a database that is down (the new connection fails too: a 503) nor any other error. Inside
    a transaction nothing is taken over (a connection cannot be swapped under it)."""
    # django-stubs does not declare the health-check attributes (Django 4.1's) of a wrapper.
    wrapper: Any = connection
    checks = (
        wrapper.connection is not None
        and wrapper.health_check_enabled
        and not wrapper.health_check_done
        and not wrapper.in_atomic_block
    )
    if checks:
        wrapper.health_check_done = True  # this statement is the check
    try:
        return _fetch_one(sql, params)
    except DatabaseError:
        if not (checks and _broken()):
            raise
    connection.close()  # as the failed health check would have; the next cursor reconnects
    return _fetch_one(sql, params)


def _fetch_one(sql: str, params: dict) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _broken() -> bool:
    kept = connection.connection
    return kept is None or kept.closed
