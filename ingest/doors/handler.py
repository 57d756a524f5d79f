"""`LeanDoorHandler`: the server's WSGI app for a shipper's POST (clickpost_monitor/asgi.py gives
it the requests `buffered.Direct` picks), answering an admitted POST without Django's handler.

Under gunicorn every POST to an ingest door is run on an app thread by this handler. An admitted
one (`IngestDoor.admit`: a credential of the door's forms, of an active token with the `ingest`
scope) is answered here by exactly what `IngestShortcutMiddleware` runs for it inside Django's
handler: the request and response halves of the middleware it passes (MIDDLEWARE before the
shortcut, then INGEST_MIDDLEWARE: the host check, the headers of every answer) and the door's
`serve`. What is left out is the machinery around them: Django's middleware chain (a wrapper
and an exception converter per middleware, the shortcut's own layer) and the handler's
dispatch, a tenth of a small batch's worker CPU (docs/PERFORMANCE.md, round 7).

Kept exactly as Django's handler does it: `request_started` before anything (reset_queries and
`close_old_connections`, the connection's lifetime), `request_finished` when the answer is
closed (Django's `HttpResponse.close`: `close_old_connections` again, the caches, the
shortcut's note of a fine connection), the 4xx/5xx line of the `django.request` logger, an
exception answered as `convert_exception_to_response` answers it.

Anything else goes to Django's own handler, unchanged: a POST the door does not admit (no or a
wrong credential, a revoked token, another scope, a session, a token that cannot be looked up),
and one a request half answers or refuses (a host not in ALLOWED_HOSTS, an HTTPS redirect). That
handler sends `request_started` again: a second `close_old_connections` on a connection just
checked, which changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core import signals
from django.core.handlers.exception import response_for_exception
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest, get_script_name
from django.http import HttpResponseBase
from django.urls import set_script_prefix, set_urlconf
from django.utils.log import log_response
from django.utils.module_loading import import_string

from ingest.doors.middleware import (
    _door_for,
    _serve_admitted,
    _trust_a_recently_fine_connection,
)

SHORTCUT = "ingest.doors.middleware.IngestShortcutMiddleware"


def _never_called(request: Any) -> HttpResponseBase:
    raise AssertionError("the lean path calls the middleware's halves, not the middleware")


def _loaded(paths: list[str]) -> list[Any]:
    return [import_string(path)(_never_called) for path in paths]


class LeanDoorHandler:
    """A WSGI app: an admitted door POST answered here, everything else by `django`."""

    def __init__(self, django: WSGIHandler) -> None:
        self.django = django
        # Around the shortcut in Django's chain (its exception converter between them), then
        # inside it (INGEST_MIDDLEWARE, with none: an exception there reaches the shortcut's).
        outer = _loaded(settings.MIDDLEWARE[: settings.MIDDLEWARE.index(SHORTCUT)])
        inner = _loaded(settings.INGEST_MIDDLEWARE)
        self.request_halves: list[Callable[..., HttpResponseBase | None]] = [
            m.process_request for m in (*outer, *inner) if hasattr(m, "process_request")
        ]
        self.inner_halves = [m.process_response for m in reversed(inner)]
        self.outer_halves = [m.process_response for m in reversed(outer)]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable:
        set_script_prefix(get_script_name(environ))
        signals.request_started.send(sender=WSGIHandler, environ=environ)
        request = WSGIRequest(environ)
        set_urlconf(settings.ROOT_URLCONF)
        answered = self._answer(request)
        if answered is None:
            return self.django(environ, start_response)
        # django-stubs declares neither attribute below, nor `log_response` for any response.
        response: Any = answered
        response._resource_closers.append(request.close)
        if response.status_code >= 400:
            log_response(
                "%s: %s", response.reason_phrase, request.path, response=response, request=request
            )
        response._handler_class = WSGIHandler  # the sender of request_finished, as Django's
        status = f"{response.status_code} {response.reason_phrase}"
        cookies = (("Set-Cookie", c.output(header="")) for c in response.cookies.values())
        start_response(status, [*response.items(), *cookies])
        return response

    def _answer(self, request: WSGIRequest) -> HttpResponseBase | None:
        """The admitted POST's answer, or None for Django's handler to answer."""
        try:
            for request_half in self.request_halves:
                if request_half(request) is not None:
                    return None
            routed = _door_for(request)
            if routed is None or not routed[0].admit(request, **routed[1]):
                return None
        except Exception:  # the host check, a disallowed agent: the full stack's to answer
            return None
        request.ingest_door = routed[0]  # type: ignore[attr-defined]
        _trust_a_recently_fine_connection()
        try:
            response = _serve_admitted(request)
            for response_half in self.inner_halves:
                response = response_half(request, response)
        except Exception as exc:
            response = response_for_exception(request, exc)
        try:
            for response_half in self.outer_halves:
                response = response_half(request, response)
        except Exception as exc:
            response = response_for_exception(request, exc)
        return response
