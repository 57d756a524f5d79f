"""Every API error is JSON of one shape (README "Errors", the OpenAPI `ErrorOut`):

    {"error": "<one line for a human, naming the field at fault>",
     "detail": {"<field>": ["<reason>", ...], ...},       # {} when no field is at fault
     "retry_after": <seconds>}                              # only when a Retry-After is sent

`error_shape.error_body` builds it, for DRF's exceptions (json_exception_handler), Django's
refusals and errors outside DRF alike. The ingest answer that lists each rejected event (SPEC
"Ingest") is not an error body: it is the batch's outcome.

Database trouble (down, restarting, overloaded) is a 503 with Retry-After, so shippers back off
and retry; nothing was half-stored because every batch is one transaction. A write is told that
nothing was stored, a read to try again; a page gets templates/503.html.
"""

from __future__ import annotations

import logging
import sys

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template import loader
from rest_framework import status
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler

from clickpost_monitor.error_shape import error_body

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5
DATABASE_UNAVAILABLE = "The database is unavailable; nothing was stored. Retry later."
DATABASE_UNAVAILABLE_READ = "The database is unavailable; try again in a few seconds."
DATABASE_ERROR = "Database error; nothing was stored."
DATABASE_ERROR_READ = "Database error; try again later."
READS = frozenset({"GET", "HEAD", "OPTIONS"})


def error_response(message: str, *, status: int, retry_after: int | None = None) -> JsonResponse:
    """An error outside DRF (Django's refusals, a database outage) in the same shape."""
    response = JsonResponse(error_body(message, retry_after=retry_after), status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def _summary(detail) -> str:
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list) and detail:
        return _summary(detail[0])
    if isinstance(detail, dict) and detail:
        field, reasons = next(iter(detail.items()))
        return f"{field}: {_summary(reasons)}"
    return "Invalid request."


def _is_read(request) -> bool:
    return request is not None and request.method in READS


def database_unavailable_response(request=None) -> JsonResponse:
    message = DATABASE_UNAVAILABLE_READ if _is_read(request) else DATABASE_UNAVAILABLE
    return error_response(message, status=503, retry_after=RETRY_AFTER_SECONDS)


def database_unavailable_page(request) -> HttpResponse:
    """The page a browser gets while the database is down: no template that needs the database
    (no user, no session, no static manifest), a Retry-After and a refresh after as long."""
    content = loader.render_to_string("503.html", {"retry_after": RETRY_AFTER_SECONDS})
    response = HttpResponse(content, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _unavailable(exc: BaseException | None) -> bool:
    """The database could not be reached (or the connection broke), however deep in `exc`."""
    while exc is not None:
        if isinstance(exc, OperationalError | InterfaceError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def database_unavailable(request) -> HttpResponse:
    if _wants_html(request):
        return database_unavailable_page(request)
    return database_unavailable_response(request)


class DatabaseUnavailableMiddleware:
    """A view (page or API outside DRF) that finds the database down answers 503, logged as one
    warning line: pages the 503 page, the rest JSON. Failures outside a view reach
    json_server_error, which answers the same."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not _unavailable(exception):
            return None
        log.warning("database unavailable: %s", exception)
        return database_unavailable(request)


def json_exception_handler(exc, context):
    request = context.get("request")
    if isinstance(exc, OperationalError | InterfaceError):
        log.warning("database unavailable: %s", exc)
        return database_unavailable_response(request)
    response = exception_handler(exc, context)
    if response is None:
        if isinstance(exc, DatabaseError):
            log.exception("database error")
            message = DATABASE_ERROR_READ if _is_read(request) else DATABASE_ERROR
            return Response(
                error_body(message, retry_after=RETRY_AFTER_SECONDS),
                status=503,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        return None  # a bug: Django's handler500 answers with JSON for the API
    data = response.data
    if isinstance(exc, ValidationError):  # reasons by field: the body names each one
        fields = data if isinstance(data, dict) else {"non_field_errors": data}
        message = _summary(fields)
    else:  # one sentence (DRF's {"detail": "..."}): no field is at fault
        fields = {}
        message = _summary(data.get("detail", data) if isinstance(data, dict) else data)
    retry_after = exc.wait if isinstance(exc, Throttled) else None  # type: ignore[attr-defined]
    response.data = error_body(message, fields=fields, retry_after=retry_after)
    if response.status_code == status.HTTP_401_UNAUTHORIZED:
        response["WWW-Authenticate"] = 'Bearer realm="clickpost-monitor"'
    return response


def _wants_html(request) -> bool:
    """Pages get Django's HTML error pages; the API and the shipper doors never do."""
    path = request.path
    return not (
        path.startswith("/api/")
        or path.startswith("/v1/")
        or path.startswith("/loki/")
        or path.startswith(("/services/collector", "/ingest/clef", "/betterstack", "/logzio"))
        or "_bulk" in path
    )


def json_page_not_found(request, exception=None):
    if _wants_html(request):
        from django.views.defaults import page_not_found

        return page_not_found(request, exception)
    return error_response(f"Not found: {request.path}", status=404)


# Django refuses these before any view runs (SuspiciousOperation and kin): answered as 400.
_BAD_REQUESTS = {
    "TooManyFieldsSent": "too many query parameters or form fields",
    "TooManyFilesSent": "too many files",
    "RequestDataTooBig": "the request body is too large",
    "DisallowedHost": "this host name is not served here",
}


def json_bad_request(request, exception=None):
    if _wants_html(request):
        from django.views.defaults import bad_request

        return bad_request(request, exception)
    reason = _BAD_REQUESTS.get(type(exception).__name__, "the request was refused")
    return error_response(f"Bad request: {reason}.", status=400)


def json_server_error(request):
    if _unavailable(sys.exc_info()[1]):  # Django calls this inside its `except`
        return database_unavailable(request)
    if _wants_html(request):
        from django.views.defaults import server_error

        return server_error(request)
    return error_response("Internal server error; it has been logged.", status=500)
