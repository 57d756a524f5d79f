"""`POST /api/v1/events/`: the generic ingest door (framing read from the body, see SPEC).

Besides the JSON framings of `ingest.framing`, it takes Python's `logging.handlers.HTTPHandler`
records (one form-encoded LogRecord a request: python_logging.py), and reads pino's and
bunyan's `msg` as the event's `message`.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponseBase
from rest_framework.authentication import SessionAuthentication

from ingest import framing, pipeline
from ingest.doors import python_logging
from ingest.doors.http import Decoded, IngestDoor, LeaveBodyParser, json_reply
from ingest.doors.records import adopt_msg
from tokens.auth import ApiTokenAuthentication


class GenericDoor(IngestDoor):
    """The generic door as a view: the project's `/api/v1/events/` hands it every POST.
    Answers 200 when anything was stored or was a duplicate, 400 when all were rejected.

    It hears a session as the rest of the API does (a browser's POST is refused by the CSRF
    check, then for its missing `ingest` scope, not as unauthenticated), and its parser reads
    nothing: the body is the door's, and the CSRF check touching `request.POST` must not be 415.
    """

    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    parser_classes = [LeaveBodyParser]

    def decode(self, request: Any, body: bytes, **kwargs: Any) -> Decoded:
        content_type = request.META.get("CONTENT_TYPE")
        if python_logging.is_form_record(body, content_type):
            return Decoded([pipeline.RawItem(python_logging.record_event(body))])
        values = framing.split_events(body, content_type=content_type)
        return Decoded([pipeline.RawItem(adopt_msg(value)) for value in values])

    def reply(self, decoded: Decoded, outcome: pipeline.IngestOutcome) -> HttpResponseBase:
        return json_reply(outcome.as_json(), status=400 if outcome.all_rejected else 200)
