"""`/api/v1/events/`: one URL, two verbs, two rooms. GET is the read room's event list, POST the
write room's generic door; each request is handed whole to that room's view, which
authenticates, checks its scope, throttles and answers for itself. The project package routes
them, so neither room imports the other."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBase
from rest_framework.views import APIView

from ingest.doors.generic import GenericDoor
from stats.api import schema
from stats.api.views import EventListView, JsonOnly
from tokens.auth import ReadThrottle

list_events = EventListView.as_view()
ingest_events = GenericDoor.as_view()


class EventsView(APIView):
    """POST ingests a batch (ingest scope); GET lists stored events (read scope)."""

    # A class, not a function, so that the OpenAPI schema lists both operations, whoever reads
    # a view's permissions finds each verb's delegate's, and OPTIONS or another verb is
    # answered for the URL as a whole (its Allow names GET and POST), as the list would.
    throttle_classes = [ReadThrottle]
    content_negotiation_class = JsonOnly
    # A shipper's POST with its token is served by the door itself, this view skipped
    # (ingest.doors.middleware.IngestShortcutMiddleware); any other POST comes here.
    ingest_door = GenericDoor

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        if request.method == "POST":
            return self.post(request)
        if request.method in ("GET", "HEAD"):
            return self.get(request)
        return super().dispatch(request, *args, **kwargs)

    def get_permissions(self):
        delegate = GenericDoor if self.request.method == "POST" else EventListView
        return delegate().get_permissions()

    @schema.ingest
    def post(self, request: HttpRequest) -> HttpResponseBase:
        return ingest_events(request)

    @schema.event_list
    def get(self, request: HttpRequest) -> HttpResponseBase:
        return list_events(request)
