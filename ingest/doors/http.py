"""The one ingest HTTP path every door uses: credentials, body, limits, refusals.

Written once here, so the generic door and every protocol door refuse the same requests the same
way (SPEC "Ingest"):

- `read_body` reads the request stream under a byte cap (a declared Content-Length, or a chunked
  body de-chunked by gunicorn and marked `wsgi.input_terminated`) and inflates gzip or deflate
  under the same cap, so neither a huge upload nor a gzip bomb is held in memory past the limit.
  A stream the server cannot read (a malformed chunked body) is a 400, never a 500.
- `within_limit` is the event-count cap (413); `check_content_type` (415) stays beside the JSON
  framing it protects (`ingest.framing`), and doors with their own media types refuse theirs.
- `Door.answer` is the one shape of every door (body, decode, limit, pipeline, reply); a refused
  request is recorded on the token (is my shipper working?) and answered by the API's exception
  handler (its one error shape) unless the door's protocol has its own refusal shape.
- `IngestDoor` is the DRF view every protocol door derives from: token auth with the `ingest`
  scope, the per-token throttle, no DRF body parsing. Doors whose clients send the token
  elsewhere (Splunk's `Authorization: Splunk`, Seq's `X-Seq-ApiKey`, Logz.io's `?token=`) name
  that form's authentication class from `tokens.auth`, which owns every credential form.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import orjson
from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from rest_framework.exceptions import APIException
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from ingest import pipeline
from ingest.framing import FramingError
from tokens.auth import ApiTokenAuthentication, CanIngest, IngestThrottle, request_token

try:  # gunicorn (the deployed server) raises its own errors for a malformed chunked body
    from gunicorn.http.errors import ParseException as _ServerParseError
except ImportError:  # pragma: no cover - another WSGI server
    _ServerParseError = OSError

READ_CHUNK = 64 * 1024
# What a server's input stream raises for a body it cannot read: the client's fault, a 400.
UNREADABLE_BODY: tuple[type[Exception], ...] = (OSError, ValueError, _ServerParseError)
_CODINGS = {"gzip": "gzip", "x-gzip": "gzip", "deflate": "deflate"}
_GZIP_MAGIC = b"\x1f\x8b"
_AUTO_HEADER_WBITS = 32 + zlib.MAX_WBITS  # zlib picks gzip or zlib framing from the header
_RAW_DEFLATE_WBITS = -zlib.MAX_WBITS


class ByteStream(Protocol):
    def read(self, size: int, /) -> bytes: ...


# ---------------------------------------------------------------- body


def read_body(
    stream: ByteStream,
    *,
    content_length: int | None,
    content_encoding: str | None,
    max_bytes: int,
) -> bytes:
    """The decompressed body, at most `max_bytes` long, read from `stream`.

    `content_length` None means chunked or unknown: read until EOF. The compressed body is capped
    at `max_bytes` too. A declared length over the cap is refused (413) before anything is read.
    gzip (multi-member too), x-gzip and deflate (zlib-wrapped or raw) are inflated step by step,
    so a bomb stops at `max_bytes + 1` bytes of output. Raises FramingError: 400 for a short,
    corrupt or unreadable body, 413 over the limit, 415 for another Content-Encoding.
    """
    coding = _coding(content_encoding)
    if content_length is not None and content_length < 0:
        raise FramingError(400, f"Content-Length {content_length} is not valid")
    if content_length is not None and content_length > max_bytes:
        raise FramingError(413, f"body is {content_length} bytes; the limit is {max_bytes} bytes")
    raw = _read_capped(stream, content_length=content_length, max_bytes=max_bytes)
    if coding is None or not raw:
        return raw
    return _inflate(raw, coding=coding, max_bytes=max_bytes)


def request_body(request: Any) -> bytes:
    """The request's decompressed body under INGEST_MAX_BYTES; raises FramingError."""
    stream, length = _body_stream(request)
    return read_body(
        stream,
        content_length=length,
        content_encoding=request.META.get("HTTP_CONTENT_ENCODING"),
        max_bytes=settings.INGEST_MAX_BYTES,
    )


def within_limit(items: Sequence[pipeline.RawItem]) -> Sequence[pipeline.RawItem]:
    """`items`, or 413 when there are more than INGEST_MAX_EVENTS."""
    limit = settings.INGEST_MAX_EVENTS
    if len(items) > limit:
        raise FramingError(413, f"batch has {len(items)} events; the limit is {limit}")
    return items


def _body_stream(request: Any) -> tuple[ByteStream, int | None]:
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
            raise FramingError(400, f"Content-Length {declared!r} is not a number") from None
        return request._request, length
    if meta.get("wsgi.input_terminated"):
        return meta["wsgi.input"], None
    return request._request, 0


def _coding(header: str | None) -> str | None:
    """The one content coding to undo, or None; stacked or unknown codings are a 415."""
    names = [name.strip().lower() for name in (header or "").split(",")]
    names = [name for name in names if name and name != "identity"]
    if not names:
        return None
    if len(names) > 1 or names[0] not in _CODINGS:
        raise FramingError(
            415, f"Content-Encoding {header!r} is not supported; send gzip, deflate or identity"
        )
    return _CODINGS[names[0]]


def _read_capped(stream: ByteStream, *, content_length: int | None, max_bytes: int) -> bytes:
    """Read the declared length, or until EOF, never more than `max_bytes + 1` bytes.

    The server raises `UNREADABLE_BODY` errors (gunicorn's InvalidChunkSize,
    ChunkMissingTerminator, NoMoreData; Django's UnreadablePostError) for a body it cannot read:
    that is the client's fault, a 400.
    """
    want = max_bytes + 1 if content_length is None else content_length
    parts: list[bytes] = []
    got = 0
    while got < want:
        try:
            chunk = stream.read(min(READ_CHUNK, want - got))
        except UNREADABLE_BODY as error:
            why = str(error) or type(error).__name__
            raise FramingError(400, f"body could not be read after {got} bytes: {why}") from None
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    if got > max_bytes:
        raise FramingError(413, f"body is over the limit of {max_bytes} bytes")
    if content_length is not None and got < content_length:
        raise FramingError(
            400, f"body ended after {got} of the {content_length} bytes of its Content-Length"
        )
    return b"".join(parts)


def _inflate(raw: bytes, *, coding: str, max_bytes: int) -> bytes:
    """Undo gzip/deflate, input fed in slices so each call's output is bounded by the budget."""
    wbits = _wbits(raw, coding)
    multi_member = raw.startswith(_GZIP_MAGIC)
    decompressor = zlib.decompressobj(wbits)
    out = bytearray()
    try:
        for piece in _slices(raw):
            data: bytes | memoryview = piece
            while data:
                if decompressor.eof:
                    if not multi_member:
                        raise _corrupt(coding, "there is data after the end of the stream")
                    decompressor = zlib.decompressobj(wbits)
                out += decompressor.decompress(data, max_bytes + 1 - len(out))
                if len(out) > max_bytes:
                    raise FramingError(
                        413, f"decompressed body is over the limit of {max_bytes} bytes"
                    )
                data = (
                    decompressor.unused_data if decompressor.eof else decompressor.unconsumed_tail
                )
    except zlib.error as exc:
        raise _corrupt(coding, str(exc)) from None
    if not decompressor.eof:
        raise _corrupt(coding, "the compressed data ends early")
    return bytes(out)


def _wbits(raw: bytes, coding: str) -> int:
    """Deflate comes zlib-wrapped (RFC 9110) or raw (what many clients send): tell by header."""
    if coding == "gzip" or raw.startswith(_GZIP_MAGIC) or _has_zlib_header(raw):
        return _AUTO_HEADER_WBITS
    return _RAW_DEFLATE_WBITS


def _has_zlib_header(raw: bytes) -> bool:
    if len(raw) < 2:
        return False
    cmf, flg = raw[0], raw[1]
    return cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf * 256 + flg) % 31 == 0


def _slices(raw: bytes) -> Iterator[memoryview]:
    view = memoryview(raw)
    for start in range(0, len(raw), READ_CHUNK):
        yield view[start : start + READ_CHUNK]


def _corrupt(coding: str, why: str) -> FramingError:
    return FramingError(400, f"body is not valid {coding}: {why}")


# ---------------------------------------------------------------- answers


def token_id(request: Any) -> int | None:
    token = request_token(request)
    return token.pk if token else None


def ingest(request: Any, items: Sequence[pipeline.RawItem]) -> pipeline.IngestOutcome:
    """The one pipeline, counted on the request's token."""
    return pipeline.ingest_items(items, token_id=token_id(request))


_LINE_SEPARATORS = ((b"\xe2\x80\xa8", b"\\u2028"), (b"\xe2\x80\xa9", b"\\u2029"))


def json_reply(data: dict, *, status: int = 200) -> HttpResponseBase:
    """`data` answered as a DRF `Response` renders it through the doors' `JSONRenderer`
    (compact, UTF-8, U+2028 and U+2029 escaped; Content-Type `application/json`), the bytes
    made by orjson: a door's reply is a few counts, and DRF's Response and renderer were a
    twentieth of a small batch's CPU (docs/PERFORMANCE.md, round 7). What orjson cannot write
    (a lone surrogate, an integer past 64 bits) is left to DRF's Response, as before;
    tests/ingest/test_json_reply.py compares the two on generated data."""
    try:
        content = orjson.dumps(data)
    except TypeError:  # orjson.JSONEncodeError
        return Response(data, status=status)
    for raw, escaped in _LINE_SEPARATORS:
        if raw in content:
            content = content.replace(raw, escaped)
    return HttpResponse(content, status=status, content_type="application/json")


class Refused(APIException):
    """A body refused as a whole (a FramingError), with the refusal's own status."""

    def __init__(self, error: FramingError) -> None:
        super().__init__(error.message)
        self.status_code = error.status


# ---------------------------------------------------------------- DRF plumbing


class LeaveBodyParser(BaseParser):
    """Claims every media type and reads nothing: the body is the door's to read.

    DRF parses the body when anything touches `request.POST`, and its CSRF check for a session
    does; with no parser at all that is a 415 before the permission check could answer 403.
    """

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None) -> dict:
        return {}


class ProtocolNegotiation(BaseContentNegotiation):
    """The protocol decides the reply's type, not Accept: the Elastic clients ask for
    `application/vnd.elasticsearch+json`, OTLP's for protobuf; DRF would answer 406."""

    def select_parser(self, request, parsers):
        """None for a door that parses nothing; the generic door's parser reads nothing."""
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


@dataclass(frozen=True, slots=True)
class Decoded:
    """A door's body, decoded: the items, and what its reply needs from the decoding (OTLP's
    encoding, the bulk actions), opaque to the template."""

    items: Sequence[pipeline.RawItem]
    note: Any = None


class Door:
    """The shape every door shares (`answer`): read the body, let the door decode it, apply the
    event-count limit, run the pipeline, let the door reply. A door only decodes and replies
    (and may answer a refusal in its protocol's shape); nothing else differs between doors."""

    def answer(self, request: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            self.before_body(request)
            decoded = self.decode(request, request_body(request), **kwargs)
            within_limit(decoded.items)
        except FramingError as error:
            pipeline.record_refused_request(token_id(request), error.message)
            return self.refuse(request, error)
        return self.reply(decoded, ingest(request, decoded.items))

    def before_body(self, request: Any) -> None:
        """Checks that come before the body is read (raise FramingError); none by default."""

    def decode(self, request: Any, body: bytes, **kwargs: Any) -> Decoded:
        raise NotImplementedError

    def reply(self, decoded: Decoded, outcome: pipeline.IngestOutcome) -> HttpResponseBase:
        raise NotImplementedError

    def refuse(self, request: Any, error: FramingError) -> HttpResponseBase:
        """A request refused whole, answered by the API's exception handler (settings'
        EXCEPTION_HANDLER), so in the API's one error shape with its status."""
        handler = cast(Callable[..., Response], api_settings.EXCEPTION_HANDLER)
        return handler(Refused(error), {"request": request})


class IngestDoor(Door, APIView):
    """A protocol's POST door: token auth with the `ingest` scope, throttled, raw body.

    Every POST a shipper sends with its token comes in through `admit` and `serve`
    (ingest.doors.middleware.IngestShortcutMiddleware), not through DRF's `dispatch`; any other
    request (no credentials, a wrong or revoked token, another scope) takes `dispatch` as before.
    """

    content_negotiation_class = ProtocolNegotiation
    authentication_classes: list = [ApiTokenAuthentication]
    permission_classes = [CanIngest]
    throttle_classes = [IngestThrottle]
    parser_classes: list = []  # the body is the decoder's, not DRF's

    def post(self, request: Any, **kwargs: Any) -> HttpResponseBase:
        return self.answer(request, **kwargs)

    def admit(self, request: HttpRequest, **kwargs: Any) -> bool:
        """Whether this POST carries a credential this door accepts, of a token that may ingest.

        Decided with no side effect (a token lookup, cached per process), so that a request not
        admitted goes to `dispatch`, which answers it (401, 403, a session's CSRF check) as it
        always has; a database that cannot be asked is `dispatch`'s to answer too (503).
        """
        self.args, self.kwargs = (), kwargs
        self.request = self.initialize_request(request, **kwargs)
        try:
            if request_token(self.request) is None:  # authenticates, as DRF does, lazily
                return False
        except (APIException, DatabaseError):
            return False
        return all(p.has_permission(self.request, self) for p in self.get_permissions())

    def serve(self) -> HttpResponseBase:
        """An admitted POST, answered as `dispatch` answers it (DRF's `initial`, the handler,
        `handle_exception`, `finalize_response`) minus what an admitted request has settled:
        authentication, permissions, versioning, format suffixes."""
        request = self.request
        self.headers = self.default_response_headers
        self.format_kwarg = None
        request.accepted_renderer, request.accepted_media_type = self.perform_content_negotiation(
            request
        )
        try:
            self.check_throttles(request)
            response = self.post(request, **self.kwargs)
        except Exception as exc:
            response = self.handle_exception(exc)
        # django-stubs' DRF types a response as DRF's own; any HttpResponse is finalized alike.
        return self.finalize_response(request, cast(Response, response), **self.kwargs)
