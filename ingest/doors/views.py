"""The doors' views: body -> protocol decoder -> `ingest.pipeline` -> the protocol's reply.

Everything around the decoding is the generic endpoint's: the body is read by
`ingest.framing.read_body` (size limit, gzip/deflate, chunked), a batch over INGEST_MAX_EVENTS
is a 413, auth is the API token (Bearer, Token, or Basic whose password or user name is the
token), the `ingest` scope is required, the per-token throttle applies, and refusals are JSON
(`clickpost_monitor.errors`; a database outage is a 503 with Retry-After).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from ingest import pipeline
from ingest.doors import elastic, loki, otlp
from ingest.doors.generic import framing_error_response, request_body_stream
from ingest.doors.records import rejection_summary
from ingest.framing import FramingError, check_content_type, read_body
from tokens.auth import ApiTokenAuthentication, CanIngest, IngestThrottle, request_token

DEFAULT_INDEX = "clickpost"


class ProtocolNegotiation(BaseContentNegotiation):
    """The protocol decides the reply's type, not Accept: the Elastic clients ask for
    `application/vnd.elasticsearch+json`, OTLP's for protobuf; DRF would answer 406."""

    def select_parser(self, request, parsers):
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class IngestDoor(APIView):
    """A protocol's POST door: token auth with the `ingest` scope, throttled, raw body."""

    content_negotiation_class = ProtocolNegotiation
    authentication_classes = [ApiTokenAuthentication]
    permission_classes = [CanIngest]
    throttle_classes = [IngestThrottle]
    parser_classes: list = []  # the body is the decoder's, not DRF's
    schema = None  # protocol endpoints are documented in docs/SHIPPERS.md, not in OpenAPI


def read_request_body(request) -> bytes:
    """The decompressed body under INGEST_MAX_BYTES (chunked too); raises FramingError."""
    stream, length = request_body_stream(request)
    return read_body(
        stream,
        content_length=length,
        content_encoding=request.META.get("HTTP_CONTENT_ENCODING"),
        max_bytes=settings.INGEST_MAX_BYTES,
    )


def within_limit(items: Sequence[pipeline.RawItem]) -> Sequence[pipeline.RawItem]:
    if len(items) > settings.INGEST_MAX_EVENTS:
        limit = settings.INGEST_MAX_EVENTS
        raise FramingError(413, f"batch has {len(items)} events; the limit is {limit}")
    return items


def ingest(request, items: Sequence[pipeline.RawItem]) -> pipeline.IngestOutcome:
    token = request_token(request)
    return pipeline.ingest_items(items, token_id=token.pk if token else None)


class OtlpLogsView(IngestDoor):
    """`POST /v1/logs`: OTLP/HTTP logs; 200 with `partialSuccess` counting rejected records."""

    def post(self, request):
        try:
            body = read_request_body(request)
            protobuf = otlp.is_protobuf(request.META.get("CONTENT_TYPE"), body)
            items = within_limit(otlp.decode(body, protobuf=protobuf))
        except FramingError as error:
            return framing_error_response(request, error)
        outcome = ingest(request, items)
        content, content_type = otlp.reply(outcome, total=len(items), protobuf=protobuf)
        return HttpResponse(content, content_type=content_type)


class LokiPushView(IngestDoor):
    """`POST /loki/api/v1/push`: 204 as Loki answers; 400 with the counts when all were refused."""

    def post(self, request):
        try:
            body = read_request_body(request)
            decoded = loki.decode(
                body,
                content_type=request.META.get("CONTENT_TYPE"),
                max_bytes=settings.INGEST_MAX_BYTES,
            )
            items = within_limit(decoded)
        except FramingError as error:
            return framing_error_response(request, error)
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
            body = read_request_body(request)
            actions, items = elastic.parse_bulk(body, default_index=index or DEFAULT_INDEX)
            within_limit(items)
        except FramingError as error:
            return framing_error_response(request, error)
        outcome = ingest(request, items)
        reply = elastic.bulk_reply(
            actions,
            outcome=outcome,
            rejections=elastic.all_rejections(items, outcome),
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
