"""OpenAPI descriptions of the protocol doors (drf-spectacular), one decorator per door:
`@schema.otlp def post(...)`. Each says the protocol's body, its reply and the credential forms
its clients send (the security schemes are `stats.api.schema`'s, keyed by authentication
class); docs/SHIPPERS.md holds each client's configuration."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema

TAG = "protocol doors"
_COMMON = (
    " Needs a token with the `ingest` scope. Same limits as `POST /api/v1/events/` (10 MB, "
    "10,000 events, gzip/deflate) and the same event fields, found where the protocol puts "
    "structured data (docs/SHIPPERS.md)."
)
_JSON_OR_PROTOBUF = {
    "application/json": OpenApiTypes.OBJECT,
    "application/x-protobuf": OpenApiTypes.BINARY,
}
_COUNTS = {"accepted": 1, "duplicates": 0, "rejected": 0, "errors": []}


def _refusals() -> dict[int, OpenApiResponse]:
    """The refusals every door shares (the API's error shape)."""
    from_api = "The API's error shape: `error` says why, `detail` names fields when it can."
    return {
        400: OpenApiResponse(OpenApiTypes.OBJECT, description="A body the protocol cannot read."),
        401: OpenApiResponse(OpenApiTypes.OBJECT, description="No or bad token. " + from_api),
        403: OpenApiResponse(OpenApiTypes.OBJECT, description="A token without `ingest`."),
        413: OpenApiResponse(OpenApiTypes.OBJECT, description="Over the size or count limit."),
        415: OpenApiResponse(OpenApiTypes.OBJECT, description="A content type it cannot read."),
        429: OpenApiResponse(OpenApiTypes.OBJECT, description="Over the token's rate."),
        503: OpenApiResponse(OpenApiTypes.OBJECT, description="Database unavailable."),
    }


def _door(
    summary: str,
    description: str,
    *,
    request: dict,
    reply: dict[int, OpenApiResponse],
    parameters: list[OpenApiParameter] | None = None,
):
    # No operation id: a door served on several paths gets one per path from drf-spectacular.
    return extend_schema(
        summary=summary,
        description=description + _COMMON,
        tags=[TAG],
        request=request,
        responses={**_refusals(), **reply},
        parameters=parameters or [],
    )


otlp = _door(
    "OpenTelemetry OTLP/HTTP logs",
    "`POST /v1/logs` (also `/api/v1/otlp/v1/logs`): an `ExportLogsServiceRequest` as JSON or "
    "protobuf. 200 with `partialSuccess.rejectedLogRecords` counting refused records (the "
    "empty message when all were stored). OpenTelemetry Collector, SDK log exporters.",
    request=_JSON_OR_PROTOBUF,
    reply={200: OpenApiResponse(OpenApiTypes.OBJECT, description="`partialSuccess`.")},
)

loki = _door(
    "Grafana Loki push",
    "`POST /loki/api/v1/push`: Loki's push body (JSON, or snappy protobuf). 204 as Loki "
    "answers; 400 with the counts when every line was refused. Promtail, Grafana Alloy, "
    "Fluent Bit `loki`.",
    request=_JSON_OR_PROTOBUF,
    reply={204: OpenApiResponse(description="Stored."), 400: OpenApiResponse(OpenApiTypes.OBJECT)},
)

bulk = _door(
    "Elasticsearch bulk",
    "`POST /_bulk` or `/<index>/_bulk` (PUT too): action and source lines (NDJSON). "
    "Elasticsearch's reply, a status per item (`errors` true when one was refused). Filebeat, "
    "Logstash, Fluent Bit `es`, Vector `elasticsearch`, rsyslog (Basic auth: the token as "
    "password).",
    request={"application/x-ndjson": OpenApiTypes.STR, "application/json": OpenApiTypes.STR},
    reply={200: OpenApiResponse(OpenApiTypes.OBJECT, description="`took`, `errors`, `items`.")},
)

hec = _door(
    "Splunk HTTP Event Collector",
    "`POST /services/collector`, `/services/collector/event` (and `/1.0`): HEC event objects, "
    "concatenated or one per line, credential `Authorization: Splunk <token>`. "
    '`200 {"text": "Success", "code": 0}` when every event was stored (or was already); with any '
    'event rejected, HEC\'s own refusal `400 {"text": "Invalid data format", "code": 6, '
    '"invalid-event-number": i}` with the counts (the valid events are stored). '
    "splunk-handler, Fluent Bit `splunk`, Vector `splunk_hec_logs`.",
    # Concatenated JSON objects are no one JSON value: any body (an empty `[]` is an empty batch).
    request={"application/json": OpenApiTypes.ANY, "text/plain": OpenApiTypes.STR},
    reply={
        200: OpenApiResponse(
            OpenApiTypes.OBJECT,
            examples=[OpenApiExample("Stored", value={"text": "Success", "code": 0})],
        )
    },
)

seq = _door(
    "Seq",
    '`POST /api/events/raw` (`{"Events": [...]}`) or `POST /ingest/clef` (compact JSON lines), '
    "credential `X-Seq-ApiKey: <token>` or `?apiKey=`. "
    '`201 {"MinimumLevelAccepted": null}`; with any event rejected, Seq\'s error form '
    '`400 {"Error": ...}` with the counts (the valid events are stored). seqlog, '
    "Serilog's Seq sink.",
    request={
        "application/json": OpenApiTypes.OBJECT,
        "application/vnd.serilog.clef": OpenApiTypes.STR,
    },
    reply={
        201: OpenApiResponse(
            OpenApiTypes.OBJECT,
            examples=[OpenApiExample("Stored", value={"MinimumLevelAccepted": None})],
        ),
        400: OpenApiResponse(OpenApiTypes.OBJECT),
    },
)

betterstack = _door(
    "Better Stack (Logtail)",
    "`POST /betterstack/`: a JSON record, an array, or msgpack, as Logtail's handler sends it. "
    "202 with the counts; 400 when every record was refused. logtail-python.",
    request={"application/json": OpenApiTypes.OBJECT, "application/msgpack": OpenApiTypes.BINARY},
    reply={
        202: OpenApiResponse(OpenApiTypes.OBJECT, examples=[OpenApiExample("Stored", _COUNTS)]),
        400: OpenApiResponse(OpenApiTypes.OBJECT),
    },
)

logzio = _door(
    "Logz.io",
    "`POST /logzio/?token=<token>`: JSON lines sent as text/plain; the token goes in the query "
    "string only (Logz.io's handlers send no header; it is redacted from the access log). "
    "Exactly 200 with the counts; 400 when every line was refused. logzio-python-handler.",
    request={"text/plain": OpenApiTypes.STR},
    reply={
        200: OpenApiResponse(OpenApiTypes.OBJECT, examples=[OpenApiExample("Stored", _COUNTS)]),
        400: OpenApiResponse(OpenApiTypes.OBJECT),
    },
)
