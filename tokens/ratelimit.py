"""Per-key rate limits in PostgreSQL: a token bucket read and updated by ONE statement.

GCRA (the "generic cell rate algorithm", a token bucket kept as one timestamp): a key may make
`limit` requests per `period`; each request moves the key's *theoretical arrival time* (tat)
`period / limit` later, and a request is allowed when that moved tat is at most `period` ahead
of now. A full bucket therefore allows exactly `limit` requests at once, then one every
`period / limit`. The decision and the update are the same `INSERT ... ON CONFLICT DO UPDATE`,
which takes the row lock: concurrent requests of one key (any worker, any thread) are
serialised on it, so none is lost and exactly `limit` of a burst get through. One round trip.

The statement is also the request's connection health check. Django tests a connection kept
from an earlier request (CONN_HEALTH_CHECKS) with a `SELECT 1` before its first statement, a
round trip of its own on every request; the throttle is the first statement of a token's
request, so it checks instead (`_first_statement`): a kept connection found broken by it is
closed and the statement run once more on a new one, as the `SELECT 1` would have reconnected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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


def take(key: str, *, limit: int, period_seconds: float) -> Decision:
    """Spend one request of `key`'s bucket (`limit` per `period_seconds`), if there is one.

    The step is rounded down to a microsecond, so a burst never gets more than `limit` through
    (and `limit` times the step never overshoots the period)."""
    period = int(period_seconds * 1_000_000)
    step = period // limit
    refused, ahead_seconds = _first_statement(_TAKE, {"key": key, "step": step, "period": period})
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
    checks = (
        connection.connection is not None
        and connection.health_check_enabled
        and not connection.health_check_done
        and not connection.in_atomic_block
    )
    if checks:
        connection.health_check_done = True  # this statement is the check
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
