"""The code catalog and tag(): the one place a Clickpost code becomes a category.

The seed below is Clickpost's published table (shared/error-codes.txt) plus 200 and 102; a data
migration loads it into `CodeEntry`, where operators edit it in the admin. Tagging reads the
database copy through `current_catalog()`, so an edit takes effect without a deploy.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

SUCCESS = "success"
SERVER = "server"
SERVICE = "service"
ORDER_CREATION = "order_creation"
WEBHOOK = "webhook"
ORDER_CANCELLATION = "order_cancellation"
UNKNOWN = "unknown"
CATEGORIES = (SUCCESS, SERVER, SERVICE, ORDER_CREATION, WEBHOOK, ORDER_CANCELLATION, UNKNOWN)

CANCEL_ENDPOINT = "order_cancel"
# On the cancellation endpoint these are cancellation outcomes, 202 included (SPEC rule 2).
CANCELLATION_CODES = frozenset({202, 350, 600})

RETRY = "Transient: retry with exponential backoff."
FIX_PAYLOAD = "Fix the request payload; retrying the same request will fail again."
FIX_API_KEY = "Check the Clickpost API key and username sent with the request."
FIX_COURIER_CREDS = "Fix the courier partner credentials in the Clickpost dashboard."
# Outcomes whose action is "already done" are benign: errors by SPEC's definition, but the
# overview shows them apart. `CodeEntry.benign` is seeded from the action (is_already_done), and
# stats.benign.benign_codes() reads that column: the one source of the benign set.
ALREADY_DONE = "Already done: safe to ignore."
CONTACT_CLICKPOST = "Contact Clickpost support with the waybill and request."
FIX_ACCOUNT = "Check the account/subscription setup in the Clickpost dashboard."


@dataclass(frozen=True, slots=True)
class CodeInfo:
    code: int
    category: str
    meaning: str
    is_error: bool
    retryable: bool
    action: str


@dataclass(frozen=True, slots=True)
class Tag:
    category: str
    is_error: bool


def is_already_done(action: str) -> bool:
    """Whether a catalog action marks its code benign (how `CodeEntry.benign` is seeded)."""
    return action.strip() == ALREADY_DONE


def _entry(code, category, meaning, action, *, retryable=False):
    return CodeInfo(code, category, meaning, category != SUCCESS, retryable, action)


SEED: tuple[CodeInfo, ...] = (
    _entry(200, SUCCESS, "Success", "None needed."),
    _entry(102, SUCCESS, "Asynchronous order creation in progress", "None needed: poll later."),
    # Server response codes
    _entry(400, SERVER, "Bad Request", FIX_PAYLOAD),
    _entry(401, SERVER, "Unauthorized", FIX_API_KEY),
    _entry(403, SERVER, "Forbidden", FIX_API_KEY),
    _entry(404, SERVER, "Not Found", "Check the endpoint URL and API version."),
    _entry(405, SERVER, "Method Not Allowed", "Check the HTTP method for this endpoint."),
    _entry(406, SERVER, "Not Acceptable", "Check the Accept and Content-Type headers."),
    _entry(429, SERVER, "Too Many Requests", RETRY + " Lower the request rate.", retryable=True),
    _entry(500, SERVER, "Internal Server Error", RETRY, retryable=True),
    _entry(503, SERVER, "Service Unavailable", RETRY, retryable=True),
    _entry(504, SERVER, "Server unable to serve the request, please retry", RETRY, retryable=True),
    # Clickpost service codes
    _entry(301, SERVICE, "Authentication Failed: Invalid Token or API Key", FIX_API_KEY),
    _entry(302, SERVICE, "Invalid Courier Partner Id with Field cp_id", FIX_PAYLOAD),
    _entry(303, SERVICE, "waybill already registered", ALREADY_DONE),
    _entry(304, SERVICE, "Already Registered For Service", ALREADY_DONE),
    _entry(
        306, SERVICE, "You are not Registered To Use this service, Please Register", FIX_ACCOUNT
    ),
    _entry(316, SERVICE, "You Dont Have Credentials For The Courier Partner", FIX_COURIER_CREDS),
    _entry(320, SERVICE, "This service is not subscribed by you", FIX_ACCOUNT),
    _entry(
        324,
        SERVICE,
        "You Are Using Invalid Credential For Courier Partner, Please Update",
        FIX_COURIER_CREDS,
    ),
    _entry(
        325,
        SERVICE,
        "The status you are trying to update is invalid for our systems; contact Clickpost",
        CONTACT_CLICKPOST,
    ),
    _entry(326, SERVICE, "Invalid Tracking Id", FIX_PAYLOAD),
    _entry(328, SERVICE, "Invalid POST data", FIX_PAYLOAD),
    _entry(330, SERVICE, "waybill does not exist", "Check the waybill number and courier."),
    _entry(351, SERVICE, "No account exist", FIX_ACCOUNT),
    _entry(352, SERVICE, "Multiple Account exist", "Send account_code to pick one account."),
    _entry(353, SERVICE, "Inactive account", FIX_ACCOUNT),
    _entry(354, SERVICE, "Unhandled CP error", RETRY + " Escalate if it persists.", retryable=True),
    _entry(355, SERVICE, "Vendor code not found", FIX_PAYLOAD),
    _entry(422, SERVICE, "Invalid Entity", FIX_PAYLOAD),
    # Order creation codes
    _entry(307, ORDER_CREATION, "You have entered an invalid Order Type", FIX_PAYLOAD),
    _entry(308, ORDER_CREATION, "You have entered an invalid Order Priority", FIX_PAYLOAD),
    _entry(309, ORDER_CREATION, "Invalid Delivery Type", FIX_PAYLOAD),
    _entry(310, ORDER_CREATION, "RVP reason is missing", FIX_PAYLOAD),
    _entry(311, ORDER_CREATION, "Invalid Courier Partner For RVP", FIX_PAYLOAD),
    _entry(312, ORDER_CREATION, "Items Data is missing from order details", FIX_PAYLOAD),
    _entry(313, ORDER_CREATION, "Invalid Format of items for Order data", FIX_PAYLOAD),
    _entry(314, ORDER_CREATION, "Invalid Format Of Order Data", FIX_PAYLOAD),
    _entry(315, ORDER_CREATION, "Invalid Cod Value", FIX_PAYLOAD),
    _entry(
        319,
        ORDER_CREATION,
        "Error In Order Placing To Courier Partner",
        "Courier rejected the order: read the message, fix and resend.",
    ),
    _entry(
        321,
        ORDER_CREATION,
        "Awb Number Does not exist in the system for the courier partner",
        "Check the waybill series allotted for this courier.",
    ),
    _entry(
        322,
        ORDER_CREATION,
        "Internal Server Error In Courier Partners Server, Try Again",
        RETRY,
        retryable=True,
    ),
    _entry(323, ORDER_CREATION, "You have already placed this order", ALREADY_DONE),
    # Webhook codes
    _entry(305, WEBHOOK, "Webhook already Registered for the user", ALREADY_DONE),
    _entry(327, WEBHOOK, "Webhook not registered for the user", "Register the webhook first."),
    # Order cancellation codes
    _entry(600, ORDER_CANCELLATION, "Order already canceled", ALREADY_DONE),
    _entry(
        350,
        ORDER_CANCELLATION,
        "Order Cancellation Error from Courier Partner Server",
        RETRY + " Cancel with the courier directly if it persists.",
        retryable=True,
    ),
    _entry(
        202,
        ORDER_CANCELLATION,
        "Cancellation request received, failed over API, will be mailed to the couriers",
        "Not retryable: confirm the cancellation with the courier by mail.",
    ),
)


def clickpost_code(*, code: int | None, meta_status: int | None, http_status: int | None):
    """SPEC tagging rule 1: the code an event is counted under (None when nothing is known)."""
    # The first given of the three (a conditional expression: a generator costs more than the
    # rest of this function, and it runs for every event).
    chosen = code if code is not None else meta_status if meta_status is not None else http_status
    chosen_is_2xx = chosen is not None and 200 <= chosen < 300
    if chosen_is_2xx and http_status is not None and http_status >= 400:
        return http_status
    return chosen


def tag(
    *, code: int, http_status: int | None, endpoint: str, catalog: Mapping[int, CodeInfo]
) -> Tag:
    """SPEC tagging rules 2-5 for an already-chosen `code` (see clickpost_code)."""
    if endpoint == CANCEL_ENDPOINT and code in CANCELLATION_CODES:
        return _tag(ORDER_CANCELLATION, True)
    if 200 <= code < 300:
        return _tag(SUCCESS, False)
    info = catalog.get(code)
    if info is not None:
        return _tag(info.category, info.is_error)
    return _tag(UNKNOWN, code >= 300 or (http_status or 0) >= 400)


# A Tag is a frozen pair and there are a few dozen: one of each, not one per event.
_TAGS: dict[tuple[str, bool], Tag] = {}


def _tag(category: str, is_error: bool) -> Tag:
    found = _TAGS.get((category, is_error))
    if found is None:
        found = _TAGS.setdefault((category, is_error), Tag(category, is_error))
    return found


SEED_BY_CODE: dict[int, CodeInfo] = {info.code: info for info in SEED}

_CACHE_SECONDS = 30.0
_cache_lock = threading.Lock()
_cached: tuple[float, dict[int, CodeInfo]] | None = None


def current_catalog() -> dict[int, CodeInfo]:
    """The catalog as stored (admin edits included), re-read at most every 30 seconds."""
    global _cached
    with _cache_lock:
        if _cached is not None and time.monotonic() - _cached[0] < _CACHE_SECONDS:
            return _cached[1]
    from ingest.models import CodeEntry

    loaded = {row.code: row.as_info() for row in CodeEntry.objects.all()}
    with _cache_lock:
        _cached = (time.monotonic(), loaded)
    return loaded


def forget_cached_catalog(**_signal_kwargs) -> None:
    """Called when an entry is saved or deleted, so this process sees the edit at once."""
    global _cached
    with _cache_lock:
        _cached = None
