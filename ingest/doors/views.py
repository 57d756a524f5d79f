"""The doors' views: each only decodes its protocol's body and replies in its protocol's shape.

Everything around that is `ingest.doors.http.Door.answer`'s, the same for every door: the body
(size limit, gzip/deflate, chunked), the event-count limit (413), auth (the API token: Bearer,
Token, or Basic whose password or user name is the token, plus the credential form each
protocol's clients send), the `ingest` scope, the per-token throttle, and JSON refusals
(`clickpost_monitor.errors`; a database outage is a 503 with Retry-After).
"""

from __future__ import annotations

import time

from django.conf import settings
from django.http import HttpResponse, HttpResponseBase
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from ingest.doors import betterstack, elastic, hec, logzio, loki, otlp, schema, seq
from ingest.doors.http import (
    Decoded,
    IngestDoor,
    ProtocolNegotiation,
)
from ingest.doors.records import rejection_summary
from ingest.framing import FramingError, check_content_type
from ingest.pipeline import IngestOutcome
from tokens.auth import (
    ApiTokenAuthentication,
    QueryTokenAuthentication,
    SeqApiKeyAuthentication,
    SplunkAuthentication,
)

DEFAULT_INDEX = "clickpost"


@extend_schema_view(post=schema.otlp)
class OtlpLogsView(IngestDoor):
    """`POST /v1/logs`: OTLP/HTTP logs; 200 with `partialSuccess` counting rejected records."""

    def decode(self, request, body: bytes, **kwargs) -> Decoded:
        protobuf = otlp.is_protobuf(request.META.get("CONTENT_TYPE"), body)
        return Decoded(otlp.decode(body, protobuf=protobuf), note=protobuf)

    def reply(self, decoded: Decoded, outcome: IngestOutcome) -> HttpResponseBase:
        total = len(decoded.items)
        content, content_type = otlp.reply(outcome, total=total, protobuf=decoded.note)
        return HttpResponse(content, content_type=content_type)


@extend_schema_view(post=schema.loki)
class LokiPushView(IngestDoor):
    """`POST /loki/api/v1/push`: 204 as Loki answers; 400 with the counts when all were refused."""

    def decode(self, request, body: bytes, **kwargs) -> Decoded:
        content_type = request.META.get("CONTENT_TYPE")
        return Decoded(
            loki.decode(body, content_type=content_type, max_bytes=settings.INGEST_MAX_BYTES)
        )

    def reply(self, decoded: Decoded, outcome: IngestOutcome) -> HttpResponseBase:
        if outcome.all_rejected:
            summary = rejection_summary(outcome, total=len(decoded.items), noun="line")
            return Response({"error": summary, **outcome.as_json()}, status=400)
        return HttpResponse(status=204)


class ElasticsearchView(APIView):
    """Every Elasticsearch answer says it is one: ES 8 clients check this header."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response[elastic.PRODUCT_HEADER[0]] = elastic.PRODUCT_HEADER[1]
        return response


@extend_schema_view(post=schema.bulk, put=extend_schema(exclude=True))  # PUT: the same door
class BulkView(ElasticsearchView, IngestDoor):
    """`POST /_bulk`, `/<index>/_bulk`: Elasticsearch's reply, a status per item."""

    started = 0.0

    def before_body(self, request) -> None:
        self.started = time.monotonic()  # a view instance serves one request
        check_content_type(request.META.get("CONTENT_TYPE"))  # as the generic door: 415

    def decode(self, request, body: bytes, index: str | None = None, **kwargs) -> Decoded:
        actions, items = elastic.parse_bulk(body, default_index=index or DEFAULT_INDEX)
        return Decoded(items, note=actions)

    def reply(self, decoded: Decoded, outcome: IngestOutcome) -> HttpResponseBase:
        reply = elastic.bulk_reply(
            decoded.note,
            outcome=outcome,
            rejections=outcome.rejections,  # every one, so each bulk item gets its own status
            took_ms=int((time.monotonic() - self.started) * 1000),
        )
        return Response(reply)

    def put(self, request, **kwargs) -> HttpResponseBase:
        return self.answer(request, **kwargs)


class ElasticsearchReadView(ElasticsearchView):
    """Read-only probes: no token needed, but a token that is sent must be valid (401)."""

    schema = None  # Elasticsearch's own probes, listed on /api/docs/ but not an API of ours

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


@extend_schema_view(post=schema.hec)
class SplunkHecView(IngestDoor):
    """`POST /services/collector(/event)`: HEC's `{"text": "Success", "code": 0}`."""

    authentication_classes = [SplunkAuthentication]

    def decode(self, request, body: bytes, **kwargs) -> Decoded:
        return Decoded(hec.decode(body))

    def reply(self, decoded: Decoded, outcome: IngestOutcome) -> HttpResponseBase:
        content, status = hec.reply(outcome)
        return Response(content, status=status)

    def refuse(self, request, error: FramingError) -> HttpResponseBase:
        content, status = hec.framing_refusal(error)
        return Response(content, status=status)

    def handle_exception(self, exc):
        """Auth, throttle and database refusals in HEC's shape, our sentence kept as `error`."""
        response = super().handle_exception(exc)
        data = getattr(response, "data", None)  # a database outage answers a plain JsonResponse
        if isinstance(data, dict) and "code" not in data:
            message = data.get("error") or str(exc)
            response.data = {**hec.refusal_body(response.status_code, message), **data}
        return response


@extend_schema_view(post=schema.seq)
class SeqView(IngestDoor):
    """`POST /api/events/raw` and `/ingest/clef`: 201 `{"MinimumLevelAccepted": null}`."""

    authentication_classes = [SeqApiKeyAuthentication]
    clef = False

    def decode(self, request, body: bytes, **kwargs) -> Decoded:
        return Decoded(seq.decode_clef(body) if self.clef else seq.decode_raw(body))

    def reply(self, decoded: Decoded, outcome: IngestOutcome) -> HttpResponseBase:
        content, status = seq.reply(outcome, total=len(decoded.items))
        return Response(content, status=status)


@extend_schema_view(post=schema.betterstack)
class BetterStackView(IngestDoor):
    """`POST /betterstack/`: 202 with the counts, as Better Stack answers a stored batch."""

    def decode(self, request, body: bytes, **kwargs) -> Decoded:
        return Decoded(betterstack.decode(body, content_type=request.META.get("CONTENT_TYPE")))

    def reply(self, decoded: Decoded, outcome: IngestOutcome) -> HttpResponseBase:
        return Response(outcome.as_json(), status=400 if outcome.all_rejected else 202)


@extend_schema_view(post=schema.logzio)
class LogzioView(IngestDoor):
    """`POST /logzio/?token=`: exactly 200 (the Logz.io handlers take nothing else as success)."""

    authentication_classes = [QueryTokenAuthentication]

    def decode(self, request, body: bytes, **kwargs) -> Decoded:
        return Decoded(logzio.decode(body))

    def reply(self, decoded: Decoded, outcome: IngestOutcome) -> HttpResponseBase:
        return Response(outcome.as_json(), status=400 if outcome.all_rejected else 200)
