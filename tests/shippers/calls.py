"""Generated Clickpost calls for the real shippers, each with the tags SPEC's rules give it.

The expected tags are written out by hand from SPEC ("Tagging one event"), not computed by the
code under test. Times come in every form SPEC allows, so each shipper carries all of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

IST = timezone(timedelta(hours=5, minutes=30))
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# (fields of the call, (endpoint, code, category, is_error) per SPEC)
CASES: list[tuple[dict, tuple[str, int, str, bool]]] = [
    (
        {
            "endpoint": "/api/v3/create-order/",
            "http_status": 200,
            "response": {"meta": {"status": 200, "message": "Success"}},
        },  # noqa: E501
        ("order_create", 200, "success", False),
    ),
    (
        {
            "endpoint": "order_create",
            "http_status": 200,
            "response": {"meta": {"status": 323, "message": "You have already placed this order"}},
        },  # noqa: E501
        ("order_create", 323, "order_creation", True),
    ),
    (
        {
            "url": "https://api.clickpost.in/api/v2/tracking/awb-register/?key=s3cret",
            "status_code": 503,
        },  # noqa: E501
        ("tracking_register", 503, "server", True),
    ),
    (
        {"endpoint": "/api/v1/cancel-order/", "http_status": 200, "code": 202},
        ("order_cancel", 202, "order_cancellation", True),
    ),
    (
        {"endpoint": "serviceability", "http_status": 200, "code": 777},
        ("serviceability", 777, "unknown", True),
    ),
    (
        {"endpoint": "order_create", "http_status": 200, "code": 102},
        ("order_create", 102, "success", False),
    ),
    (
        {"api": "/api/v2/track-order/", "http_status": 429, "message": "Too Many Requests"},
        ("tracking_status", 429, "server", True),
    ),
    (
        {"endpoint": "pickup", "http_status": 200, "code": 324, "account_code": "acme-blr"},
        ("pickup", 324, "service", True),
    ),
]


@dataclass(frozen=True)
class Call:
    event: dict
    expected: tuple[str, int, str, bool]
    at: datetime

    @property
    def event_id(self) -> str:
        return self.event["event_id"]


def generate(run: str, count: int, *, now: datetime) -> list[Call]:
    """`count` calls over the last hour, ids `<run>-0000`..., cycling through CASES and through
    the time forms: RFC 3339 with Z, epoch milliseconds, epoch seconds as text, a space and an
    offset."""
    calls = []
    for n in range(count):
        fields, expected = CASES[n % len(CASES)]
        at = (now - timedelta(seconds=30 + 97 * n)).replace(microsecond=(n % 1000) * 1000)
        form = n % 4
        if form == 2:
            at = at.replace(microsecond=0)
        stamp = [
            at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            (at - EPOCH) // timedelta(milliseconds=1),
            str((at - EPOCH) // timedelta(seconds=1)),
            at.astimezone(IST).isoformat(sep=" ", timespec="milliseconds"),
        ][form]
        event = {
            "event_id": f"{run}-{n:04d}",
            "timestamp": stamp,
            **fields,
            "cp_id": 3 + n % 5,
            "courier": f"courier-{3 + n % 5}",
            "waybill": f"AWB{run}{n:04d}",
            "latency_ms": 120.5 + n,
        }
        calls.append(Call(event, expected, at))
    return calls


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path
