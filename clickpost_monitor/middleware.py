"""Response headers Django does not set by itself.

Each is a `process_response` (Django's `MiddlewareMixin`), so that the server's lean path for
an admitted ingest POST (ingest/doors/handler.py) applies the very same code to its answer.
They stay synchronous only (`SyncOnly`), as they were: under Django's ASGI handler an
async-capable `MiddlewareMixin` would hop to a thread for each `process_response`.
"""

from __future__ import annotations

from django.utils.deprecation import MiddlewareMixin

# Only our own scripts, styles and images: plotly.js is served from our static files.
# Plotly sets inline style attributes on its SVG, hence 'unsafe-inline' for styles only.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
)


class SyncOnly(MiddlewareMixin):
    async_capable = False


class ContentSecurityPolicyMiddleware(SyncOnly):
    def process_response(self, request, response):
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response


class PrivateCacheMiddleware(SyncOnly):
    """`Cache-Control: private, no-store` on every response to an authenticated request: a
    session (pages, the read API) or a token (DRF sets the token's user on the request too).

    What a logged-in user or a token sees must not be kept by a shared proxy nor by the browser's
    disk cache. Static files never reach here (WhiteNoise answers them first, cacheable)."""

    VALUE = "private, no-store"

    def process_response(self, request, response):
        if _authenticated(request):
            response.headers["Cache-Control"] = self.VALUE
        return response


def _authenticated(request) -> bool:
    user = getattr(request, "user", None)
    try:
        return bool(user is not None and user.is_authenticated)
    except Exception:  # the session could not be read (database down): nothing was shown
        return False
