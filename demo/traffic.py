"""Realistic demo traffic: raw records shaped like what shippers send, with incidents.

Pure generation (no database); `generate_demo_data` feeds the records through the ingest
pipeline, so demo data is validated, tagged, deduplicated and rolled up like real traffic.

The traffic is shipments, not independent calls: an order is checked (serviceability, EDD),
created, registered for tracking, labelled, picked up, tracked over days and sometimes cancelled
or sent to NDR, always with one courier, one account, one order id and one waybill. Failures
read like Clickpost's: the catalog's meaning, `meta.message` objects such as
`{"non_field_errors": [...]}`, and HTML pages from a gateway for 502/503/504.

The incidents are placed relative to the moment of generation (`incidents`), in Indian business
hours and sized to stand out on every range from one hour to seven days; one of them is under
way at that moment and goes on after it.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from ingest.catalog import SEED_BY_CODE, is_already_done

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
# Latency: lognormal around a median per endpoint (ms), times a factor per courier (Clickpost
# waits on the courier's own API); 5xx answers take 4 times longer (gateway timeouts).
LATENCY_MEDIAN_MS = {
    "order_create": 900,
    "tracking_register": 450,
    "tracking_status": 250,
    "serviceability": 300,
    "edd": 200,
    "recommendation": 350,
    "order_cancel": 600,
    "label": 1200,
    "ndr": 500,
    "pickup": 800,
    "order_edit": 700,
    "tracking_unregister": 300,
    "webhook_register": 400,
}
COURIER_SPEED = {
    4: 1.0,
    5: 1.15,
    3: 0.9,
    6: 1.05,
    14: 0.95,
    9: 1.3,
    11: 0.85,
    12: 1.6,
    7: 1.1,
    1: 0.8,
    2: 0.9,
    15: 1.25,
    130: 1.4,
    228: 0.85,
    26: 1.5,
    27: 1.35,
}
LATENCY_SIGMA = 0.5
COMMON_ERRORS = [500, 503, 504, 429, 401, 301, 316, 324, 351, 352, 353, 355, 306, 400, 403]
UNKNOWN_CODES = [341, 999]
HOSTS = ["https://www.clickpost.in", "https://api.clickpost.ai"]


@dataclass(frozen=True)
class Incident:
    """A window in which one courier or account fails with one family of codes, or only gets
    slow (no codes: `latency_factor` multiplies its calls' latency, and no call fails).

    `extra_per_hour` adds calls during the window (an account re-sending its orders); without
    it the incident changes outcomes only, at the traffic's normal volume.
    """

    name: str
    start: datetime
    hours: float
    codes: tuple[int, ...]
    rate: float
    cp_id: int | None = None
    account: str | None = None
    endpoint: str | None = None
    extra_per_hour: float = 0.0
    latency_factor: float = 1.0

    @property
    def end(self) -> datetime:
        return self.start + timedelta(hours=self.hours)

    def applies(self, at: datetime, cp_id: int, account: str, endpoint: str) -> bool:
        if not (self.start <= at < self.end):
            return False
        return (
            (self.cp_id is None or self.cp_id == cp_id)
            and (self.account is None or self.account == account)
            and (self.endpoint is None or self.endpoint == endpoint)
        )


BUSY_UTC = (4.5, 12.5)  # 10:00 to 18:00 IST, the busiest hours of Indian e-commerce


def busy_start(before: datetime, *, hours: float) -> datetime:
    """The latest quarter hour at or before `before` from which `hours` fit in busy hours."""
    moment = before.replace(minute=before.minute - before.minute % 15, second=0, microsecond=0)
    for _ in range(4 * 24 * 2):
        start_h = moment.hour + moment.minute / 60
        if BUSY_UTC[0] <= start_h and start_h + hours <= BUSY_UTC[1]:
            return moment
        moment -= timedelta(minutes=15)
    return moment


def incidents(now: datetime, days: int) -> list[Incident]:
    """SPEC's three incidents and a small courier's outage, placed relative to `now`:

    - now: Delhivery's gateway fails (5xx) since 50 minutes ago and goes on for hours, at normal
      volume (so an alert evaluator finds it firing right after generation);
    - within the last 24 hours: one account re-sends an hour of order creations (323);
    - one to two days ago: an account's courier credentials are invalid for 8 hours (324);
    - three to six days ago: Smartr, a small courier, is down for 4 hours (503), which only an
      error rate (not a count) shows;
    - within the last day: Blue Dart answers 20 times slower for 3 hours (~5 s instead of
      ~300 ms) and never fails: only latency shows it.
    Each past one starts in busy hours; each is kept inside the generated window.
    """
    earliest = now - timedelta(days=days) + timedelta(minutes=30)

    def inside(start: datetime) -> datetime:
        return max(start, earliest)

    return [
        Incident(
            "gateway-5xx-now", now - timedelta(minutes=50), 4.0, (503, 504, 500), 0.75, cp_id=4
        ),
        Incident(
            "duplicate-orders",
            inside(busy_start(now - timedelta(hours=4), hours=1)),
            1.0,
            (323,),
            0.95,
            account="urbanwear-wh1",
            endpoint="order_create",
            extra_per_hour=0.06,  # of a day's calls
        ),
        Incident(
            "invalid-credentials",
            inside(busy_start(now - timedelta(hours=26), hours=8)),
            8.0,
            (324,),
            0.9,
            account="freshcart",
        ),
        Incident(
            "small-courier-down",
            inside(busy_start(now - timedelta(days=min(days, 4)) + timedelta(hours=12), hours=4)),
            4.0,
            (503,),
            0.9,
            cp_id=130,
        ),
        Incident(
            "slow-courier",
            inside(busy_start(now - timedelta(hours=9), hours=3)),
            3.0,
            (),
            0.0,
            cp_id=5,
            latency_factor=20.0,
        ),
    ]


def diurnal_weight(at: datetime) -> float:
    """Busy in Indian business hours (peaks near 11:00 and 18:00 IST), quiet at night."""
    hour = at.hour + at.minute / 60

    def near(peak_utc: float, width: float) -> float:
        distance = abs(hour - peak_utc)
        return math.exp(-(min(distance, 24 - distance) ** 2) / width)

    return 0.35 + near(5.5, 10) + 0.6 * near(12.5, 6)


_MEAN_WEIGHT = 0.69  # diurnal_weight's mean over a day


# A shipment's life: (endpoint, probability, hours after creation (low, high), how many).
LIFE: tuple[tuple[str, float, tuple[float, float], tuple[int, int]], ...] = (
    ("serviceability", 0.9, (-0.3, -0.01), (1, 1)),
    ("edd", 0.55, (-0.3, -0.01), (1, 1)),
    ("recommendation", 0.45, (-0.3, -0.01), (1, 1)),
    ("order_create", 1.0, (0.0, 0.0), (1, 1)),
    ("tracking_register", 0.95, (0.01, 0.1), (1, 1)),
    ("label", 0.6, (0.05, 1.0), (1, 1)),
    ("pickup", 0.45, (1.0, 8.0), (1, 1)),
    ("order_edit", 0.15, (0.2, 6.0), (1, 1)),
    ("tracking_status", 1.0, (4.0, 96.0), (1, 4)),
    ("ndr", 0.2, (30.0, 72.0), (1, 1)),
    ("order_cancel", 0.3, (0.5, 30.0), (1, 1)),
    ("tracking_unregister", 0.1, (96.0, 110.0), (1, 1)),
)
PRE_CREATE_HOURS = 0.3  # the earliest call of a life comes this long before its creation
LIFE_HOURS = 110.0  # the longest life: shipments made this long before the window still call
CALLS_PER_SHIPMENT = sum(p * (lo + hi) / 2 for _, p, _, (lo, hi) in LIFE)
WEBHOOK_SHARE = 0.01  # of calls: webhook registrations belong to an account, not a shipment
# A shipper retries a failed call of a shipment (minutes to an hour later) until it goes
# through, except a few it gives up on: the open failures page shows those (a few dozen of all
# ages) and the recent failures whose retry has not come yet.
ABANDONED = 0.002
RETRY_MINUTES = (2.0, 60.0)


@dataclass(frozen=True)
class Shipment:
    seq: int
    created: datetime
    cp_id: int
    account: str

    @property
    def order_id(self) -> str:
        return f"ORD-{self.account[:4].upper()}-{self.seq:06d}"

    @property
    def waybill(self) -> str:
        # 7919 is prime to 10**9: a distinct waybill for every shipment number.
        return f"{self.cp_id:03d}{(self.seq * 7919 + 100_003) % 10**9:09d}"


class DemoTraffic:
    def __init__(
        self, *, now: datetime, days: int, per_day: int, seed: int = 7, first_seq: int = 0
    ):
        """`first_seq`: where shipment numbers (order ids, waybills) start, so that traffic
        generated later (demo.trickle) does not reuse the ids of the traffic before it."""
        self.now, self.days, self.per_day = now, days, per_day
        self.rng = random.Random(seed)
        self.incidents = incidents(now, days)
        self.endpoint_names = list(ENDPOINTS)
        self.endpoint_weights = [ENDPOINTS[e][0] for e in self.endpoint_names]
        self.courier_ids = list(COURIERS)
        self.courier_weights = [1 / (i + 1.5) for i in range(len(self.courier_ids))]
        self._seq = first_seq
        self._recent: dict[str, deque[Shipment]] = defaultdict(lambda: deque(maxlen=300))
        self._failed = False  # whether the last call made failed (a shipper would retry it)

    # ------------------------------------------------------------ shipments

    def records(self) -> Iterator[dict]:
        """Records in time order, `per_day` a day on average, ending a minute before now.

        Shipments are created (Poisson per minute, diurnal) from LIFE_HOURS before the window,
        and each one's calls wait in a heap until their time comes; only calls inside the
        window are yielded. Memory holds the shipments still alive (a few days' worth).
        """
        start = self.now - timedelta(days=self.days)
        end = self.now - timedelta(minutes=1)
        first = start - timedelta(hours=LIFE_HOURS)
        per_minute = self.per_day * (1 - WEBHOOK_SHARE) / CALLS_PER_SHIPMENT / (24 * 60)
        pending: list[tuple[datetime, int, str, Shipment | None]] = []
        order = 0
        minutes = int((end - first).total_seconds() // 60)
        for minute in range(minutes + 1):
            at = first + timedelta(minutes=minute)
            weight = diurnal_weight(at) / _MEAN_WEIGHT
            for _ in range(self._poisson(per_minute * weight)):
                for when, endpoint, shipment in self._life(at):
                    order += 1
                    heapq.heappush(pending, (when, order, endpoint, shipment))
            if at >= start:
                for when, endpoint in self._account_calls(at, weight):
                    order += 1
                    heapq.heappush(pending, (when, order, endpoint, None))
            while pending and pending[0][0] < at + timedelta(minutes=1):
                when, _, endpoint, owner = heapq.heappop(pending)
                if start <= when < end:
                    yield self._call(when, endpoint, owner)
                    if self._failed and owner is not None and self._retried():
                        order += 1
                        retry = when + timedelta(minutes=self.rng.uniform(*RETRY_MINUTES))
                        heapq.heappush(pending, (retry, order, endpoint, owner))

    def _life(self, at: datetime) -> Iterator[tuple[datetime, str, Shipment]]:
        rng = self.rng
        self._seq += 1
        cp_id = rng.choices(self.courier_ids, self.courier_weights)[0]
        # Created after its first checks (serviceability, EDD): every call is at or after `at`,
        # so the heap yields the calls in time order.
        created = at + timedelta(hours=PRE_CREATE_HOURS, seconds=rng.random() * 60)
        shipment = Shipment(self._seq, created, cp_id, rng.choice(ACCOUNTS))
        self._recent[shipment.account].append(shipment)
        for endpoint, chance, (low, high), (fewest, most) in LIFE:
            if rng.random() >= chance:
                continue
            for _ in range(rng.randint(fewest, most)):
                offset = timedelta(hours=rng.uniform(low, high))
                yield shipment.created + offset, endpoint, shipment

    def _account_calls(self, at: datetime, weight: float) -> Iterator[tuple[datetime, str]]:
        """Calls that belong to no shipment: webhook registrations, and an incident's re-sent
        order creations."""
        per_minute = self.per_day / (24 * 60)
        for _ in range(self._poisson(per_minute * WEBHOOK_SHARE * weight)):
            yield at + timedelta(seconds=self.rng.random() * 60), "webhook_register"
        for incident in self.incidents:
            if incident.extra_per_hour and incident.start <= at < incident.end:
                mean = self.per_day * incident.extra_per_hour / 60
                for _ in range(self._poisson(mean)):
                    yield at + timedelta(seconds=self.rng.random() * 60), "resend"

    def _retried(self) -> bool:
        return self.rng.random() >= ABANDONED

    def _poisson(self, mean: float) -> int:
        # Knuth's method for small means; a normal approximation beyond (a busy minute).
        if mean > 30:
            return max(0, round(self.rng.gauss(mean, math.sqrt(mean))))
        limit, count, product = math.exp(-mean), 0, self.rng.random()
        while product > limit:
            count += 1
            product *= self.rng.random()
        return count

    def _call(self, at: datetime, endpoint: str, shipment: Shipment | None) -> dict:
        if endpoint == "resend":
            return self._resend(at)
        if shipment is None:
            self._seq += 1
            shipment = Shipment(
                self._seq,
                at,
                self.rng.choices(self.courier_ids, self.courier_weights)[0],
                self.rng.choice(ACCOUNTS),
            )
            return self._record(at, endpoint, shipment, with_ids=False)  # a webhook registration
        return self._record(at, endpoint, shipment, with_ids=at >= shipment.created)

    def _resend(self, at: datetime) -> dict:
        """An order creation re-sent by the duplicate-orders incident's account."""
        incident = next(i for i in self.incidents if i.extra_per_hour)
        account = incident.account or ACCOUNTS[0]
        recent = self._recent[account]
        shipment = (
            self.rng.choice(recent)
            if recent
            else Shipment(self._seq, at, self.courier_ids[0], account)
        )
        return self._record(at, incident.endpoint or "order_create", shipment, with_ids=True)

    # ------------------------------------------------------------ one call

    def record(self, at: datetime) -> dict:
        """One call of a new shipment at `at` (an endpoint drawn by its share of traffic)."""
        endpoint = self.rng.choices(self.endpoint_names, self.endpoint_weights)[0]
        self._seq += 1
        cp_id = self.rng.choices(self.courier_ids, self.courier_weights)[0]
        shipment = Shipment(self._seq, at, cp_id, self.rng.choice(ACCOUNTS))
        return self._record(at, endpoint, shipment, with_ids=True)

    def _record(self, at: datetime, endpoint: str, shipment: Shipment, *, with_ids: bool) -> dict:
        rng = self.rng
        cp_id, account = shipment.cp_id, shipment.account
        http_status, code = self._outcome(at, endpoint, cp_id, account)
        info = SEED_BY_CODE.get(code)
        self._failed = info is None or (info.is_error and not is_already_done(info.action))
        waybill = shipment.waybill if with_ids else ""
        order_id = shipment.order_id if endpoint != "webhook_register" else ""
        response, message = clickpost_response(code, http_status, waybill=waybill)
        record = {
            "timestamp": at.isoformat(timespec="milliseconds"),
            "url": f"{rng.choice(HOSTS)}{ENDPOINTS[endpoint][1]}?username={account}&key=demo-key",
            "http_status": http_status,
            "response": response,
            "request": {"waybill": waybill, "reference_number": order_id, "cp_id": cp_id},
            "cp_id": cp_id,
            "courier": COURIERS[cp_id],
            "waybill": waybill,
            "order_id": order_id,
            "account_code": account,
            "latency_ms": self._latency(at, endpoint, cp_id, account, code),
        }
        if message:
            record["message"] = message
        return record

    def _latency(self, at: datetime, endpoint: str, cp_id: int, account: str, code: int) -> float:
        """Lognormal around the endpoint's median times the courier's factor (and a slow
        incident's), 4 times longer for a 5xx."""
        median = LATENCY_MEDIAN_MS.get(endpoint, 400) * COURIER_SPEED.get(cp_id, 1.0)
        for incident in self.incidents:
            if incident.latency_factor != 1.0 and incident.applies(at, cp_id, account, endpoint):
                median *= incident.latency_factor
        drawn = self.rng.lognormvariate(math.log(median), LATENCY_SIGMA)
        return round(drawn * (4 if code >= 500 else 1), 1)

    def _outcome(self, at: datetime, endpoint: str, cp_id: int, account: str) -> tuple[int, int]:
        rng = self.rng
        for incident in self.incidents:
            if not incident.codes:
                continue  # a slow incident: outcomes as usual
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


# ---------------------------------------------------------------- what Clickpost answers

# The catalog's meanings (ingest.catalog.SEED holds them all); a demo module keeps its own copy
# of the few it words differently, so generated data never depends on the database.
_MEANINGS = {
    301: "Invalid API key or username",
    302: "Courier partner not found for this account",
    303: "waybill already registered",
    304: "Already Registered For Service",
    305: "Webhook URL is not valid",
    306: "Too many requests for this waybill",
    307: "Pickup pincode is not serviceable",
    309: "Drop pincode is not serviceable",
    312: "Invalid invoice value",
    314: "Order is already manifested",
    315: "Invalid item details",
    316: "Internal error at courier partner",
    319: "Invalid Params",
    320: "This service is not subscribed by you",
    321: "Weight exceeds the courier's limit",
    322: "Invalid pickup address",
    323: "You have already placed this order",
    324: "You Are Using Invalid Credential For Courier Partner, Please Update",
    325: "The status you are trying to update is invalid",
    326: "Invalid Tracking Id",
    327: "Webhook already registered",
    328: "Invalid POST data",
    330: "waybill does not exist",
    350: "Order cannot be cancelled: already shipped",
    351: "Courier partner timed out",
    352: "Courier partner returned an invalid response",
    353: "Courier partner is under maintenance",
    354: "Label not generated yet",
    355: "Courier partner rejected the request",
    600: "Order already canceled",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
}
# Validation failures come back as DRF-style objects in meta.message.
_FIELD_ERRORS = {
    319: {"non_field_errors": ["Invalid Params: 'drop_pincode' must be a 6 digit pincode"]},
    328: {"pickup_info": {"pincode": ["This field is required."]}},
    315: {"items": [{"price": ["A valid number is required."]}]},
    312: {"invoice_value": ["Ensure this value is greater than 0."]},
    422: {"non_field_errors": ["Unprocessable: weight must be in grams"]},
}
_GATEWAY = {502: "Bad Gateway", 503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}


def gateway_page(status: int) -> str:
    """The HTML a load balancer answers with when Clickpost's app servers are down."""
    title = f"{status} {_GATEWAY[status]}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>"
    )


def clickpost_response(code: int, http_status: int, *, waybill: str) -> tuple[object, str]:
    """(response body, message) for an outcome; the message is empty when the body says it
    (meta.message), and is the gateway's page when there is no JSON at all."""
    if code in _GATEWAY:
        return gateway_page(code), gateway_page(code)
    if code in (200, 102):
        result = {"waybill": waybill, "label": ""} if waybill else {}
        return {
            "meta": {"status": code, "success": True, "message": "SUCCESS"},
            "result": result,
        }, ""
    message = _FIELD_ERRORS.get(code) or _MEANINGS.get(code) or f"Unexpected error (code {code})"
    return {"meta": {"status": code, "success": False, "message": message}, "result": {}}, ""


def _message(code: int) -> str:
    """The text a failure of `code` reads as (the bench's load generator uses it too)."""
    if code in (200, 102):
        return "SUCCESS"
    if code in _GATEWAY:
        return gateway_page(code)
    text = _FIELD_ERRORS.get(code) or _MEANINGS.get(code) or f"Unexpected error (code {code})"
    return text if isinstance(text, str) else str(text)
