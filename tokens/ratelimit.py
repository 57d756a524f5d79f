"""Per-key rate limits in PostgreSQL: a token bucket read and updated by ONE statement.

GCRA (the "generic cell rate algorithm", a token bucket kept as one timestamp): a key may make
`limit` requests per `period`; each request moves the key's *theoretical arrival time* (tat)
`period / limit` later, and a request is allowed when that moved tat is at most `period` ahead
of now. A full bucket therefore allows exactly `limit` requests at once, then one every
`period / limit`. The decision and the update are the same `INSERT ... ON CONFLICT DO UPDATE`,
which takes the row lock: concurrent requests of one key (any worker, any thread) are
serialised on it, so none is lost and exactly `limit` of a burst get through. One round trip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.db import connection

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
    with connection.cursor() as cursor:
        cursor.execute(_TAKE, {"key": key, "step": step, "period": period})
        refused, ahead_seconds = cursor.fetchone()
    if not refused:
        return Decision(allowed=True, retry_after=0)
    # Allowed again once tat + step is within the period from now.
    wait = float(ahead_seconds) + step / 1_000_000 - period_seconds
    return Decision(allowed=False, retry_after=max(1, math.ceil(wait)))
