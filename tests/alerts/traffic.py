"""Test traffic for the alert tests, sent through the real ingest pipeline.

`calls(...)` makes one courier's calls for a run of minutes, a given number of them failing
with HTTP 503 (category `server`); what each minute counts is known to the test without asking
the code under test.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from ingest.pipeline import RawItem, ingest_items

_serial = itertools.count()


def minute(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def calls(
    *,
    start: datetime,
    minutes: int,
    per_minute: int,
    failing: int = 0,
    cp_id: int = 7,
    courier: str = "Delhivery",
    code: int | None = None,
    account_code: str = "acme",
) -> list[dict]:
    """`per_minute` calls in each of `minutes` minutes from `start`, `failing` of them failing
    (HTTP 503, or `code` with HTTP 200 when given); spread over each minute's seconds."""
    events = []
    for m in range(minutes):
        for n in range(per_minute):
            at = start + timedelta(minutes=m, seconds=n * 60 / per_minute)
            fail = n < failing
            event = {
                "event_id": f"alert-test-{next(_serial)}",
                "timestamp": at.isoformat(),
                "endpoint": "order_create",
                "cp_id": cp_id,
                "courier": courier,
                "account_code": account_code,
                "http_status": 503 if fail and code is None else 200,
            }
            if fail and code is not None:
                event["code"] = code
            events.append(event)
    return events


def ingest(events: list[dict]) -> None:
    for first in range(0, len(events), 2000):
        chunk = events[first : first + 2000]
        outcome = ingest_items([RawItem(e) for e in chunk], token_id=None)
        assert (outcome.accepted, outcome.rejected) == (len(chunk), 0), outcome.errors[:3]
