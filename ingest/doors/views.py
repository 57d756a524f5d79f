"""The doors' views: body -> protocol decoder -> `ingest.pipeline` -> the protocol's reply.

Everything around the decoding is `ingest.doors.http`'s, the same for every door: the body
(size limit, gzip/deflate, chunked), the event-count limit (413), auth (the API token: Bearer,
Token, or Basic whose password or user name is the token, plus the credential form each
protocol's clients send), the `ingest` scope, the per-token throttle, and JSON refusals
(`clickpost_monitor.errors`; a database outage is a 503 with Retry-After).
"""

from __future__ import annotations

import time

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from ingest.doors import betterstack, elastic, hec, logzio, loki, otlp, seq
from ingest.doors.http import (
    IngestDoor,
    ProtocolNegotiation,
    ingest,
    refusal,
    request_body,
    within_limit,
)
from ingest.doors.records import rejection_summary
from ingest.framing import FramingError, check_content_type
from tokens.auth import (
    ApiTokenAuthentication,
    QueryTokenAuthentication,
    SeqApiKeyAuthentication,
    SplunkAuthentication,
)

DEFAULT_INDEX = "clickpost"


class OtlpLogsView(IngestDoor):
    """`POST /v1/logs`: OTLP/HTTP logs; 200 with `partialSuccess` counting rejected records."""

    def post(self, request):
        try:
            body = request_body(request)
            protobuf = otlp.is_protobuf(request.META.get("CONTENT_TYPE"), body)
            items = within_limit(otlp.decode(body, protobuf=protobuf))
        except FramingError as error:
            return refusal(request, error)
        outcome = ingest(request, items)
        content, content_type = otlp.reply(outcome, total=len(items), protobuf=protobuf)
        return HttpResponse(content, content_type=content_type)


class LokiPushView(IngestDoor):
    """`POST /loki/api/v1/push`: 204 as Loki answers; 400 with the counts when all were refused."""

    def post(self, request):
        try:
            body = request_body(request)
            decoded = loki.decode(
                body,
                content_type=request.META.get("CONTENT_TYPE"),
                max_bytes=settings.INGEST_MAX_BYTES,
            )
            items = within_limit(decoded)
        except FramingError as error:
            return refusal(request, error)
        outcome = ingest(request, items)
        if outcome.all_rejected:
            summary = rejection_summary(outcome, total=len(items), noun="line")
            return Response({"error": summary, **outcome.as_json()}, status=400)
        return HttpResponse(status=204)


class ElasticsearchView(APIView):
    """Every Elasticsearch answer says it is one: ES 8 clients check this header."""

    schema = None

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response[elastic.PRODUCT_HEADER[0]] = elastic.PRODUCT_HEADER[1]
        return response


class BulkView(ElasticsearchView, IngestDoor):
    """`POST /_bulk`, `/<index>/_bulk`: Elasticsearch's reply, a status per item."""

    def post(self, request, index: str | None = None):
        started = time.monotonic()
        try:
            check_content_type(request.META.get("CONTENT_TYPE"))  # as the generic door: 415
            body = request_body(request)
            actions, items = elastic.parse_bulk(body, default_index=index or DEFAULT_INDEX)
            within_limit(items)
        except FramingError as error:
            return refusal(request, error)
        outcome = ingest(request, items)
        reply = elastic.bulk_reply(
            actions,
            outcome=outcome,
            rejections=outcome.rejections,  # every one, so each bulk item gets its own status
            took_ms=int((time.monotonic() - started) * 1000),
        )
        return Response(reply)

    put = post


class ElasticsearchReadView(ElasticsearchView):
    """Read-only probes: no token needed, but a token that is sent must be valid (401)."""

    content_negotiation_class = ProtocolNegotiation
    authentication_classes = [ApiTokenAuthentication]
    permission_classes = [AllowAny]
    throttle_classes: list = []


class NodeInfoView(ElasticsearchReadView):
    """`GET /` for Elasticsearch clients (ingest.doors.middleware routes them here)."""

    def get(self, request):
        return Response(elastic.node_info())


class CatHealthView(ElasticsearchReadView):
    """`GET /_cat/health`: rsyslog probes it before it resumes after an outage."""

    def get(self, request):
        now = timezone.now()
        if request.query_params.get("format") == "json":
            return Response([elastic.cat_health(now)])
        return HttpResponse(elastic.cat_health_text(now), content_type="text/plain; charset=UTF-8")


class ClusterHealthView(ElasticsearchReadView):
    """`GET /_cluster/health`: Vector's and Logstash's health check."""

    def get(self, request):
        return Response(elastic.cluster_health())


class SplunkHecView(IngestDoor):
    """`POST /services/collector(/event)`: HEC's `{"text": "Success", "code": 0}`."""

    authentication_classes = [SplunkAuthentication]

    def post(self, request):
        try:
            body = request_body(request)
            items = hec.decode(body, max_events=settings.INGEST_MAX_EVENTS)
        except FramingError as error:
            refusal(request, error)
            content, status = hec.framing_refusal(error)
            return Response(content, status=status)
        content, status = hec.reply(ingest(request, items))
        return Response(content, status=status)

    def handle_exception(self, exc):
        """Auth, throttle and database refusals in HEC's shape, our sentence kept as `error`."""
        response = super().handle_exception(exc)
        data = getattr(response, "data", None)  # a database outage answers a plain JsonResponse
        if isinstance(data, dict) and "code" not in data:
            message = data.get("error") or str(exc)
            response.data = {**hec.refusal_body(response.status_code, message), **data}
        return response


class SeqView(IngestDoor):
    """`POST /api/events/raw` and `/ingest/clef`: 201 `{"MinimumLevelAccepted": null}`."""

    authentication_classes = [SeqApiKeyAuthentication]
    clef = False

    def post(self, request):
        try:
            body = request_body(request)
            decoded = seq.decode_clef(body) if self.clef else seq.decode_raw(body)
            items = within_limit(decoded)
        except FramingError as error:
            return refusal(request, error)
        outcome = ingest(request, items)
        if outcome.all_rejected:
            summary = rejection_summary(outcome, total=len(items), noun="event")
            return Response({"Error": summary, "error": summary, **outcome.as_json()}, status=400)
        return Response(seq.ACCEPTED, status=201)


class BetterStackView(IngestDoor):
    """`POST /betterstack/`: 202 with the counts, as Better Stack answers a stored batch."""

    def post(self, request):
        try:
            body = request_body(request)
            content_type = request.META.get("CONTENT_TYPE")
            decoded = betterstack.decode(
                body, content_type=content_type, max_events=settings.INGEST_MAX_EVENTS
            )
            items = within_limit(decoded)
        except FramingError as error:
            return refusal(request, error)
        outcome = ingest(request, items)
        return Response(outcome.as_json(), status=400 if outcome.all_rejected else 202)


class LogzioView(IngestDoor):
    """`POST /logzio/?token=`: exactly 200 (the Logz.io handlers take nothing else as success)."""

    authentication_classes = [QueryTokenAuthentication]

    def post(self, request):
        try:
            body = request_body(request)
            items = logzio.decode(body, max_events=settings.INGEST_MAX_EVENTS)
        except FramingError as error:
            return refusal(request, error)
        outcome = ingest(request, items)
        return Response(outcome.as_json(), status=400 if outcome.all_rejected else 200)
