"""The read endpoints' own parameters, parsed in plain Python into typed values.

Each `*_query` function reads one endpoint's query (a QueryDict or a plain mapping) and returns
a frozen dataclass, or raises ReadError naming the parameter at fault. The `Param` tuples are
also what stats.api.schema describes in the OpenAPI document, so the schema and the parsing
cannot drift apart. The window, zone and filters every read shares: stats.querystring.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from stats.buckets import INTERVALS, check_interval
from stats.errors import ReadError
from stats.latency import parse_percentile
from stats.open_failures import OpenFilters, check_names
from stats.open_failures import decode_cursor as decode_open_cursor
from stats.querystring import (
    INT32_MAX,
    READ_PARAMS,
    ZONE_PARAM,
    Param,
    parse_read_params,
    read_values,
    read_zone,
)
from stats.questions import BREAKDOWNS, DEFAULT_SERIES, GROUPS, MAX_SERIES
from stats.reports import parse_iso_week
from stats.selectors import decode_cursor, decode_latency_cursor
from stats.window import DIMENSIONS, Filters, Window

BIGINT_MAX = 2**63 - 1
MAX_EVENTS_PER_PAGE = 500

TIMESERIES_PARAMS = (
    Param("interval", choices=INTERVALS, default="hour", description="bucket size"),
    Param("group_by", choices=GROUPS, default="none", description="one series per value of"),
    Param(
        "limit",
        "integer",
        minimum=1,
        maximum=MAX_SERIES,
        default=DEFAULT_SERIES,
        description="series shown (those with most errors); the rest are summed as `other`",
    ),
)
DEFAULT_PERCENTILES = (50.0, 95.0, 99.0)
MAX_PERCENTILES = 5
LATENCY_PARAMS = (
    *TIMESERIES_PARAMS[:2],
    Param(
        "limit",
        "integer",
        minimum=1,
        maximum=MAX_SERIES,
        default=DEFAULT_SERIES,
        description="series shown (those with most calls); the rest are merged as `other`",
    ),
    Param(
        "percentiles",
        many=True,
        max_length=8,
        description="1 to 99.9 (one decimal at most), at most 5; default 50,95,99",
    ),
)
BREAKDOWN_PARAMS = (
    Param("by", choices=BREAKDOWNS, default="code", description="the dimension to rank"),
    Param("limit", "integer", minimum=1, maximum=MAX_SERIES, default=10, description="rows"),
)
EVENT_ORDER_PARAMS = (
    Param(
        "min_latency_ms",
        "integer",
        minimum=0,
        maximum=INT32_MAX,
        description="only calls at least this slow (calls without a latency are left out)",
    ),
    Param(
        "sort",
        choices=("-timestamp", "-latency"),
        default="-timestamp",
        description="newest first, or slowest first (then newest)",
    ),
)
EVENT_LIST_PARAMS = (
    Param("errors_only", "boolean", default=False, description="failing calls only"),
    Param("waybill", max_length=100, description="exact, any case"),
    Param("order_id", max_length=100, description="exact, any case"),
    Param("q", max_length=200, description="a waybill or order id, else a message substring"),
    *EVENT_ORDER_PARAMS,
    Param("cursor", max_length=200, description="from the previous page's `next` link"),
    Param("limit", "integer", minimum=1, maximum=MAX_EVENTS_PER_PAGE, default=50),
)
WEEKLY_PARAMS = (
    Param("week", max_length=10, required=True, description="ISO week, e.g. 2026-W47"),
    Param("format", choices=("csv", "json"), default="csv"),
    ZONE_PARAM,
)
EVENT_ID = Param("id", "integer", minimum=1, maximum=BIGINT_MAX, required=True)
SHIPMENT_ID = Param("value", max_length=100, required=True, strip=False)

# What each endpoint's schema lists (stats.api.schema).
TIMESERIES_QUERY = (*READ_PARAMS, *TIMESERIES_PARAMS)
LATENCY_QUERY = (*READ_PARAMS, *LATENCY_PARAMS)
BREAKDOWN_QUERY = (*READ_PARAMS, *BREAKDOWN_PARAMS)
EVENT_LIST_QUERY = (*READ_PARAMS, *EVENT_LIST_PARAMS)


@dataclass(frozen=True)
class TimeseriesQuery:
    window: Window
    filters: Filters
    interval: str
    group_by: str
    limit: int


@dataclass(frozen=True)
class LatencyQuery:
    window: Window
    filters: Filters
    interval: str
    group_by: str
    limit: int
    percentiles: tuple[float, ...]


@dataclass(frozen=True)
class BreakdownQuery:
    window: Window
    filters: Filters
    by: str
    limit: int


@dataclass(frozen=True)
class EventListQuery:
    window: Window
    filters: Filters
    errors_only: bool
    waybill: str | None
    order_id: str | None
    q: str | None
    min_latency_ms: int | None
    sort: str
    cursor: str | None
    limit: int


@dataclass(frozen=True)
class WeeklyQuery:
    week: str
    format: str
    tz: ZoneInfo


def timeseries_query(query: Mapping[str, Any]) -> TimeseriesQuery:
    """Window, filters, interval (minute ≤ 48 h, ≤ 5,000 buckets), group_by and limit."""
    window, filters = parse_read_params(query)
    values = read_values(TIMESERIES_PARAMS, query)
    check_interval(window=window, interval=values["interval"])
    return TimeseriesQuery(window=window, filters=filters, **values)


def latency_query(query: Mapping[str, Any]) -> LatencyQuery:
    """The timeseries' parameters and `percentiles` (1 to 99.9, at most 5)."""
    window, filters = parse_read_params(query)
    values = read_values(LATENCY_PARAMS, query)
    check_interval(window=window, interval=values["interval"])
    texts = values.pop("percentiles")
    if len(texts) > MAX_PERCENTILES:
        raise ReadError("percentiles", f"at most {MAX_PERCENTILES} values.")
    chosen = []
    for text in texts:
        try:
            chosen.append(parse_percentile(text))
        except ValueError as error:
            raise ReadError("percentiles", f"{text!r}: {error}") from None
    percentiles = tuple(dict.fromkeys(chosen)) or DEFAULT_PERCENTILES
    return LatencyQuery(window=window, filters=filters, percentiles=percentiles, **values)


def breakdown_query(query: Mapping[str, Any]) -> BreakdownQuery:
    window, filters = parse_read_params(query)
    return BreakdownQuery(window=window, filters=filters, **read_values(BREAKDOWN_PARAMS, query))


def event_list_query(query: Mapping[str, Any]) -> EventListQuery:
    """Window, filters and the event list's own fields; a cursor must be one of ours."""
    window, filters = parse_read_params(query)
    values = read_values(EVENT_LIST_PARAMS, query)
    if values["cursor"]:
        (decode_latency_cursor if values["sort"] == "-latency" else decode_cursor)(values["cursor"])
    return EventListQuery(window=window, filters=filters, **values)


def zone_query(query: Mapping[str, Any]) -> ZoneInfo:
    """The `tz` of an endpoint that takes no window (missing or blank: TIME_ZONE)."""
    return read_zone(ZONE_PARAM.read(query))


def event_id(text: str) -> int:
    """An event id from the URL: a positive bigint (ReadError on `id`)."""
    return EVENT_ID.read({"id": text})


def shipment_id(text: str) -> str:
    """A waybill or order id from the URL, as typed (ReadError on `value`)."""
    return SHIPMENT_ID.read({"value": text})


def weekly_query(query: Mapping[str, Any]) -> WeeklyQuery:
    values = read_values(WEEKLY_PARAMS, query)
    tz = read_zone(values["tz"])
    parse_iso_week(values["week"], tz)
    return WeeklyQuery(week=values["week"], format=values["format"], tz=tz)


# ---------------------------------------------------------------- open failures

MAX_OPEN_PER_PAGE = 500
MINUTES_PER_YEAR = 366 * 24 * 60
OPEN_FILTER_PARAMS = (
    *(param for param in READ_PARAMS if param.name in DIMENSIONS),
    Param("action", many=True, max_length=300, description="the catalog's action hints"),
    Param("retryable", "boolean", description="the code is (not) worth retrying as is"),
    Param(
        "older_than_minutes",
        "integer",
        minimum=0,
        maximum=MINUTES_PER_YEAR,
        description="only references failing for longer than this (since the streak's first)",
    ),
)
OPEN_LIST_PARAMS = (
    Param("cursor", max_length=400, description="from the previous page's `next` link"),
    Param("limit", "integer", minimum=1, maximum=MAX_OPEN_PER_PAGE, default=50),
    Param("format", choices=("json", "csv"), default="json", description="csv streams every row"),
    ZONE_PARAM,
)
OPEN_LIST_QUERY = (*OPEN_FILTER_PARAMS, *OPEN_LIST_PARAMS)
OPEN_SUMMARY_QUERY = (*OPEN_FILTER_PARAMS, ZONE_PARAM)
DISMISSED_PARAMS = (
    Param("before", "integer", minimum=1, maximum=BIGINT_MAX, description="next page"),
    Param("limit", "integer", minimum=1, maximum=MAX_OPEN_PER_PAGE, default=50),
    ZONE_PARAM,
)


@dataclass(frozen=True)
class OpenListQuery:
    where: OpenFilters
    cursor: str | None
    limit: int
    format: str
    tz: ZoneInfo


def open_filters(query: Mapping[str, Any]) -> OpenFilters:
    """The filters of the open-failure list and counts; an unknown endpoint or action is a
    ReadError naming it."""
    values = read_values(OPEN_FILTER_PARAMS, query)
    where = OpenFilters(
        filters=Filters(**{name: values[name] for name in DIMENSIONS}),
        action=values["action"],
        retryable=values["retryable"],
        older_than_minutes=values["older_than_minutes"],
    )
    check_names(where)
    return where


def open_list_query(query: Mapping[str, Any]) -> OpenListQuery:
    where = open_filters(query)
    values = read_values(OPEN_LIST_PARAMS, query)
    if values["cursor"]:
        decode_open_cursor(values["cursor"])
    return OpenListQuery(
        where=where,
        cursor=values["cursor"],
        limit=values["limit"],
        format=values["format"],
        tz=read_zone(values["tz"]),
    )
