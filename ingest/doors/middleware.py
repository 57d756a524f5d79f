"""The doors' middleware.

`IngestShortcutMiddleware`: a shipper's POST with its token skips what only pages need.
Right after SecurityMiddleware, it sends a POST to an ingest door that the door admits (a
credential of the door's forms, of an active token with the `ingest` scope:
`IngestDoor.admit`) through `settings.INGEST_MIDDLEWARE` only (the host check, the response
headers every answer carries) to the door's `serve`, not through sessions, CSRF, the user,
messages, axes and DRF's dispatch: about a fifth of a small batch's CPU (docs/PERFORMANCE.md,
issue 22). Everything else, refusals of the credential included, takes the full stack, so its
answers stay exactly what they were. Under the server, `ingest.doors.handler.LeanDoorHandler`
runs the same steps for an admitted POST without Django's handler around them; this middleware
serves the other ways in (Django's test client, a WSGI server).

An admitted POST also trusts its thread's database connection when that connection ended a
request without error less than RECENTLY_FINE_SECONDS ago: Django's health check (a `SELECT 1`
round trip before the request's first statement, CONN_HEALTH_CHECKS) is skipped. A connection
that broke in that second (a restart of PostgreSQL that fast) fails the request's statement
instead: a 503 as when the database is down, and the connection is closed at the request's end
(Django's `close_old_connections` tests a connection that raised), so the next request
reconnects. The throttle's statement, when a request makes one, checks the connection anyway
(tokens/ratelimit.py).

`ElasticsearchRootMiddleware`: `GET /` is the dashboard for browsers and the node info for
Elasticsearch clients. rsyslog, Logstash, Vector and the Elastic clients ask `GET /` (or
`HEAD /`) which Elasticsearch they talk to. They send Basic auth or ask for JSON; a browser does
neither (it asks for text/html), so only those requests are answered here and every other one
goes on to the page.
"""

from __future__ import annotations

import threading
import time
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.signals import request_finished
from django.db import connection
from django.urls import Resolver404, ResolverMatch, get_urlconf, resolve
from django.utils.module_loading import import_string

from ingest.doors.http import IngestDoor
from ingest.doors.views import NodeInfoView


class IngestShortcutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        served = _serve_admitted
        for path in reversed(settings.INGEST_MIDDLEWARE):
            served = import_string(path)(served)
        self.served = served

    def __call__(self, request):
        if request.method == "POST":
            routed = _door_for(request)
            if routed is not None and routed[0].admit(request, **routed[1]):
                request.ingest_door = routed[0]
                _trust_a_recently_fine_connection()
                return self.served(request)
        return self.get_response(request)


RECENTLY_FINE_SECONDS = 1.0
_fine = threading.local()  # this thread's connection and when it last ended a request well


def _note_a_fine_connection(**kwargs) -> None:
    """After each request (after Django's `close_old_connections`): this thread's connection,
    if it is kept and saw no error."""
    kept = connection.connection
    fine = kept is not None and not connection.errors_occurred
    _fine.last = (kept, time.monotonic()) if fine else None


request_finished.connect(_note_a_fine_connection, dispatch_uid="ingest-fine-connection")


def _trust_a_recently_fine_connection() -> None:
    """No health check in this request for a connection that was fine a moment ago."""
    last = getattr(_fine, "last", None)
    if (
        last is not None
        and last[0] is connection.connection
        and time.monotonic() - last[1] < RECENTLY_FINE_SECONDS
    ):
        wrapper: Any = connection  # django-stubs does not declare the health-check attributes
        wrapper.health_check_done = True


def routes_to_door(path: str) -> bool:
    """Whether a POST to `path` is an ingest door's (the server's one-hop path takes it)."""
    return _routed(path) is not None


def _routed(path: str) -> tuple[ResolverMatch, type[IngestDoor]] | None:
    """The route of `path` and the door that answers its POSTs, or None.

    A view routed to a door for POST says which with `ingest_door` (the project's
    `/api/v1/events/`, whose GET is the read room's)."""
    return _routed_in(get_urlconf() or settings.ROOT_URLCONF, path)


# Kept per URLconf and path: the server asks once (`routes_to_door`) and this middleware again
# for every POST, and resolving is a walk of the URL patterns each time (issue 22). A shipper
# posts to a few paths; the bound keeps a scan of random paths from growing it.
@lru_cache(maxsize=512)
def _routed_in(urlconf: str, path: str) -> tuple[ResolverMatch, type[IngestDoor]] | None:
    try:
        match = resolve(path, urlconf)
    except Resolver404:
        return None
    view_class = getattr(match.func, "view_class", None)
    door_class = getattr(view_class, "ingest_door", view_class)
    if isinstance(door_class, type) and issubclass(door_class, IngestDoor):
        return match, door_class
    return None


def _door_for(request) -> tuple[IngestDoor, dict] | None:
    """A fresh instance of the door this request's path routes to and the route's arguments."""
    routed = _routed(request.path_info)
    if routed is None:
        return None
    match, door_class = routed
    routed_to_door = door_class is getattr(match.func, "view_class", None)
    initkwargs = getattr(match.func, "view_initkwargs", {}) if routed_to_door else {}
    request.resolver_match = match
    return door_class(**initkwargs), match.kwargs


def _serve_admitted(request):
    """The door's answer, rendered as Django renders a view's (the middleware reads it)."""
    response = request.ingest_door.serve()
    render = getattr(response, "render", None)
    return render() if callable(render) else response


def asks_like_elasticsearch(request) -> bool:
    """Basic auth, or an Accept that wants JSON and not HTML."""
    authorization = request.META.get("HTTP_AUTHORIZATION", "")
    accept = request.META.get("HTTP_ACCEPT", "").lower()
    basic = authorization.strip().lower().startswith("basic ")
    return basic or ("json" in accept and "text/html" not in accept)


class ElasticsearchRootMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.node_info = NodeInfoView.as_view()

    def __call__(self, request):
        if (
            request.path_info == "/"
            and request.method in ("GET", "HEAD")
            and asks_like_elasticsearch(request)
        ):
            return self.node_info(request).render()
        return self.get_response(request)
