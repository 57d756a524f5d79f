"""OpenAPI descriptions of the API views (drf-spectacular), kept apart so views stay short.

Each name is a decorator for one view method: `@schema.timeseries def get(...)`.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)

from stats import params as p
from stats.api import serializers as s
from stats.querystring import READ_PARAMS, ZONE_PARAM, Param

# The credential forms of an API token (tokens.auth), as OpenAPI security schemes. Every view
# takes Bearer (or `Token`) and Basic whose password (or user name) is the token; a door whose
# protocol defines its own form takes that too, and only that door.
_SCHEMES = {
    "token": {
        "type": "http",
        "scheme": "bearer",
        "description": "`Authorization: Bearer <token>` (or `Token <token>`); made by "
        "`manage.py create_token NAME --scope ingest|read`.",
    },
    "basicToken": {
        "type": "http",
        "scheme": "basic",
        "description": "Basic auth whose password (or user name) is the token (rsyslog's "
        "Elasticsearch output can send nothing else).",
    },
    "splunkToken": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "`Authorization: Splunk <token>`: the Splunk HEC door only.",
    },
    "seqApiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Seq-ApiKey",
        "description": "`X-Seq-ApiKey: <token>`: the Seq doors only.",
    },
    "seqApiKeyQuery": {
        "type": "apiKey",
        "in": "query",
        "name": "apiKey",
        "description": "`?apiKey=<token>`: the Seq doors only.",
    },
    "queryToken": {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "`?token=<token>`: the Logz.io door only (its clients send no header).",
    },
}


class _TokenScheme(OpenApiAuthenticationExtension):
    """A tokens.auth authentication class: its own scheme(s) (`name`), and the requirement
    that any one of `accepts` will do ("token" and "basicToken" are ApiTokenScheme's)."""

    accepts: tuple[str, ...] = ()

    def get_security_definition(self, auto_schema):
        names = [self.name] if isinstance(self.name, str) else self.name
        definitions = [_SCHEMES[name] for name in names]
        return definitions[0] if isinstance(self.name, str) else definitions

    def get_security_requirement(self, auto_schema):
        return [{name: []} for name in self.accepts]


class ApiTokenScheme(_TokenScheme):
    target_class = "tokens.auth.ApiTokenAuthentication"
    name = ["token", "basicToken"]
    accepts = ("token", "basicToken")


class SplunkScheme(_TokenScheme):
    target_class = "tokens.auth.SplunkAuthentication"
    name = "splunkToken"
    accepts = ("splunkToken", "token", "basicToken")


class SeqScheme(_TokenScheme):
    target_class = "tokens.auth.SeqApiKeyAuthentication"
    name = ["seqApiKey", "seqApiKeyQuery"]
    accepts = ("seqApiKey", "seqApiKeyQuery", "token", "basicToken")


class QueryTokenScheme(_TokenScheme):
    target_class = "tokens.auth.QueryTokenAuthentication"
    name = "queryToken"
    accepts = ("queryToken", "token", "basicToken")


BAD_PARAMETER = OpenApiResponse(
    s.ErrorOut,
    description="A bad parameter; `error` names it.",
    examples=[
        OpenApiExample(
            "Unknown interval",
            value={
                "error": 'interval: "fortnight" is not a valid choice (minute, hour, day, week).',
                "detail": {
                    "interval": ['"fortnight" is not a valid choice (minute, hour, day, week).']
                },
            },
        )
    ],
)
READ_ERRORS = {
    400: BAD_PARAMETER,
    401: OpenApiResponse(s.ErrorOut, description="No session and no token."),
    403: OpenApiResponse(s.ErrorOut, description="A token without the `read` scope."),
    429: OpenApiResponse(s.ErrorOut, description="Over the token's rate; see Retry-After."),
}
NOT_FOUND = OpenApiResponse(s.ErrorOut, description="Nothing stored under that id.")


def _value_schema(param: Param) -> dict:
    if param.kind == "integer":
        schema: dict = {"type": "integer"}
        if param.minimum is not None:
            schema["minimum"] = param.minimum
        if param.maximum is not None:
            schema["maximum"] = param.maximum
        return schema
    if param.kind == "boolean":
        return {"type": "boolean"}
    schema = {"type": "string", "minLength": 1}
    if param.choices:
        schema["enum"] = list(param.choices)
    if param.max_length is not None:
        schema["maxLength"] = param.max_length
    return schema


def _query(params: tuple[Param, ...]) -> list[OpenApiParameter]:
    """The OpenAPI description of stats.params' Param declarations: the parsing's own rules."""
    described = []
    for param in params:
        schema = _value_schema(param)
        if param.many:
            schema = {"type": "array", "items": schema, "maxItems": 200}
        elif param.default is not None:
            schema["default"] = param.default
        described.append(
            OpenApiParameter(
                param.name,
                schema,
                OpenApiParameter.QUERY,
                required=param.required,
                description=param.description,
            )
        )
    return described


ZONE = _query((ZONE_PARAM,))


def _path(name: str, type_, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, type_, OpenApiParameter.PATH, description=description)


POINT = {"t": "2026-03-29T02:00:00+01:00", "events": 412, "errors": 37}
POINT.update(error_rate=0.089806, share=0.089806)

timeseries = extend_schema(
    operation_id="stats_timeseries",
    summary="Calls and errors over time",
    description=(
        "Buckets of `interval` in `tz` (days and weeks start at local midnight; a DST day has "
        "23 or 25 hourly buckets), empty buckets as zeros, in total and per `group_by` value. "
        "`share` = the group's errors / all calls in the bucket. `minute` needs a window of at "
        "most 48 hours; at most 5,000 buckets. The window is widened to whole quarter hours. "
        "At most `limit` series (default 10, at most 50), those with the most errors; the rest "
        "are summed into one series with key `other`."
    ),
    parameters=_query(p.TIMESERIES_QUERY),
    responses={200: s.TimeseriesOut, **READ_ERRORS},
    examples=[
        OpenApiExample(
            "Hourly by category",
            response_only=True,
            value={
                "interval": "hour",
                "tz": "Europe/London",
                "group_by": "category",
                "start": "2026-03-29T00:00:00+00:00",
                "end": "2026-03-30T00:00:00+01:00",
                "totals": [POINT],
                "series": [{"key": "server", "label": "server", "points": [POINT]}],
            },
        )
    ],
)

LATENCY_POINT = {"t": "2026-03-29T02:00:00+01:00", "calls": 412, "p50": 388.3, "p95": 2459.2}
LATENCY_POINT["p99"] = 9741.0

latency = extend_schema(
    operation_id="stats_latency",
    summary="Latency percentiles over time",
    description=(
        "The timeseries' buckets, groups, caps and zero-filled buckets, where a point is "
        "`calls` (calls that carry a `latency_ms`) and one key per asked percentile "
        "(`percentiles`, 1 to 99.9, at most 5; default 50,95,99): `p50`, `p95`, `p99.9`, in "
        "ms, null where `calls` is 0. A percentile is the nearest-rank value from the "
        "rollups' latency histograms, within 5 % (or 1 ms) of the exact one. At most `limit` "
        "series, those with most calls; the rest are merged into one series with key `other`."
    ),
    parameters=_query(p.LATENCY_QUERY),
    responses={200: s.LatencyOut, **READ_ERRORS},
    examples=[
        OpenApiExample(
            "Hourly by endpoint",
            response_only=True,
            value={
                "interval": "hour",
                "tz": "Europe/London",
                "group_by": "endpoint",
                "percentiles": [50.0, 95.0, 99.0],
                "start": "2026-03-29T00:00:00+00:00",
                "end": "2026-03-30T00:00:00+01:00",
                "totals": [LATENCY_POINT],
                "series": [
                    {"key": "order_create", "label": "order_create", "points": [LATENCY_POINT]}
                ],
            },
        )
    ],
)

breakdown = extend_schema(
    operation_id="stats_breakdown",
    summary="Top values of one dimension by errors",
    description=(
        "Rows most errors first. `share` = errors / all calls in the window; `previous_errors` "
        "counts the same-length period just before; `change` = (errors - previous) / previous, "
        "null when the previous period had none. At most 50 rows (`limit`)."
    ),
    parameters=_query(p.BREAKDOWN_QUERY),
    responses={200: s.BreakdownRowOut(many=True), **READ_ERRORS},
    examples=[
        OpenApiExample(
            "By code",
            response_only=True,
            value=[
                {
                    "key": 503,
                    "label": "Service Unavailable",
                    "events": 1200,
                    "errors": 1200,
                    "error_rate": 1.0,
                    "share": 0.012,
                    "previous_errors": 800,
                    "change": 0.5,
                    "p50_ms": 388.3,
                    "p95_ms": 2459.2,
                }
            ],
        )
    ],
)

event_list = extend_schema(
    operation_id="events_list",
    summary="Stored events, newest first",
    description=(
        "Cursor-paginated: follow `next` (it pins the window, so paging is stable while new "
        "events arrive). `q` is a waybill or order id (exact, any case) or else a "
        "case-insensitive substring of the message. `sort=-latency`: slowest first (calls "
        "without a latency left out); `min_latency_ms`: only calls at least that slow."
    ),
    parameters=_query(p.EVENT_LIST_QUERY),
    responses={200: s.EventPageOut, **READ_ERRORS},
)

event_detail = extend_schema(
    operation_id="event_retrieve",
    summary="One event with its stored (redacted) request and response",
    parameters=[_path("event_id", int, "the event's id"), *ZONE],
    responses={200: s.EventDetailOut, 404: NOT_FOUND, **READ_ERRORS},
)

_TIMELINE = (
    "The shipment's events within the retention horizon, oldest first (the latest 1,000), with "
    "a summary; 404 if none. An id holding `/` is sent as `%2F`."
)
waybill = extend_schema(
    operation_id="waybill_timeline",
    summary="A waybill's timeline",
    description=_TIMELINE,
    parameters=[_path("value", str, "the waybill (AWB)"), *ZONE],
    responses={200: s.TimelineOut, 404: NOT_FOUND, **READ_ERRORS},
)
order = extend_schema(
    operation_id="order_timeline",
    summary="An order's timeline",
    description=_TIMELINE,
    parameters=[_path("value", str, "the order id (reference number)"), *ZONE],
    responses={200: s.TimelineOut, 404: NOT_FOUND, **READ_ERRORS},
)

codes = extend_schema(
    operation_id="codes_list",
    summary="The code catalog with counts in the window",
    description=(
        "Every catalog code with its calls and errors in the filtered window; codes seen in "
        "traffic but missing from the catalog are listed with `in_catalog: false`: the 50 with "
        "most errors, and any more summed into one last row with `code: null`."
    ),
    parameters=_query(READ_PARAMS),
    responses={200: s.CodeRowOut(many=True), **READ_ERRORS},
)

weekly_report = extend_schema(
    operation_id="report_weekly",
    summary="Weekly errors per (code, courier)",
    description=(
        "The ISO week in `tz`, one row per (code, courier) with errors. CSV by default "
        "(attachment `clickpost-errors-<week>.csv`, columns week, category, code, meaning, "
        "cp_id, courier, errors, calls, error_rate, prev_week_errors, change_pct); "
        "`format=json` gives the same rows as a JSON array. Streamed. In the CSV a text cell "
        "that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with `'` "
        "so that a spreadsheet never runs it as a formula."
    ),
    parameters=_query(p.WEEKLY_PARAMS),
    responses={
        (200, "text/csv"): OpenApiResponse(
            OpenApiTypes.STR,
            examples=[
                OpenApiExample(
                    "CSV",
                    value=(
                        "week,category,code,meaning,cp_id,courier,errors,calls,error_rate,"
                        "prev_week_errors,change_pct\r\n2026-W47,server,503,Service Unavailable,"
                        "4,Delhivery,120,3000,0.0400,80,50.0\r\n"
                    ),
                )
            ],
        ),
        (200, "application/json"): s.WeeklyRowOut(many=True),
        **READ_ERRORS,
    },
)

_INGEST_BODY = {
    "timestamp": "2026-03-29T10:15:00Z",
    "endpoint": "/api/v3/create-order/",
    "http_status": 200,
    "response": {"meta": {"status": 319, "message": "Error In Order Placing To Courier Partner"}},
    "cp_id": 4,
    "courier": "Delhivery",
    "waybill": "DL123456789",
    "order_id": "ORD-1001",
    "account_code": "acme-mumbai",
    "latency_ms": 812,
}

ingest = extend_schema(
    operation_id="events_ingest",
    summary="Ingest logged Clickpost calls",
    description=(
        "Needs a token with the `ingest` scope. The body is free-form JSON: one event object, "
        'an array of them, `{"events"|"logs"|"records": [...]}`, or JSON lines '
        "(NDJSON). The framing is read from the body whatever the Content-Type (JSON, NDJSON, "
        "text/plain, form-urlencoded or none; others are 415): Python's "
        "`logging.handlers.HTTPHandler` posts its records here as a form, read as events. "
        "gzip/deflate accepted. At most "
        "10 MB and 10,000 events (413). Valid events are stored in one transaction; retries "
        "are duplicates, not new rows. 200 when anything was accepted or was a duplicate, 400 "
        "when all were rejected."
    ),
    request={
        "application/json": OpenApiTypes.ANY,
        "application/x-ndjson": OpenApiTypes.STR,
        "text/plain": OpenApiTypes.STR,
        "application/x-www-form-urlencoded": OpenApiTypes.OBJECT,
    },
    responses={
        200: s.IngestOut,
        400: OpenApiResponse(
            PolymorphicProxySerializer(
                component_name="IngestRefused",
                serializers=[s.IngestOut, s.ErrorOut],
                resource_type_field_name=None,
            ),
            description="Every event rejected (the outcome), or a body that does not parse.",
        ),
        401: OpenApiResponse(s.ErrorOut, description="No or bad token."),
        403: OpenApiResponse(s.ErrorOut, description="A token without the `ingest` scope."),
        413: OpenApiResponse(s.ErrorOut, description="Over the size or count limit."),
        415: OpenApiResponse(s.ErrorOut, description="A content type that is not JSON."),
        429: OpenApiResponse(s.ErrorOut, description="Over the token's rate; see Retry-After."),
        503: OpenApiResponse(s.ErrorOut, description="Database unavailable; see Retry-After."),
    },
    examples=[
        OpenApiExample("One event", value=_INGEST_BODY, request_only=True),
        OpenApiExample("A batch", value={"events": [_INGEST_BODY]}, request_only=True),
        OpenApiExample(
            "Outcome",
            response_only=True,
            value={
                "accepted": 1,
                "duplicates": 0,
                "rejected": 1,
                "errors": [{"index": 1, "errors": {"timestamp": ["required"]}}],
            },
        ),
    ],
)

_OPEN = (
    "A reference is an order id (else a waybill) on one endpoint; it is open while its latest "
    "call (by timestamp, then arrival) failed with a code that is not benign, and nobody "
    "dismissed it since. Ingest keeps the list in the batch's own transaction: a 200 from "
    "ingest means the list already shows the batch. `endpoint` and `action` must name an "
    "endpoint or an action of the catalog (400 otherwise)."
)
open_failures = extend_schema(
    operation_id="open_failures_list",
    summary="Open failures: the references whose latest call failed, the longest wait first",
    description=_OPEN
    + " Cursor-paginated (follow `next`). `format=csv` streams every matching row as CSV "
    "(attachment `open-failures.csv`, the JSON fields as columns; a text cell beginning with "
    "`=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with `'`).",
    parameters=_query(p.OPEN_LIST_QUERY),
    responses={
        200: s.OpenFailurePageOut,
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR),
        **READ_ERRORS,
    },
)
open_failure_summary = extend_schema(
    operation_id="open_failures_summary",
    summary="Open failures counted by action, code, courier, endpoint and account",
    description=_OPEN
    + " Each count says how many wait over 1 h and over 24 h; `what_to_do` counts by the "
    "catalog's action hint and code together. At most 50 rows per dimension, the most first.",
    parameters=_query(p.OPEN_SUMMARY_QUERY),
    responses={200: s.OpenSummaryOut, **READ_ERRORS},
)
open_failure_dismiss = extend_schema(
    operation_id="open_failures_dismiss",
    summary="Dismiss open failures handled outside the product",
    description=(
        "Staff login or an `admin` token. Each reference is closed up to its latest call; a "
        "newer failure reopens it. Who, when and the note are kept (`/dismissed/`, and the "
        "order's timeline). A reference that is not open is reported as `not_open` and nothing "
        "is written for it. At most 1,000 references per request (413 beyond)."
    ),
    request=s.DismissIn,
    responses={
        200: s.DismissOut,
        400: OpenApiResponse(s.ErrorOut, description="A bad body; `error` names the field."),
        401: READ_ERRORS[401],
        403: OpenApiResponse(s.ErrorOut, description="Not staff, not an `admin` token."),
        413: OpenApiResponse(s.ErrorOut, description="More than 1,000 references."),
    },
)
open_failures_dismissed = extend_schema(
    operation_id="open_failures_dismissed",
    summary="Dismissals, newest first",
    description="Who dismissed which reference, when, with what note; `reopened` when a newer "
    "failure came since. Paginated by `before` (follow `next`).",
    parameters=_query(p.DISMISSED_PARAMS),
    responses={200: s.DismissalPageOut, **READ_ERRORS},
)
