"""Where the rooms meet on one URL: `/api/v1/events/` is both the generic ingest door (POST,
write room) and the event list (GET, read room). The project package composes them, so neither
room imports the other."""

from __future__ import annotations

from ingest.doors.generic import ingest_generic
from ingest.doors.http import LeaveBodyParser
from stats.api import schema
from stats.api.views import EventListView
from tokens.auth import CanIngest, CanRead, IngestThrottle, ReadThrottle


class EventsView(EventListView):
    """POST ingests a batch (ingest scope); GET lists stored events (read scope)."""

    # The body is the door's to read, not DRF's; a parser that reads nothing lets a session's
    # CSRF check (which touches request.POST) run without a 415 for the Content-Type.
    parser_classes = [LeaveBodyParser]

    def get_permissions(self):
        return [CanIngest()] if self.request.method == "POST" else [CanRead()]

    def get_throttles(self):
        return [IngestThrottle()] if self.request.method == "POST" else [ReadThrottle()]

    @schema.ingest
    def post(self, request):
        return ingest_generic(request)
