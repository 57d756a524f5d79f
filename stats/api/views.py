"""Thin API views: parameters in, JSON out. Computation lives in stats.questions/selectors/reports.

Every read view takes a session or a `read` token (CanRead, the default permission) and is
rate limited per token (ReadThrottle). OpenAPI descriptions are in stats.api.schema.
"""

from __future__ import annotations

from django.http import StreamingHttpResponse
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from stats import questions, reports, selectors
from stats.api import schema
from stats.api import serializers as s
from tokens.auth import ReadThrottle


def _valid(serializer_class, data) -> dict:
    params = serializer_class(data=data)
    params.is_valid(raise_exception=True)
    return params.validated_data


class JsonOnly(DefaultContentNegotiation):
    """Always JSON: `?format=` is the weekly report's own parameter, not DRF's renderer switch."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ReadView(APIView):
    throttle_classes = [ReadThrottle]
    content_negotiation_class = JsonOnly


class EventListView(ReadView):
    """GET lists stored events (read scope). POST on the same URL is the ingest door; the two
    are joined in clickpost_monitor.api so that this room never imports the write room."""

    @schema.event_list
    def get(self, request):
        p = _valid(s.EventListParams, request.query_params)
        rows, cursor = selectors.event_page(
            window=p["window"],
            filters=p["filters"],
            errors_only=p["errors_only"],
            waybill=p.get("waybill"),
            order_id=p.get("order_id"),
            q=p.get("q"),
            cursor=p.get("cursor"),
            limit=p["limit"],
        )
        return Response({"next": self._next_link(request, p["window"], cursor), "results": rows})

    @staticmethod
    def _next_link(request, window, cursor: str | None) -> str | None:
        """The same query with the cursor, and the window pinned (a default "last 24 h" must
        not move while someone pages)."""
        if cursor is None:
            return None
        query = request.query_params.copy()
        query["start"] = window.start.isoformat()
        query["end"] = window.end.isoformat()
        query["cursor"] = cursor
        return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")


class EventDetailView(ReadView):
    @schema.event_detail
    def get(self, request, event_id: str):
        p = _valid(s.EventIdParam, {**request.query_params.dict(), "id": event_id})
        event = selectors.event_detail(event_id=p["id"], tz=p["tz"])
        if event is None:
            raise NotFound(f"No event with id {p['id']}.")
        return Response(event)


class ShipmentView(ReadView):
    """A shipment's timeline by waybill or by order id (`kind`, set by the subclass)."""

    kind: str

    def get(self, request, value: str):
        p = _valid(s.ShipmentParam, {**request.query_params.dict(), "value": value})
        timeline = selectors.shipment_timeline(**{self.kind: p["value"]}, tz=p["tz"])
        if timeline is None:
            raise NotFound(f"No event with {self.kind} {p['value']!r}.")
        return Response(timeline)


class WaybillView(ShipmentView):
    kind = "waybill"

    @schema.waybill
    def get(self, request, value: str):
        return super().get(request, value)


class OrderView(ShipmentView):
    kind = "order_id"

    @schema.order
    def get(self, request, value: str):
        return super().get(request, value)


class TimeseriesView(ReadView):
    @schema.timeseries
    def get(self, request):
        p = _valid(s.TimeseriesParams, request.query_params)
        return Response(
            questions.timeseries(
                window=p["window"],
                interval=p["interval"],
                group_by=p["group_by"],
                filters=p["filters"],
            )
        )


class BreakdownView(ReadView):
    @schema.breakdown
    def get(self, request):
        p = _valid(s.BreakdownParams, request.query_params)
        return Response(
            questions.breakdown(
                window=p["window"], by=p["by"], limit=p["limit"], filters=p["filters"]
            )
        )


class CodesView(ReadView):
    @schema.codes
    def get(self, request):
        p = _valid(s.ReadParams, request.query_params)
        return Response(questions.code_counts(window=p["window"], filters=p["filters"]))


class WeeklyReportView(ReadView):
    @schema.weekly_report
    def get(self, request):
        p = _valid(s.WeeklyReportParams, request.query_params)
        week, tz = p["week"].strip(), p["tz"]
        if p["format"] == "json":
            return StreamingHttpResponse(
                reports.weekly_json_chunks(week=week, tz=tz), content_type="application/json"
            )
        response = StreamingHttpResponse(
            reports.weekly_csv_lines(week=week, tz=tz), content_type="text/csv; charset=utf-8"
        )
        filename = reports.report_filename(week)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
