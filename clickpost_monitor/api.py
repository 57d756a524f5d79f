"""`/api/v1/events/`: one URL, two verbs, two rooms. GET is the read room's event list, POST the
write room's generic door; each request is handed whole to that room's view, which
authenticates, checks its scope, throttles and answers for itself. The project package routes
them, so neither room imports the other."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBase
from rest_framework.permissions import BasePermission
from rest_framework.views import APIView

from ingest.doors.generic import GenericDoor
from stats.api import schema
from stats.api.views import EventListView

list_events = EventListView.as_view()
ingest_events = GenericDoor.as_view()


class EventsView(APIView):
    """Routes by verb. A class only so that the OpenAPI schema lists both operations, and
    whoever reads a view's permissions finds each verb's delegate's; it checks nothing itself."""

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        return self.post(request) if request.method == "POST" else self.get(request)

    def get_permissions(self) -> list[BasePermission]:
        delegate = GenericDoor if self.request.method == "POST" else EventListView
        return delegate().get_permissions()

    @schema.ingest
    def post(self, request: HttpRequest) -> HttpResponseBase:
        return ingest_events(request)

    @schema.event_list
    def get(self, request: HttpRequest) -> HttpResponseBase:
        return list_events(request)
