"""`POST /api/v1/events/`: the generic ingest door (framing read from the body, see SPEC)."""

from __future__ import annotations

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.response import Response

from ingest import framing, pipeline
from tokens.auth import request_token


def request_body_stream(request) -> tuple[object, int | None]:
    """The raw body stream and its declared length (None: chunked, read until the end).

    Django reads at most CONTENT_LENGTH bytes and treats a missing one as 0, which would turn
    a chunked body into an empty one; gunicorn marks de-chunked input `wsgi.input_terminated`.
    """
    meta = request.META
    declared = meta.get("CONTENT_LENGTH") or ""
    if declared.strip():
        try:
            length = int(declared)
        except ValueError:
            raise ParseError(f"Content-Length {declared!r} is not a number.") from None
        return request._request, length
    if meta.get("wsgi.input_terminated"):
        return meta["wsgi.input"], None
    return request._request, 0


def read_items(request) -> list:
    """Body -> raw items, with the size and count limits; raises framing.FramingError."""
    stream, length = request_body_stream(request)
    body = framing.read_body(
        stream,
        content_length=length,
        content_encoding=request.META.get("HTTP_CONTENT_ENCODING"),
        max_bytes=settings.INGEST_MAX_BYTES,
    )
    return framing.split_events(
        body, content_type=request.META.get("CONTENT_TYPE"), max_events=settings.INGEST_MAX_EVENTS
    )


def framing_error_response(request, error: framing.FramingError) -> Response:
    token = request_token(request)
    pipeline.record_refused_request(token.pk if token else None, error.message)
    return Response({"error": error.message}, status=error.status)


def ingest_generic(request) -> Response:
    """Answer 200 when anything was stored or was a duplicate, 400 when all were rejected."""
    try:
        items = read_items(request)
    except framing.FramingError as error:
        return framing_error_response(request, error)
    token = request_token(request)
    outcome = pipeline.ingest_items(
        [pipeline.RawItem(value) for value in items], token_id=token.pk if token else None
    )
    return Response(outcome.as_json(), status=400 if outcome.all_rejected else 200)
