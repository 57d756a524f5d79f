"""`POST /api/v1/events/`: the generic ingest door (framing read from the body, see SPEC).

Besides the JSON framings of `ingest.framing`, it takes Python's `logging.handlers.HTTPHandler`
records (one form-encoded LogRecord a request: python_logging.py), and reads pino's and
bunyan's `msg` as the event's `message`.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.response import Response
from rest_framework.settings import api_settings

from ingest import framing, pipeline
from ingest.doors import python_logging
from ingest.doors.http import IngestDoor, LeaveBodyParser, ingest, refusal, request_body
from ingest.doors.records import adopt_msg


def read_items(request) -> list[pipeline.RawItem]:
    """Body -> raw items, with the size and count limits; raises framing.FramingError."""
    body = request_body(request)
    content_type = request.META.get("CONTENT_TYPE")
    if python_logging.is_form_record(body, content_type):
        return [pipeline.RawItem(python_logging.record_event(body))]
    values = framing.split_events(
        body, content_type=content_type, max_events=settings.INGEST_MAX_EVENTS
    )
    return [pipeline.RawItem(adopt_msg(value)) for value in values]


def ingest_generic(request) -> Response:
    """Answer 200 when anything was stored or was a duplicate, 400 when all were rejected."""
    try:
        items = read_items(request)
    except framing.FramingError as error:
        return refusal(request, error)
    outcome = ingest(request, items)
    return Response(outcome.as_json(), status=400 if outcome.all_rejected else 200)


class GenericDoor(IngestDoor):
    """The generic door as a view: the project's `/api/v1/events/` hands it every POST.

    It hears a session as the rest of the API does (a browser's POST is refused by the CSRF
    check, then for its missing `ingest` scope, not as unauthenticated), and its parser reads
    nothing: the body is the door's, and the CSRF check touching `request.POST` must not be 415.
    """

    authentication_classes = api_settings.DEFAULT_AUTHENTICATION_CLASSES
    parser_classes = [LeaveBodyParser]

    def post(self, request) -> Response:
        return ingest_generic(request)
