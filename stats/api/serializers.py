"""Input serializers (query parameters -> validated arguments, 400 naming the parameter) and
output serializers (for the OpenAPI schema only: the JSON itself is built by stats/selectors)."""

from __future__ import annotations

from rest_framework import serializers

from stats import reports, selectors
from stats.questions import BREAKDOWNS, GROUPS, INTERVALS, check_interval
from stats.window import ReadParams, default_zone, parse_zone

BIGINT_MAX = 2**63 - 1

# ---------------------------------------------------------------- parameters in


class TimeseriesParams(ReadParams):
    interval = serializers.ChoiceField(choices=INTERVALS, default="hour")
    group_by = serializers.ChoiceField(choices=GROUPS, default="none")

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        check_interval(window=attrs["window"], interval=attrs["interval"])
        return attrs


class BreakdownParams(ReadParams):
    by = serializers.ChoiceField(choices=BREAKDOWNS, default="code")
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=10)


class EventListParams(ReadParams):
    errors_only = serializers.BooleanField(default=False)
    waybill = serializers.CharField(required=False, max_length=100)
    order_id = serializers.CharField(required=False, max_length=100)
    q = serializers.CharField(required=False, max_length=200)
    cursor = serializers.CharField(required=False, max_length=200)
    limit = serializers.IntegerField(min_value=1, max_value=500, default=50)

    def validate_cursor(self, value: str) -> str:
        try:
            selectors.decode_cursor(value)
        except selectors.BadCursor as error:
            raise serializers.ValidationError(str(error)) from None
        return value


class ZoneParam(serializers.Serializer):
    tz = serializers.CharField(required=False, max_length=64)

    def validate_tz(self, value: str):
        try:
            return parse_zone(value)
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from None

    def validate(self, attrs: dict) -> dict:
        return {**attrs, "tz": attrs.get("tz") or default_zone()}


class EventIdParam(ZoneParam):
    id = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX)


class ShipmentParam(ZoneParam):
    value = serializers.CharField(max_length=100, trim_whitespace=False)


class WeeklyReportParams(ZoneParam):
    week = serializers.CharField(max_length=10, help_text="ISO week, e.g. 2026-W47")
    format = serializers.ChoiceField(choices=("csv", "json"), default="csv")

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        try:
            reports.parse_iso_week(attrs["week"], attrs["tz"])
        except ValueError as error:
            raise serializers.ValidationError({"week": [str(error)]}) from None
        return attrs


# ---------------------------------------------------------------- JSON out (schema)


class PointOut(serializers.Serializer):
    t = serializers.CharField(help_text="bucket start in `tz`, ISO 8601 with offset")
    events = serializers.IntegerField()
    errors = serializers.IntegerField()
    error_rate = serializers.FloatField(help_text="errors / events (0 when no events)")
    share = serializers.FloatField(help_text="errors / all events in the bucket")


class SeriesOut(serializers.Serializer):
    key = serializers.JSONField(help_text="the group's value: a string, or a number for code/cp_id")
    label = serializers.CharField()
    points = PointOut(many=True)


class TimeseriesOut(serializers.Serializer):
    interval = serializers.CharField()
    tz = serializers.CharField()
    group_by = serializers.CharField()
    start = serializers.CharField()
    end = serializers.CharField()
    totals = PointOut(many=True)
    series = SeriesOut(many=True)


class BreakdownRowOut(serializers.Serializer):
    key = serializers.JSONField()
    label = serializers.CharField()
    events = serializers.IntegerField()
    errors = serializers.IntegerField()
    error_rate = serializers.FloatField()
    share = serializers.FloatField(help_text="errors / all events in the window")
    previous_errors = serializers.IntegerField()
    change = serializers.FloatField(allow_null=True, help_text="(errors - previous) / previous")


class EventRowOut(serializers.Serializer):
    id = serializers.IntegerField()
    timestamp = serializers.CharField()
    endpoint = serializers.CharField()
    http_status = serializers.IntegerField(allow_null=True)
    code = serializers.IntegerField()
    meaning = serializers.CharField()
    category = serializers.CharField()
    is_error = serializers.BooleanField()
    cp_id = serializers.IntegerField(allow_null=True)
    courier = serializers.CharField()
    waybill = serializers.CharField()
    order_id = serializers.CharField()
    account_code = serializers.CharField()
    message = serializers.CharField()
    latency_ms = serializers.FloatField(allow_null=True)


class EventPageOut(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="the next (older) page; null at the end")
    results = EventRowOut(many=True)


class EventDetailOut(EventRowOut):
    received_at = serializers.CharField()
    event_key = serializers.CharField()
    request = serializers.JSONField(allow_null=True, help_text="as stored, secrets redacted")
    response = serializers.JSONField(allow_null=True)
    extra = serializers.JSONField()
    retryable = serializers.BooleanField()
    action = serializers.CharField()


class TimelineSummaryOut(serializers.Serializer):
    waybill = serializers.CharField(required=False)
    order_id = serializers.CharField(required=False)
    first_seen = serializers.CharField()
    last_seen = serializers.CharField()
    events = serializers.IntegerField()
    errors = serializers.IntegerField()
    last_code = serializers.IntegerField()
    last_meaning = serializers.CharField()
    last_category = serializers.CharField()
    shown = serializers.IntegerField(help_text="events listed (the latest 1,000 at most)")


class TimelineOut(serializers.Serializer):
    summary = TimelineSummaryOut()
    events = EventRowOut(many=True)


class CodeRowOut(serializers.Serializer):
    code = serializers.IntegerField()
    category = serializers.CharField()
    meaning = serializers.CharField()
    is_error = serializers.BooleanField()
    retryable = serializers.BooleanField()
    action = serializers.CharField()
    in_catalog = serializers.BooleanField(help_text="false: seen in traffic, not in the catalog")
    events = serializers.IntegerField()
    errors = serializers.IntegerField()
    error_rate = serializers.FloatField()


class WeeklyRowOut(serializers.Serializer):
    week = serializers.CharField()
    category = serializers.CharField()
    code = serializers.IntegerField()
    meaning = serializers.CharField()
    cp_id = serializers.IntegerField(allow_null=True)
    courier = serializers.CharField()
    errors = serializers.IntegerField()
    calls = serializers.IntegerField()
    error_rate = serializers.FloatField()
    prev_week_errors = serializers.IntegerField()
    change_pct = serializers.FloatField(allow_null=True)


class IngestErrorOut(serializers.Serializer):
    index = serializers.IntegerField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class IngestOut(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.IntegerField()
    errors = IngestErrorOut(many=True, help_text="the first 100 rejected events")


class ErrorOut(serializers.Serializer):
    error = serializers.CharField(help_text="one line for a human, naming the parameter")
    detail = serializers.JSONField(required=False)
