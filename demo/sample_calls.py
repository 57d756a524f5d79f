"""`python -m demo.sample_calls`: the README's four sample calls as JSON lines, timed just now.

A success, an "already registered" 303, a validation failure with a `meta.message` object and a
gateway's 503 page, logged over the last three minutes (in IST, as an Indian shipper logs them),
so ingest takes them whatever the date (a fixed date would fall behind the retention horizon).
They share the account code `sample-store`, so on the dashboard they are the events of
`/events/?range=1h&account_code=sample-store`, and the last hour's bars of `/?range=1h`.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

ACCOUNT = "sample-store"
ORDER, OTHER_ORDER, WAYBILL = "ORD-SAMPLE-000001", "ORD-SAMPLE-000002", "SMPL000000001"
IST = ZoneInfo("Asia/Kolkata")
GATEWAY_503 = (
    "<html><head><title>503 Service Temporarily Unavailable</title></head><body><center>"
    "<h1>503 Service Temporarily Unavailable</h1></center></body></html>"
)


def sample_calls(*, now: datetime) -> list[dict[str, Any]]:
    """The four calls, the last one 30 seconds before `now` (aware)."""
    delhivery = {"cp_id": 4, "courier": "Delhivery", "account_code": ACCOUNT}
    calls: list[tuple[int, dict[str, Any]]] = [
        (
            180,
            {
                "endpoint": "order_create",
                "http_status": 200,
                **delhivery,
                "order_id": ORDER,
                "waybill": WAYBILL,
                "latency_ms": 212,
                "response": {
                    "meta": {"status": 200, "success": True, "message": "SUCCESS"},
                    "result": {"waybill": WAYBILL},
                },
            },
        ),
        (
            140,
            {
                "endpoint": "tracking_register",
                "http_status": 200,
                **delhivery,
                "order_id": ORDER,
                "waybill": WAYBILL,
                "latency_ms": 180,
                "response": {
                    "meta": {
                        "status": 303,
                        "success": False,
                        "message": "waybill already registered",
                    },
                    "result": {},
                },
            },
        ),
        (
            110,
            {
                "endpoint": "order_create",
                "http_status": 200,
                "cp_id": 5,
                "courier": "Blue Dart",
                "account_code": ACCOUNT,
                "order_id": OTHER_ORDER,
                "latency_ms": 95,
                "response": {
                    "meta": {
                        "status": 319,
                        "success": False,
                        "message": {
                            "non_field_errors": [
                                "Invalid Params: 'drop_pincode' must be a 6 digit pincode"
                            ]
                        },
                    },
                    "result": {},
                },
            },
        ),
        (
            30,
            {
                "endpoint": "tracking_status",
                "http_status": 503,
                **delhivery,
                "order_id": ORDER,
                "waybill": WAYBILL,
                "latency_ms": 30012,
                "message": GATEWAY_503,
            },
        ),
    ]
    logged_at = now.astimezone(IST).replace(microsecond=0)
    return [
        {
            "event_id": f"sample-{n}",
            "timestamp": (logged_at - timedelta(seconds=ago)).isoformat(),
            **fields,
        }
        for n, (ago, fields) in enumerate(calls, start=1)
    ]


def main() -> None:
    for call in sample_calls(now=datetime.now(UTC)):
        sys.stdout.write(json.dumps(call, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
