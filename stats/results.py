"""What the read room answers: typed results (TypedDicts, so `row["errors"]` reads as before).

Times are aware `datetime`s in the zone that was asked for; the API's output serializers
(stats.api.serializers) write them as ISO 8601 with their offset, the pages format them.
A key is a dimension's value: a string (endpoint, category, account_code) or a number (code,
cp_id), or `OTHER` for the sum of the values beyond a response's bound.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NotRequired, TypedDict

OTHER = "other"  # the key of the row or series that sums everything beyond a bound

Key = int | str


class Point(TypedDict):
    t: datetime  # the bucket start, in the window's zone
    events: int
    errors: int
    error_rate: float  # errors / events
    share: float  # errors / all calls in the bucket


class Series(TypedDict):
    key: Key
    label: str
    points: list[Point]


class Timeseries(TypedDict):
    interval: str
    tz: str
    group_by: str
    start: datetime
    end: datetime
    totals: list[Point]
    series: list[Series]


# A latency point: {"t": datetime, "calls": int, "p50": float | None, ...}, one key per asked
# percentile (stats.latency.percentile_key), so not a TypedDict.
LatencyPoint = dict[str, Any]


class LatencySeries(TypedDict):
    key: Key
    label: str
    points: list[LatencyPoint]


class LatencyTimeseries(TypedDict):
    interval: str
    tz: str
    group_by: str
    percentiles: list[float]
    start: datetime
    end: datetime
    totals: list[LatencyPoint]
    series: list[LatencySeries]


class BreakdownRow(TypedDict):
    key: Key
    label: str
    events: int
    errors: int
    error_rate: float
    share: float  # errors / all calls in the window
    previous_errors: int
    change: float | None
    p50_ms: float | None  # of the row's calls with a latency; None without any
    p95_ms: float | None


class Totals(TypedDict):
    events: int
    errors: int
    error_rate: float
    previous_events: int
    previous_errors: int
    previous_error_rate: float
    change: float | None


class HeatmapCourier(TypedDict):
    key: Key  # a cp_id, or OTHER
    label: str


class Heatmap(TypedDict):
    couriers: list[HeatmapCourier]
    categories: list[str]
    errors: list[list[int]]  # [courier][category]
    events: list[list[int]]


class CodeRow(TypedDict):
    code: int | None  # None: the row summing the unknown codes beyond the bound
    category: str
    meaning: str
    is_error: bool
    retryable: bool
    action: str
    in_catalog: bool
    events: int
    errors: int
    error_rate: float


class EventRow(TypedDict):
    id: int
    timestamp: datetime
    endpoint: str
    http_status: int | None
    code: int
    meaning: str
    category: str
    is_error: bool
    cp_id: int | None
    courier: str
    waybill: str
    order_id: str
    account_code: str
    message: str
    latency_ms: float | None


class EventDetail(EventRow):
    received_at: datetime
    event_key: str
    request: Any
    response: Any
    extra: Any
    retryable: bool
    action: str


class TimelineSummary(TypedDict):
    waybill: NotRequired[str]
    order_id: NotRequired[str]
    first_seen: datetime
    last_seen: datetime
    events: int
    errors: int
    last_code: int
    last_meaning: str
    last_category: str
    shown: int


class DismissalRow(TypedDict):
    """An open failure someone dismissed: who, when, the note; `reopened` when a newer
    failure of the reference came since."""

    id: int
    endpoint: str
    order_id: str
    waybill: str
    dismissed_at: datetime
    dismissed_by: str
    note: str
    reopened: bool


class Timeline(TypedDict):
    summary: TimelineSummary
    events: list[EventRow]
    dismissals: NotRequired[list[DismissalRow]]  # an order's, newest first


class WeeklyRow(TypedDict):
    week: str
    category: str
    code: int
    meaning: str
    cp_id: int | None
    courier: str
    errors: int
    calls: int
    error_rate: float
    prev_week_errors: int
    change_pct: float | None


class EventCount(TypedDict):
    count: int  # exact when `capped` is false, else selectors.COUNT_CAP
    capped: bool
