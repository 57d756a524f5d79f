"""Thin API views: parameters in (stats.params), a question, JSON out (stats.api.serializers).

Every read view takes a session or a `read` token (CanRead, the default permission) and is
rate limited per token (ReadThrottle). The read room's ReadError becomes a 400 here, once
(`ReadView.handle_exception`), in the JSON error shape of clickpost_monitor.errors. OpenAPI
descriptions are in stats.api.schema.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.http import StreamingHttpResponse
from django.utils import timezone
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from stats import open_failures, params, questions, reports, selectors
from stats.api import schema
from stats.api import serializers as s
from stats.errors import ReadError
from stats.window import Window
from tokens.auth import CanAdmin, ReadThrottle, request_token


class JsonOnly(DefaultContentNegotiation):
    """Always JSON: `?format=` is the weekly report's own parameter, not DRF's renderer switch."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ReadView(APIView):
    throttle_classes = [ReadThrottle]
    content_negotiation_class = JsonOnly

    def handle_exception(self, exc):
        """A ReadError (a parameter at fault) is a 400 naming the parameter."""
        if isinstance(exc, ReadError):
            exc = ValidationError({exc.field: [exc.reason]})
        return super().handle_exception(exc)


class EventListView(ReadView):
    """GET lists stored events (read scope). POST on the same URL is the ingest door; the two
    are joined in clickpost_monitor.api so that this room never imports the write room."""

    @schema.event_list
    def get(self, request):
        p = params.event_list_query(request.query_params)
        rows, cursor = selectors.event_page(
            window=p.window,
            filters=p.filters,
            errors_only=p.errors_only,
            waybill=p.waybill,
            order_id=p.order_id,
            q=p.q,
            min_latency_ms=p.min_latency_ms,
            by_latency=p.sort == "-latency",
            cursor=p.cursor,
            limit=p.limit,
        )
        page = {"next": self._next_link(request, p.window, cursor), "results": rows}
        return Response(s.EventPageOut(page).data)

    @staticmethod
    def _next_link(request, window: Window, cursor: str | None) -> str | None:
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
        found_id, tz = params.event_id(event_id), params.zone_query(request.query_params)
        event = selectors.event_detail(event_id=found_id, tz=tz)
        if event is None:
            raise NotFound(f"No event with id {found_id}.")
        return Response(s.EventDetailOut(event).data)


class ShipmentView(ReadView):
    """A shipment's timeline by waybill or by order id (`kind`, set by the subclass)."""

    kind: str

    def get(self, request, value: str):
        shipment, tz = params.shipment_id(value), params.zone_query(request.query_params)
        timeline = selectors.shipment_timeline(**{self.kind: shipment}, tz=tz)
        if timeline is None:
            raise NotFound(f"No event with {self.kind} {shipment!r}.")
        return Response(s.TimelineOut(timeline).data)


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
        p = params.timeseries_query(request.query_params)
        answer = questions.timeseries(
            window=p.window,
            interval=p.interval,
            group_by=p.group_by,
            filters=p.filters,
            limit=p.limit,
        )
        return Response(s.TimeseriesOut(answer).data)


class LatencyView(ReadView):
    @schema.latency
    def get(self, request):
        p = params.latency_query(request.query_params)
        answer = questions.latency_timeseries(
            window=p.window,
            interval=p.interval,
            group_by=p.group_by,
            filters=p.filters,
            percentiles=p.percentiles,
            limit=p.limit,
        )
        return Response(s.latency_out(answer))


class BreakdownView(ReadView):
    @schema.breakdown
    def get(self, request):
        p = params.breakdown_query(request.query_params)
        rows = questions.breakdown(window=p.window, by=p.by, limit=p.limit, filters=p.filters)
        return Response(s.BreakdownRowOut(rows, many=True).data)


class CodesView(ReadView):
    @schema.codes
    def get(self, request):
        window, filters = params.parse_read_params(request.query_params)
        rows = questions.code_counts(window=window, filters=filters)
        return Response(s.CodeRowOut(rows, many=True).data)


class WeeklyReportView(ReadView):
    @schema.weekly_report
    def get(self, request):
        p = params.weekly_query(request.query_params)
        week = p.week.strip()
        if p.format == "json":
            return StreamingHttpResponse(
                reports.weekly_json_chunks(week=week, tz=p.tz), content_type="application/json"
            )
        response = StreamingHttpResponse(
            reports.weekly_csv_lines(week=week, tz=p.tz), content_type="text/csv; charset=utf-8"
        )
        filename = reports.report_filename(week)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


# ---------------------------------------------------------------- open failures


def _in_zone(value: Any, tz: ZoneInfo) -> Any:
    """`value` with every datetime in it shown in `tz`."""
    if isinstance(value, datetime):
        return value.astimezone(tz)
    if isinstance(value, dict):
        return {key: _in_zone(item, tz) for key, item in value.items()}
    if isinstance(value, list):
        return [_in_zone(item, tz) for item in value]
    return value


class OpenFailuresView(ReadView):
    """The open failures, the longest wait first; `format=csv` streams them all."""

    @schema.open_failures
    def get(self, request):
        p = params.open_list_query(request.query_params)
        now = timezone.now()
        if p.format == "csv":
            response = StreamingHttpResponse(
                open_failures.open_csv_lines(where=p.where, now=now, tz=p.tz),
                content_type="text/csv; charset=utf-8",
            )
            response["Content-Disposition"] = 'attachment; filename="open-failures.csv"'
            return response
        rows, cursor = open_failures.open_page(
            where=p.where, now=now, cursor=p.cursor, limit=p.limit, tz=p.tz
        )
        page = {"next": _with_query(request, cursor=cursor), "results": rows}
        return Response(s.OpenFailurePageOut(page).data)


def _with_query(request, **changes: str | int | None) -> str | None:
    """This request's address with `changes` in its query; None when a change is None."""
    if any(value is None for value in changes.values()):
        return None
    query = request.query_params.copy()
    for name, value in changes.items():
        query[name] = str(value)
    return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")


class OpenFailureSummaryView(ReadView):
    @schema.open_failure_summary
    def get(self, request):
        where = params.open_filters(request.query_params)
        tz = params.zone_query(request.query_params)
        answer = asdict(open_failures.summary(where=where, now=timezone.now()))
        return Response(s.OpenSummaryOut(_in_zone(answer, tz)).data)


class TooManyRefs(APIException):
    status_code = 413


class DismissView(ReadView):
    """Staff or an `admin` token: references handled outside the product, with a note."""

    permission_classes = [CanAdmin]

    @schema.open_failure_dismiss
    def post(self, request):
        refs = request.data.get("refs") if isinstance(request.data, dict) else None
        if isinstance(refs, list) and len(refs) > open_failures.MAX_DISMISS:
            raise TooManyRefs({"refs": [f"at most {open_failures.MAX_DISMISS} per request."]})
        body = s.DismissIn(data=request.data)
        body.is_valid(raise_exception=True)
        outcomes = open_failures.dismiss(
            refs=[open_failures.Ref(**ref) for ref in body.validated_data["refs"]],
            note=body.validated_data["note"],
            by=_who(request),
            now=timezone.now(),
        )
        done = sum(outcome["dismissed"] for outcome in outcomes)
        answer = {"dismissed": done, "not_open": len(outcomes) - done, "results": outcomes}
        return Response(s.DismissOut(answer).data)


def _who(request) -> str:
    token = request_token(request)
    if token is not None:
        return f"token:{token.name}"
    return request.user.get_username()


class DismissedView(ReadView):
    @schema.open_failures_dismissed
    def get(self, request):
        p = params.read_values(params.DISMISSED_PARAMS, request.query_params)
        tz = params.read_zone(p["tz"])
        rows, before = open_failures.dismissals(before_id=p["before"], limit=p["limit"])
        page = {"next": _with_query(request, before=before), "results": _in_zone(rows, tz)}
        return Response(s.DismissalPageOut(page).data)
