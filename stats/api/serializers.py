"""Output serializers: the read room's typed results (stats.results) -> the JSON sent.

They do the formatting (a datetime becomes ISO 8601 with its own offset) and they are what the
OpenAPI schema describes, so the schema is what is sent: each one writes exactly its declared
fields (tests/stats/test_read_api.py compares them with real answers). Parameters in are
parsed by stats.params (plain Python); the API edge maps its ReadError to a 400.

`Out.to_representation` is a lean walk over the declared fields, not DRF's field-by-field
machinery: a month of hourly points by category is 5,760 points, and the overview's numbers
must not get slower for being typed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _same(value: Any) -> Any:
    return value


@extend_schema_field(OpenApiTypes.DATETIME)
class OffsetDateTimeField(serializers.Field):
    """An aware datetime as ISO 8601 with its own offset (`2026-03-29T02:00:00+01:00`): DRF's
    DateTimeField would move it to the server's zone and write UTC as `Z`."""

    def to_representation(self, value: datetime) -> str | None:
        return _iso(value)


# An output serializer: a mapping in, exactly the declared fields out (a field that is not
# `required` may be absent), datetimes as ISO 8601, nested outputs recursively. (A comment, not
# a docstring: the OpenAPI schema would show it as every component's description.)
class Out(serializers.Serializer):
    def to_representation(self, instance: Mapping[str, Any]) -> dict[str, Any]:
        out = {}
        for name, convert, required in _plan(type(self)):
            if required or name in instance:
                out[name] = convert(instance[name])
        return out


_PLANS: dict[type, list[tuple[str, Callable[[Any], Any], bool]]] = {}


def _plan(out: type[Out]) -> list[tuple[str, Callable[[Any], Any], bool]]:
    """(name, converter, required) per declared field, worked out once per class from the
    declared fields (not `self.fields`, which DRF deep-copies for every instance)."""
    if out not in _PLANS:
        declared = out._declared_fields
        _PLANS[out] = [(name, _converter(f), f.required) for name, f in declared.items()]
    return _PLANS[out]


def _converter(field: serializers.Field) -> Callable[[Any], Any]:
    if isinstance(field, OffsetDateTimeField):
        return _iso
    if isinstance(field, serializers.ListSerializer) and isinstance(field.child, Out):
        child = field.child
        return lambda items: [child.to_representation(item) for item in items]
    if isinstance(field, Out):
        return field.to_representation
    return _same


class PointOut(Out):
    t = OffsetDateTimeField(help_text="bucket start in `tz`, ISO 8601 with offset")
    events = serializers.IntegerField()
    errors = serializers.IntegerField()  # type: ignore[assignment]  # a field named like a Serializer attribute
    error_rate = serializers.FloatField(help_text="errors / events (0 when no events)")
    share = serializers.FloatField(help_text="errors / all events in the bucket")


class SeriesOut(Out):
    key = serializers.JSONField(
        help_text="the group's value: a string, or a number for code/cp_id; `other` sums the "
        "series beyond `limit`"
    )
    label = serializers.CharField()  # type: ignore[assignment]  # a field named like a Serializer attribute
    points = PointOut(many=True)


class TimeseriesOut(Out):
    interval = serializers.CharField()
    tz = serializers.CharField()
    group_by = serializers.CharField()
    start = OffsetDateTimeField()
    end = OffsetDateTimeField()
    totals = PointOut(many=True)
    series = SeriesOut(many=True, help_text="most errors first; at most `limit`, then `other`")

    def to_representation(self, instance: Mapping[str, Any]) -> dict[str, Any]:
        """Each bucket start is formatted once, not once per series: every series' points are
        aligned with `totals` (the dense buckets of stats.questions.timeseries)."""
        stamps = [point["t"].isoformat() for point in instance["totals"]]

        def points(values: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
            return [{**point, "t": t} for point, t in zip(values, stamps, strict=True)]

        return {
            "interval": instance["interval"],
            "tz": instance["tz"],
            "group_by": instance["group_by"],
            "start": instance["start"].isoformat(),
            "end": instance["end"].isoformat(),
            "totals": points(instance["totals"]),
            "series": [
                {"key": one["key"], "label": one["label"], "points": points(one["points"])}
                for one in instance["series"]
            ],
        }


class LatencyPointOut(Out):
    t = OffsetDateTimeField(help_text="bucket start in `tz`, ISO 8601 with offset")
    calls = serializers.IntegerField(help_text="calls that carry a `latency_ms`")
    p50 = serializers.FloatField(
        allow_null=True,
        help_text="ms; one such key per asked percentile (p95, p99, p99.9, ...); null where "
        "`calls` is 0",
    )


class LatencySeriesOut(Out):
    key = serializers.JSONField(help_text="the group's value; `other` merges the rest")
    label = serializers.CharField()  # type: ignore[assignment]  # a field named like a Serializer attribute
    points = LatencyPointOut(many=True)


class LatencyOut(Out):
    interval = serializers.CharField()
    tz = serializers.CharField()
    group_by = serializers.CharField()
    percentiles = serializers.ListField(child=serializers.FloatField())
    start = OffsetDateTimeField()
    end = OffsetDateTimeField()
    totals = LatencyPointOut(many=True)
    series = LatencySeriesOut(
        many=True, help_text="most calls first; at most `limit`, then `other`"
    )


def latency_out(answer: Mapping[str, Any]) -> dict[str, Any]:
    """stats.latency.latency_timeseries as JSON: its points carry one key per percentile, so
    they are written as they are, with each bucket start formatted once."""
    stamps = [point["t"].isoformat() for point in answer["totals"]]

    def points(values: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return [{**point, "t": t} for point, t in zip(values, stamps, strict=True)]

    return {
        "interval": answer["interval"],
        "tz": answer["tz"],
        "group_by": answer["group_by"],
        "percentiles": answer["percentiles"],
        "start": answer["start"].isoformat(),
        "end": answer["end"].isoformat(),
        "totals": points(answer["totals"]),
        "series": [
            {"key": one["key"], "label": one["label"], "points": points(one["points"])}
            for one in answer["series"]
        ],
    }


class BreakdownRowOut(Out):
    key = serializers.JSONField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field named like a Serializer attribute
    events = serializers.IntegerField()
    errors = serializers.IntegerField()  # type: ignore[assignment]  # a field named like a Serializer attribute
    error_rate = serializers.FloatField()
    share = serializers.FloatField(help_text="errors / all events in the window")
    previous_errors = serializers.IntegerField()
    change = serializers.FloatField(allow_null=True, help_text="(errors - previous) / previous")
    p50_ms = serializers.FloatField(allow_null=True, help_text="null: no call with a latency")
    p95_ms = serializers.FloatField(allow_null=True, help_text="null: no call with a latency")


class EventRowOut(Out):
    id = serializers.IntegerField()
    timestamp = OffsetDateTimeField(help_text="in `tz`, with its offset")
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


class EventPageOut(Out):
    next = serializers.URLField(allow_null=True, help_text="the next (older) page; null at the end")
    results = EventRowOut(many=True)


class EventDetailOut(EventRowOut):
    received_at = OffsetDateTimeField()
    event_key = serializers.CharField()
    request = serializers.JSONField(allow_null=True, help_text="as stored, secrets redacted")
    response = serializers.JSONField(allow_null=True)
    extra = serializers.JSONField()
    retryable = serializers.BooleanField()
    action = serializers.CharField()


class TimelineSummaryOut(Out):
    waybill = serializers.CharField(required=False)
    order_id = serializers.CharField(required=False)
    first_seen = OffsetDateTimeField()
    last_seen = OffsetDateTimeField()
    events = serializers.IntegerField()
    errors = serializers.IntegerField()  # type: ignore[assignment]  # a field named like a Serializer attribute
    last_code = serializers.IntegerField()
    last_meaning = serializers.CharField()
    last_category = serializers.CharField()
    shown = serializers.IntegerField(help_text="events listed (the latest 1,000 at most)")


class DismissalOut(Out):
    id = serializers.IntegerField()
    endpoint = serializers.CharField()
    order_id = serializers.CharField()
    waybill = serializers.CharField()
    dismissed_at = OffsetDateTimeField()
    dismissed_by = serializers.CharField()
    note = serializers.CharField()
    reopened = serializers.BooleanField(help_text="a newer failure came since: open again")


class TimelineOut(Out):
    summary = TimelineSummaryOut()
    events = EventRowOut(many=True)
    dismissals = DismissalOut(
        many=True, required=False, help_text="an order's dismissed open failures, newest first"
    )


class CodeRowOut(Out):
    code = serializers.IntegerField(
        allow_null=True, help_text="null: the row summing the unknown codes beyond the bound"
    )
    category = serializers.CharField()
    meaning = serializers.CharField()
    is_error = serializers.BooleanField()
    retryable = serializers.BooleanField()
    action = serializers.CharField()
    in_catalog = serializers.BooleanField(help_text="false: seen in traffic, not in the catalog")
    events = serializers.IntegerField()
    errors = serializers.IntegerField()  # type: ignore[assignment]  # a field named like a Serializer attribute
    error_rate = serializers.FloatField()


class WeeklyRowOut(Out):
    week = serializers.CharField()
    category = serializers.CharField()
    code = serializers.IntegerField()
    meaning = serializers.CharField()
    cp_id = serializers.IntegerField(allow_null=True)
    courier = serializers.CharField()
    errors = serializers.IntegerField()  # type: ignore[assignment]  # a field named like a Serializer attribute
    calls = serializers.IntegerField()
    error_rate = serializers.FloatField()
    prev_week_errors = serializers.IntegerField()
    change_pct = serializers.FloatField(allow_null=True)


class IngestErrorOut(Out):
    index = serializers.IntegerField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))  # type: ignore[assignment]  # a field named like a Serializer attribute


class IngestOut(Out):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.IntegerField()
    errors = IngestErrorOut(many=True, help_text="the first 100 rejected events")  # type: ignore[assignment]  # a field named like a Serializer attribute


class ErrorOut(Out):
    """The API's one error shape (clickpost_monitor.errors): every 4xx and 5xx of every
    endpoint and door, except the ingest outcome that lists each rejected event."""

    error = serializers.CharField(help_text="one line for a human, naming the field at fault")
    detail = serializers.DictField(
        child=serializers.JSONField(),
        help_text="the reasons by field name (a list of sentences, nested for nested fields); "
        "{} when no field is at fault",
    )
    retry_after = serializers.FloatField(
        required=False, help_text="seconds to wait (429 and 503, as the Retry-After header)"
    )


class OpenFailureOut(Out):
    endpoint = serializers.CharField()
    order_id = serializers.CharField(help_text="empty when the reference is a waybill")
    waybill = serializers.CharField()
    cp_id = serializers.IntegerField(allow_null=True)
    courier = serializers.CharField()
    account_code = serializers.CharField()
    code = serializers.IntegerField(help_text="of the latest call")
    meaning = serializers.CharField()
    category = serializers.CharField()
    action = serializers.CharField(help_text="the catalog's hint: what to do")
    retryable = serializers.BooleanField()
    first_failed_at = OffsetDateTimeField(help_text="the first failure of the current streak")
    last_failed_at = OffsetDateTimeField()
    attempts = serializers.IntegerField(help_text="calls in the streak")
    last_event_id = serializers.IntegerField()


class OpenFailurePageOut(Out):
    next = serializers.URLField(allow_null=True, help_text="the next page; null at the end")
    results = OpenFailureOut(many=True)


class OpenCountOut(Out):
    open = serializers.IntegerField()
    over_1h = serializers.IntegerField(help_text="waiting over 1 hour")
    over_24h = serializers.IntegerField(help_text="waiting over 24 hours")
    oldest_failed_at = OffsetDateTimeField(allow_null=True)


class OpenGroupOut(OpenCountOut):
    key = serializers.JSONField(help_text="the action text, code, cp_id, endpoint or account")
    label = serializers.CharField()  # type: ignore[assignment]  # a field named like a Serializer attribute


class OpenActionOut(OpenCountOut):
    action = serializers.CharField()
    code = serializers.IntegerField()
    meaning = serializers.CharField()


class OpenByOut(Out):
    action = OpenGroupOut(many=True)
    code = OpenGroupOut(many=True)
    courier = OpenGroupOut(many=True)
    endpoint = OpenGroupOut(many=True)
    account_code = OpenGroupOut(many=True)


class OpenSummaryOut(OpenCountOut):
    by = OpenByOut()
    what_to_do = OpenActionOut(many=True, help_text="by action and code, the most first")


class RefIn(serializers.Serializer):
    endpoint = serializers.CharField(max_length=200)
    order_id = serializers.CharField(max_length=100, required=False, allow_blank=True)
    waybill = serializers.CharField(max_length=100, required=False, allow_blank=True)

    def validate(self, attrs):
        if not attrs.get("order_id") and not attrs.get("waybill"):
            raise serializers.ValidationError("give order_id or waybill.")
        return attrs


class DismissIn(serializers.Serializer):
    refs = RefIn(many=True, allow_empty=False)
    note = serializers.CharField(max_length=2000)


class DismissOutcomeOut(Out):
    endpoint = serializers.CharField()
    order_id = serializers.CharField()
    waybill = serializers.CharField()
    dismissed = serializers.BooleanField()
    status = serializers.ChoiceField(choices=["dismissed", "not_open"])


class DismissOut(Out):
    dismissed = serializers.IntegerField()
    not_open = serializers.IntegerField()
    results = DismissOutcomeOut(many=True)


class DismissalPageOut(Out):
    next = serializers.URLField(allow_null=True)
    results = DismissalOut(many=True)
