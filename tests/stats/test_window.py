"""stats.window, stats.querystring and stats.params: read parameters -> Window and Filters, in
plain Python (no database, no DRF); every fault is a ReadError naming the parameter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.http import QueryDict
from django.utils import timezone

from stats import params
from stats.errors import ReadError
from stats.querystring import MAX_VALUES, Param, parse_read_params, read_zone
from stats.window import Filters, Window, ceil_to_grain, floor_to_grain

IST = ZoneInfo("Asia/Kolkata")


def query(text: str) -> QueryDict:
    return QueryDict(text)


def refused(call, *args) -> ReadError:
    with pytest.raises(ReadError) as caught:
        call(*args)
    return caught.value


# ---------------------------------------------------------------- the window


def test_a_window_is_widened_to_whole_quarter_hours():
    window, _ = parse_read_params(query("start=2026-10-26T10:07:00Z&end=2026-10-26T11:00:01Z"))
    assert window.start == datetime(2026, 10, 26, 10, 0, tzinfo=UTC)
    assert window.end == datetime(2026, 10, 26, 11, 15, tzinfo=UTC)


def test_times_without_an_offset_and_bare_dates_are_read_in_tz():
    window, _ = parse_read_params(query("start=2026-10-26&end=2026-10-27T06:00&tz=Asia/Kolkata"))
    assert window.start == datetime(2026, 10, 25, 18, 30, tzinfo=UTC)
    assert window.end == datetime(2026, 10, 27, 0, 30, tzinfo=UTC)
    assert window.tz == IST


def test_a_plus_offset_that_became_a_space_is_read_as_plus():
    window, _ = parse_read_params({"start": "2026-10-26T05:30:00 05:30", "end": "2026-10-27"})
    assert window.start == datetime(2026, 10, 26, tzinfo=UTC)


def test_the_default_window_is_the_last_24_hours(settings):
    settings.TIME_ZONE = "UTC"
    now = datetime(2026, 3, 10, 10, 7, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        default, _ = parse_read_params(query(""))
    assert (default.start, default.end) == (now.replace(minute=0) - timedelta(days=1), end_of(now))


def end_of(now: datetime) -> datetime:
    """Where a window ending at `now` ends once widened to the quarter hour."""
    return now.replace(minute=now.minute - now.minute % 15 + 15, second=0, microsecond=0)


@pytest.mark.parametrize("years", [-1, 0, 1])
def test_a_start_alone_ends_now_and_an_end_alone_starts_24_hours_before_it(years):
    now = timezone.now().replace(minute=7, second=0, microsecond=0) + timedelta(days=365 * years)
    with time_machine.travel(now, tick=False):
        started, _ = parse_read_params({"start": (now - timedelta(hours=3)).isoformat()})
        ended, _ = parse_read_params({"end": (now - timedelta(days=2)).isoformat()})
    assert (started.start, started.end) == (now.replace(minute=0) - timedelta(hours=3), end_of(now))
    assert ended.end - ended.start == timedelta(hours=24, minutes=15)  # 07 -> 15 widened
    assert ended.end == end_of(now - timedelta(days=2))


def test_a_start_alone_after_now_is_a_read_error_naming_start():
    later = (timezone.now() + timedelta(hours=1)).isoformat()
    with pytest.raises(ReadError) as error:
        parse_read_params({"start": later})
    assert error.value.field == "start"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("start=yesterday", "start"),
        ("end=2026-13-01", "end"),
        ("start=1999-12-31", "start"),
        ("end=2100-01-02", "end"),
        ("start=2026-10-02&end=2026-10-01", "end"),
        ("start=2026-10-01&end=2026-10-01", "end"),
        ("tz=Mars/Olympus", "tz"),
        ("tz=../../etc/passwd", "tz"),
        ("start=" + "2" * 65, "start"),
    ],
)
def test_a_bad_time_or_zone_is_a_read_error_naming_it(text, field):
    assert refused(parse_read_params, query(text)).field == field


def test_previous_is_the_same_length_just_before():
    window = Window(
        start=datetime(2026, 10, 26, tzinfo=UTC), end=datetime(2026, 10, 27, tzinfo=UTC), tz=UTC
    )
    assert window.previous() == Window(
        start=datetime(2026, 10, 25, tzinfo=UTC), end=window.start, tz=UTC
    )


def test_grain_helpers_floor_and_ceil_to_the_quarter_hour():
    moment = datetime(2026, 10, 26, 10, 14, 59, tzinfo=UTC)
    assert floor_to_grain(moment) == datetime(2026, 10, 26, 10, 0, tzinfo=UTC)
    assert ceil_to_grain(moment) == datetime(2026, 10, 26, 10, 15, tzinfo=UTC)
    assert ceil_to_grain(floor_to_grain(moment)) == floor_to_grain(moment)


# ---------------------------------------------------------------- the filters


def test_filters_repeated_or_comma_separated_read_the_same_deduplicated_in_order():
    _, repeated = parse_read_params(query("code=503&code=319&cp_id=4&cp_id=5&code=503"))
    _, comma = parse_read_params(query("code=503,319,503&cp_id=4,%205"))
    assert repeated == comma == Filters(code=(503, 319), cp_id=(4, 5))
    assert repeated.dims() == {"code", "cp_id"}


def test_every_dimension_is_read_into_its_type():
    _, filters = parse_read_params(
        query("endpoint=label&category=server&code=0&cp_id=0&account_code=acme-mumbai")
    )
    assert filters == Filters(
        endpoint=("label",),
        category=("server",),
        code=(0,),
        cp_id=(0,),
        account_code=("acme-mumbai",),
    )
    assert filters.narrowed(code=(500,)).code == (500,)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("code=abc", "code"),
        ("code=5.5", "code"),
        ("cp_id=4,x", "cp_id"),
        ("cp_id=99999999999", "cp_id"),
        ("cp_id=-1", "cp_id"),
        ("category=nope", "category"),
        ("endpoint=" + "e" * 201, "endpoint"),
        ("account_code=a%00b", "account_code"),
        ("endpoint=a%00b", "endpoint"),
        ("code=" + ",".join(str(n) for n in range(MAX_VALUES + 1)), "code"),
    ],
)
def test_a_bad_filter_value_is_a_read_error_naming_the_filter(text, field):
    error = refused(parse_read_params, query(text))
    assert error.field == field
    assert str(error).startswith(f"{field}: ")


def test_a_bad_value_among_many_is_quoted_in_the_reason():
    assert refused(parse_read_params, query("cp_id=4,x")).reason.startswith("'x': ")


# ---------------------------------------------------------------- one rule for blanks and zones


def test_blank_optional_parameters_mean_not_given(settings):
    settings.TIME_ZONE = "Asia/Kolkata"
    window, filters = parse_read_params(query("start=&end=&tz=&code=&category=&tz="))
    assert window.tz == IST and filters == Filters()
    assert params.zone_query(query("tz=")) == IST
    assert params.zone_query(query("tz=%20")) == IST
    assert params.weekly_query(query("week=2026-W44&tz=&format=")).tz == IST
    assert params.event_list_query(query("q=&waybill=&cursor=&limit=")).limit == 50


def test_read_zone_is_the_one_zone_parser():
    assert read_zone(" Asia/Kolkata ") == IST
    assert read_zone("UTC") == ZoneInfo("UTC")
    assert read_zone("Europe/London").key == "Europe/London"
    for bad in ("Nowhere", "a\x00b", "/etc/passwd"):
        assert refused(read_zone, bad).field == "tz"


# ---------------------------------------------------------------- Param and the endpoints


def test_a_required_parameter_missing_or_blank_is_refused():
    assert refused(params.weekly_query, query("")).field == "week"
    assert refused(params.weekly_query, query("week=%20")).field == "week"


@pytest.mark.parametrize(
    ("call", "text", "field"),
    [
        (params.timeseries_query, "interval=fortnight", "interval"),
        (params.timeseries_query, "group_by=waybill", "group_by"),
        (params.timeseries_query, "limit=51", "limit"),
        (params.timeseries_query, "limit=0", "limit"),
        (params.timeseries_query, "interval=minute&start=2026-10-01&end=2026-10-04", "interval"),
        (params.breakdown_query, "by=waybill", "by"),
        (params.breakdown_query, "limit=51", "limit"),
        (params.event_list_query, "errors_only=maybe", "errors_only"),
        (params.event_list_query, "limit=501", "limit"),
        (params.event_list_query, "cursor=not-a-cursor", "cursor"),
        (params.event_list_query, "q=nul%00", "q"),
        (params.event_list_query, "waybill=a%00b", "waybill"),
        (params.event_list_query, "order_id=a%00b", "order_id"),
        (params.weekly_query, "week=2026-W54", "week"),
        (params.weekly_query, "week=2026-W44&format=xml", "format"),
    ],
)
def test_each_endpoints_own_parameters_are_checked(call, text, field):
    assert refused(call, query(text)).field == field


def test_endpoint_parameters_are_read_into_typed_values():
    asked = params.timeseries_query(query("interval=day&group_by=cp_id&limit=50&code=503"))
    assert (asked.interval, asked.group_by, asked.limit) == ("day", "cp_id", 50)
    assert asked.filters.code == (503,)
    listed = params.event_list_query(query("errors_only=TRUE&waybill=%20AWB1%20&limit=7"))
    assert (listed.errors_only, listed.waybill, listed.limit) == (True, "AWB1", 7)
    assert params.event_id("42") == 42
    assert refused(params.event_id, "abc").field == "id"
    assert refused(params.event_id, "99999999999999999999").field == "id"
    assert params.shipment_id(" AWB/1 ") == " AWB/1 "  # ids are matched as typed
    assert refused(params.shipment_id, "AWB\x00").field == "value"


def test_a_param_reads_plain_mappings_and_query_dicts_alike():
    code = Param("code", "integer", many=True)
    assert code.read({"code": ["1", "2,3"]}) == code.read(query("code=1&code=2,3")) == (1, 2, 3)
    flag = Param("on", "boolean", default=False)
    assert flag.read({}) is False and flag.read({"on": "yes"}) is True
