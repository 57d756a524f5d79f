"""`GET /` is the dashboard for browsers and the node info for Elasticsearch clients.

rsyslog, Logstash, Vector and the Elastic clients ask `GET /` (or `HEAD /`) which Elasticsearch
they talk to. They send Basic auth or ask for JSON; a browser does neither (it asks for
text/html), so only those requests are answered here and every other one goes on to the page.
"""

from __future__ import annotations

from ingest.doors.views import NodeInfoView


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
