"""A generated data set for the read-side tests, with what each event must count as.

Two ISO weeks (2026-W43 and 2026-W44, plus a few hours either side) of a few thousand events,
dense on Europe/London's DST day (2026-10-25, 25 hours) and on quarter-hour and Indian
midnight edges. Each generated event carries its expected category and error flag from the
hand-written CASES table (not from the code under test), so the tests count with Counter over
these Python objects and compare with what the API answers.

The dates are fixed (a DST day, ISO weeks) and the clock is not: the data set is loaded, and
read, with the process's clock travelled to NOW (tests/clock.py; the `events` fixture does it),
where October 2026 is well inside the retention horizon whatever today's date.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from ingest import partitions, store
from ingest.pipeline import RawItem, ingest_items
from tests import clock

START = datetime(2026, 10, 18, 12, tzinfo=UTC)
END = datetime(2026, 11, 2, 12, tzinfo=UTC)
DST_DAY = datetime(2026, 10, 25, tzinfo=UTC)
# The clock's reading while the data set is loaded and read: five weeks after END.
NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)  # London: 01:00 UTC, clocks go back one hour
SIZE = 4000
COURIERS = {4: "Delhivery", 5: "Blue Dart", 3: "Ecom Express", 999: ""}  # 999: no name sent
ACCOUNTS = ["acme-mumbai", "acme-delhi", "freshcart", ""]
SLOW_MESSAGE = "Timeout contacting courier gateway"

# (endpoint as sent, endpoint stored, code, http_status, code field) -> (category, is_error)
# "code field": how the shipper sends the code: "code", "meta" (response.meta.status) or None.
CASES = [
    (("/api/v3/create-order/", "order_create", 200, 200, None), ("success", False)),
    (("order_create", "order_create", 102, 200, "meta"), ("success", False)),
    (("order_create", "order_create", 319, 200, "meta"), ("order_creation", True)),
    (("order_create", "order_create", 323, 200, "code"), ("order_creation", True)),
    (("tracking_register", "tracking_register", 303, 200, "meta"), ("service", True)),
    (("tracking_status", "tracking_status", 200, 200, None), ("success", False)),
    (("tracking_status", "tracking_status", 202, 202, None), ("success", False)),
    (("order_cancel", "order_cancel", 202, 200, "meta"), ("order_cancellation", True)),
    (("order_cancel", "order_cancel", 600, 200, "code"), ("order_cancellation", True)),
    (("serviceability", "serviceability", 503, 503, None), ("server", True)),
    (("serviceability", "serviceability", 200, 200, None), ("success", False)),
    (("label", "label", 354, 200, "meta"), ("service", True)),
    (("webhook_register", "webhook_register", 305, 200, "code"), ("webhook", True)),
    (("ndr", "ndr", 777, 200, "code"), ("unknown", True)),
    (("edd", "edd", 150, 200, "code"), ("unknown", False)),
    (("pickup", "pickup", 500, 500, "meta200"), ("server", True)),  # meta says 200: http wins
    (("custom_api", "custom_api", 422, 422, None), ("service", True)),
]
WEIGHTS = [30, 3, 6, 3, 5, 25, 2, 2, 2, 4, 8, 2, 1, 2, 2, 2, 1]


@dataclass(frozen=True)
class Gen:
    """One generated event and what it must count as."""

    event_id: str
    ts: datetime
    endpoint: str  # as stored
    sent_endpoint: str
    code: int
    http_status: int
    code_field: str | None
    category: str
    is_error: bool
    cp_id: int  # 0: none sent
    account: str
    waybill: str
    order_id: str
    message: str
    latency_ms: float

    def as_raw(self) -> dict:
        """The JSON object a shipper sends for this event."""
        raw = {
            "event_id": self.event_id,
            "timestamp": self.ts.isoformat().replace("+00:00", "Z"),
            "endpoint": self.sent_endpoint,
            "http_status": self.http_status,
            "latency_ms": self.latency_ms,
            "request": {"waybill": self.waybill, "api_key": "secret-key-123"},
        }
        if self.code_field == "code":
            raw["code"] = self.code
        elif self.code_field == "meta":
            raw["response"] = {"meta": {"status": self.code, "message": self.message}}
        elif self.code_field == "meta200":
            raw["response"] = {"meta": {"status": 200, "message": self.message}}
        if self.code_field not in ("meta", "meta200"):
            raw["message"] = self.message
        if self.cp_id:
            raw["cp_id"] = self.cp_id
            if COURIERS[self.cp_id]:
                raw["courier"] = COURIERS[self.cp_id]
        for key, value in (("account_code", self.account), ("waybill", self.waybill)):
            if value:
                raw[key] = value
        if self.order_id:
            raw["order_id"] = self.order_id
        return raw


def _edge_times(rng: random.Random) -> list[datetime]:
    """Moments on the edges that matter: quarter hours, London's DST hour, IST midnight."""
    tiny = timedelta(microseconds=1)
    times = [
        DST_DAY,
        DST_DAY + timedelta(hours=1) - tiny,
        DST_DAY + timedelta(hours=1),
        DST_DAY + timedelta(hours=2) - tiny,
        DST_DAY - tiny,
        DST_DAY + timedelta(days=1) - tiny,
        datetime(2026, 10, 25, 18, 30, tzinfo=UTC),  # IST midnight
        datetime(2026, 10, 25, 18, 30, tzinfo=UTC) - tiny,
        datetime(2026, 10, 18, 23, tzinfo=UTC),  # London: Monday 2026-10-19 00:00 BST (W43)
        datetime(2026, 10, 26, tzinfo=UTC),  # London: Monday W44 00:00 GMT
        datetime(2026, 10, 26, tzinfo=UTC) - tiny,
        datetime(2026, 11, 2, tzinfo=UTC) - tiny,
    ]
    for _ in range(400):  # quarter-hour edges, exactly and a microsecond before
        quarter = START + timedelta(
            minutes=15 * rng.randrange(int((END - START).total_seconds() // 900))
        )
        times.append(quarter if rng.random() < 0.5 else quarter - tiny)
    return times


def _random_time(rng: random.Random) -> datetime:
    if rng.random() < 0.15:  # a dense DST day
        return DST_DAY + timedelta(seconds=rng.uniform(0, 25 * 3600))
    return START + timedelta(seconds=rng.uniform(0, (END - START).total_seconds()))


def generate(*, seed: int = 47, size: int = SIZE) -> list[Gen]:
    """`size` events plus the edge moments, deterministic for a seed."""
    rng = random.Random(seed)
    moments = _edge_times(rng)
    moments += [_random_time(rng) for _ in range(size - len(moments))]
    events = []
    for index, ts in enumerate(moments):
        (sent, endpoint, code, http, field), (category, is_error) = rng.choices(CASES, WEIGHTS)[0]
        shipment = rng.randrange(300)
        events.append(
            Gen(
                event_id=f"gen-{seed}-{index}",
                ts=ts,
                endpoint=endpoint,
                sent_endpoint=sent,
                code=code,
                http_status=http,
                code_field=field,
                category=category,
                is_error=is_error,
                cp_id=rng.choice([*COURIERS, 0]),
                account=rng.choice(ACCOUNTS),
                waybill=f"AWB{shipment:05d}" if rng.random() < 0.9 else "",
                order_id=f"ORD-{shipment % 120}" if rng.random() < 0.8 else "",
                message=SLOW_MESSAGE if is_error and rng.random() < 0.2 else f"call {index}",
                latency_ms=round(rng.uniform(20, 2000), 1),
            )
        )
    return events


def load(events: list[Gen], *, batch: int = 1000) -> None:
    """Ingest through the pipeline (validated, tagged, deduplicated and rolled up)."""
    for first in range(0, len(events), batch):
        chunk = events[first : first + batch]
        outcome = ingest_items([RawItem(e.as_raw()) for e in chunk], token_id=None)
        assert (outcome.accepted, outcome.rejected) == (len(chunk), 0), outcome.errors[:3]


def clear() -> None:
    """Remove every event, rollup row, open failure and courier name (the data set is
    committed)."""
    store.delete_all_events()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE ingest_courier")


def loaded(django_db_blocker) -> list[Gen]:
    """Generate and load the data set outside the tests' transactions, with the clock at NOW;
    call clear() after."""
    events = generate()
    with django_db_blocker.unblock(), clock.travel(NOW):
        clear()
        # The days' partitions, as `migrate` makes them before the real now: one request may
        # start only a few new days (INGEST_MAX_NEW_PARTITIONS).
        partitions.ensure_partitions_ahead(days_ahead=0, days_back=(NOW - START).days + 1)
        load(events)
    return events


def drop_days_past_the_horizon() -> None:
    """Drop the raw-event partitions older than the real clock's retention horizon: the days
    this data set made with the clock travelled, once the real date has left them behind (as
    `prune_events` would), so no other test meets them."""
    horizon = timezone.now() - timedelta(days=settings.RETENTION_DAYS)
    partitions.drop_partitions_before(horizon.date())
