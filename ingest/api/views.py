"""Thin API views: parameters in, JSON out. Computation lives in ingest.stats/selectors."""

from __future__ import annotations

from rest_framework.views import APIView

from ingest.api.ingest import ingest_generic
from ingest.auth import CanIngest, CanRead, IngestThrottle, ReadThrottle


class EventsView(APIView):
    """POST ingests a batch (ingest scope); GET lists stored events (read scope)."""

    parser_classes: list = []  # the body's framing is ingest.framing's job, not DRF's

    def get_permissions(self):
        return [CanIngest()] if self.request.method == "POST" else [CanRead()]

    def get_throttles(self):
        return [IngestThrottle()] if self.request.method == "POST" else [ReadThrottle()]

    def post(self, request):
        return ingest_generic(request)
