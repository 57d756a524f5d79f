"""Realistic demo traffic: raw records shaped like what shippers send, with incidents.

Pure generation (no database); `generate_demo_data` feeds the records through the ingest
pipeline, so demo data is validated, tagged, deduplicated and rolled up like real traffic.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

COURIERS = {
    4: "Delhivery",
    5: "Blue Dart",
    3: "Ecom Express",
    6: "Xpressbees",
    14: "Shadowfax",
    9: "DTDC",
    11: "Ekart",
    12: "India Post",
    7: "Aramex",
    1: "FedEx",
    2: "DHL Express",
    15: "Gati",
    130: "Smartr",
    228: "Amazon Shipping",
    26: "Professional Couriers",
    27: "Trackon",
}
ACCOUNTS = [
    "acme-mumbai",
    "acme-delhi",
    "acme-b2b",
    "urbanwear-wh1",
    "urbanwear-wh2",
    "freshcart",
    "bookhive",
    "homestyle",
    "gizmo-direct",
    "petpals",
    "medikit",
    "sportsline",
]
# endpoint -> (share of traffic, URL path the client calls, error codes seen there)
ENDPOINTS = {
    "order_create": (0.22, "/api/v3/create-order/", [319, 322, 323, 307, 309, 312, 314, 315, 321]),
    "tracking_register": (0.18, "/api/v2/tracking/awb-register/", [303, 326, 330, 304, 302]),
    "tracking_status": (0.2, "/api/v2/track-order/", [330, 326, 404]),
    "serviceability": (0.1, "/api/v3/serviceability_api/", [328, 302, 422]),
    "edd": (0.06, "/api/v2/predicted_sla_api/", [328, 422]),
    "recommendation": (0.05, "/api/v1/recommendation_api/", [328, 320]),
    "order_cancel": (0.05, "/api/v1/cancel-order/", [202, 350, 600]),
    "label": (0.04, "/api/v1/fetch/shippinglabel/", [330, 354]),
    "ndr": (0.03, "/api/v2/ndr-update-api", [325, 330]),
    "pickup": (0.03, "/api/v2/create-pickup/", [319, 354]),
    "order_edit": (0.02, "/api/v1/edit-order/", [330, 314]),
    "tracking_unregister": (0.01, "/api/v1/tracking/awb-unregister/", [330]),
    "webhook_register": (0.01, "/api/v1/tracking/register-webhook/", [305, 327]),
}
COMMON_ERRORS = [500, 503, 504, 429, 401, 301, 316, 324, 351, 352, 353, 355, 306, 400, 403]
UNKNOWN_CODES = [341, 999]
HOSTS = ["https://www.clickpost.in", "https://api.clickpost.ai"]


@dataclass(frozen=True)
class Incident:
    """A window in which one courier or account fails with one family of codes."""

    start: datetime
    hours: float
    codes: tuple[int, ...]
    rate: float
    cp_id: int | None = None
    account: str | None = None
    endpoint: str | None = None

    def applies(self, at: datetime, cp_id: int, account: str, endpoint: str) -> bool:
        if not (self.start <= at < self.start + timedelta(hours=self.hours)):
            return False
        return (
            (self.cp_id is None or self.cp_id == cp_id)
            and (self.account is None or self.account == account)
            and (self.endpoint is None or self.endpoint == endpoint)
        )


def incidents(now: datetime, days: int) -> list[Incident]:
    """SPEC's three incidents, placed inside the generated window."""
    day = timedelta(days=1)
    at = now - min(days, 3) * day + timedelta(hours=2)
    return [
        # a courier's 5xx spike
        Incident(at, 2.5, (503, 504, 500), 0.45, cp_id=3),
        # a burst of 323 duplicates: one account re-sends its order creations
        Incident(
            now - min(days, 2) * day + timedelta(hours=5),
            1.0,
            (323,),
            0.6,
            account="urbanwear-wh1",
            endpoint="order_create",
        ),
        # invalid courier credentials for one account
        Incident(
            now - min(days, 1) * day + timedelta(hours=1), 10, (324,), 0.7, account="freshcart"
        ),
    ]


def diurnal_weight(at: datetime) -> float:
    """Busy in Indian business hours (peaks near 11:00 and 18:00 IST), quiet at night."""
    hour = at.hour + at.minute / 60

    def near(peak_utc: float, width: float) -> float:
        distance = abs(hour - peak_utc)
        return math.exp(-(min(distance, 24 - distance) ** 2) / width)

    return 0.2 + near(5.5, 10) + 0.6 * near(12.5, 6)


class DemoTraffic:
    def __init__(self, *, now: datetime, days: int, per_day: int, seed: int = 7):
        self.now, self.days, self.per_day = now, days, per_day
        self.rng = random.Random(seed)
        self.incidents = incidents(now, days)
        self.endpoint_names = list(ENDPOINTS)
        self.endpoint_weights = [ENDPOINTS[e][0] for e in self.endpoint_names]
        self.courier_ids = list(COURIERS)
        self.courier_weights = [1 / (i + 1.5) for i in range(len(self.courier_ids))]

    def records(self) -> Iterator[dict]:
        """Records in time order, `per_day` a day on average, ending a minute before now."""
        start = self.now - timedelta(days=self.days)
        minutes = self.days * 24 * 60
        per_minute = self.per_day / (24 * 60)
        for minute in range(minutes - 1):
            at = start + timedelta(minutes=minute)
            expected = per_minute * diurnal_weight(at) / 0.75
            for _ in range(self._poisson(expected)):
                yield self.record(at + timedelta(seconds=self.rng.random() * 60))

    def _poisson(self, mean: float) -> int:
        # Knuth's method is fine for the small means of one minute of traffic.
        limit, count, product = math.exp(-mean), 0, self.rng.random()
        while product > limit:
            count += 1
            product *= self.rng.random()
        return count

    def record(self, at: datetime) -> dict:
        rng = self.rng
        endpoint = rng.choices(self.endpoint_names, self.endpoint_weights)[0]
        cp_id = rng.choices(self.courier_ids, self.courier_weights)[0]
        account = rng.choice(ACCOUNTS)
        http_status, code = self._outcome(at, endpoint, cp_id, account)
        waybill = f"{cp_id:03d}{rng.randrange(10**9):09d}"
        order_id = f"ORD-{account[:4].upper()}-{rng.randrange(10**6):06d}"
        return {
            "timestamp": at.isoformat(timespec="milliseconds"),
            "url": f"{rng.choice(HOSTS)}{ENDPOINTS[endpoint][1]}?username={account}&key=demo-key",
            "http_status": http_status,
            "response": {"meta": {"status": code, "message": _message(code)}, "result": {}},
            "request": {"waybill": waybill, "reference_number": order_id, "cp_id": cp_id},
            "cp_id": cp_id,
            "courier": COURIERS[cp_id],
            "waybill": waybill,
            "order_id": order_id,
            "account_code": account,
            "latency_ms": round(rng.lognormvariate(5.3, 0.5) * (4 if code >= 500 else 1), 1),
        }

    def _outcome(self, at: datetime, endpoint: str, cp_id: int, account: str) -> tuple[int, int]:
        rng = self.rng
        for incident in self.incidents:
            if incident.applies(at, cp_id, account, endpoint) and rng.random() < incident.rate:
                code = rng.choice(incident.codes)
                return (code if code >= 400 else 200), code
        roll = rng.random()
        if roll < 0.9:
            code = 102 if endpoint == "order_create" and rng.random() < 0.05 else 200
            return 200, code
        if roll < 0.955:
            code = rng.choice(ENDPOINTS[endpoint][2])
        elif roll < 0.998:
            code = rng.choice(COMMON_ERRORS)
        else:
            code = rng.choice(UNKNOWN_CODES)
        # Clickpost answers most service errors with HTTP 200 and the code in meta.status.
        return (code if 400 <= code < 600 else 200), code


def _message(code: int) -> str:
    if code in (200, 102):
        return "Success"
    return f"Request failed with code {code}"
