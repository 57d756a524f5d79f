"""The demo tells its story: shipments with a life, Clickpost-like failures, and incidents that
stand out on every range from one hour to seven days whatever the hour of generation. The
pure generator is tested without a database; the command against PostgreSQL."""

from __future__ import annotations

import statistics
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from demo import sample_calls
from demo.traffic import BUSY_UTC, ENDPOINTS, DemoTraffic, incidents
from ingest.models import Event
from tests.ingest.test_store import stored_count
from tokens.models import ApiToken

BASE = datetime(2026, 11, 20, tzinfo=UTC)
HOURS = range(0, 24, 3)


@cache
def generated(hour: int, days: int = 8, per_day: int = 3000) -> tuple[datetime, list[dict]]:
    now = BASE + timedelta(hours=hour, minutes=33)
    return now, list(DemoTraffic(now=now, days=days, per_day=per_day, seed=11).records())


def is_error(record: dict) -> bool:
    return (
        record["response"]["meta"]["status"] >= 300
        if isinstance(record["response"], dict)
        else True
    )


def at(record: dict) -> datetime:
    return datetime.fromisoformat(record["timestamp"])


# ---------------------------------------------------------------- shipments


def test_an_order_keeps_one_courier_account_and_waybill_over_days():
    _, records = generated(12)
    lives: dict[str, list[dict]] = defaultdict(list)
    for record in records:
        if record["order_id"]:
            lives[record["order_id"]].append(record)
    for order_id, calls in lives.items():
        assert len({(c["account_code"], c["cp_id"]) for c in calls}) == 1, order_id
        assert len({c["waybill"] for c in calls if c["waybill"]}) <= 1, order_id
    long_lives = [
        c for c in lives.values() if len(c) >= 4 and at(c[-1]) - at(c[0]) > timedelta(days=1)
    ]
    assert len(long_lives) > len(lives) / 4
    endpoints = {c["url"].split("?")[0].split("/api/")[1] for c in max(lives.values(), key=len)}
    assert len(endpoints) >= 4


def test_failures_read_like_clickpost_not_like_a_template():
    _, records = generated(12)
    failures = [r for r in records if is_error(r)]
    messages = [
        r["response"]["meta"]["message"] for r in failures if isinstance(r["response"], dict)
    ]
    assert not any("Request failed with code" in str(m) for m in messages)
    assert any(isinstance(m, dict) and "non_field_errors" in m for m in messages)
    assert any(
        m == "You Are Using Invalid Credential For Courier Partner, Please Update" for m in messages
    )
    pages = [r for r in failures if isinstance(r["response"], str)]
    assert pages and all(
        "<title>50" in r["response"] and r["message"] == r["response"] for r in pages
    )


# ---------------------------------------------------------------- incidents


@pytest.mark.parametrize("hour", HOURS)
def test_incidents_are_placed_relative_to_now_in_busy_hours(hour):
    now = BASE + timedelta(hours=hour, minutes=33)
    now_incident, *past = incidents(now, 14)
    assert now_incident.start <= now - timedelta(minutes=45) and now_incident.end > now
    for incident in past:
        start_hour = incident.start.hour + incident.start.minute / 60
        assert BUSY_UTC[0] <= start_hour and start_hour + incident.hours <= BUSY_UTC[1]
        assert incident.end < now
    assert now - timedelta(hours=24) < past[0].start  # one inside the last 24 hours


def _rates(
    records: list[dict], *, start: datetime, end: datetime, bucket: timedelta
) -> list[float]:
    calls: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for record in records:
        moment = at(record)
        if start <= moment < end:
            slot = int((moment - start) / bucket)
            calls[slot][0] += 1
            calls[slot][1] += is_error(record)
    return [errors / n for n, errors in calls.values() if n >= 10]


@pytest.mark.parametrize("hour", HOURS)
@pytest.mark.parametrize("span", [timedelta(hours=24), timedelta(days=7)], ids=["24h", "7d"])
def test_every_range_shows_an_incident_whatever_the_hour_of_generation(hour, span):
    """On the 24-hour and 7-day ranges the worst hour's error rate is at least twice the
    typical hour's."""
    now, records = generated(hour)
    rates = _rates(records, start=now - span, end=now, bucket=timedelta(hours=1))
    assert rates and max(rates) >= 2 * statistics.median(rates), (hour, max(rates))


@pytest.mark.parametrize("hour", HOURS)
def test_the_last_hour_fails_far_more_than_a_usual_hour_whatever_the_hour(hour):
    """The last hour is the incident itself: its error rate against the typical hour of the
    week before, overall and for the courier at fault."""
    now, records = generated(hour)
    week = now - timedelta(days=7)
    usual = statistics.median(_rates(records, start=week, end=now, bucket=timedelta(hours=1)))
    [last] = _rates(records, start=now - timedelta(hours=1), end=now, bucket=timedelta(hours=1))
    assert last >= 1.4 * usual, (hour, last, usual)
    delhivery = [r for r in records if r["cp_id"] == 4]
    [courier_last] = _rates(
        delhivery, start=now - timedelta(hours=1), end=now, bucket=timedelta(hours=1)
    )
    courier_usual = statistics.median(
        _rates(delhivery, start=week, end=now, bucket=timedelta(days=1))
    )
    assert courier_last >= 3 * courier_usual, (hour, courier_last, courier_usual)


def test_the_incident_under_way_now_keeps_its_couriers_normal_volume():
    now, records = generated(2)

    def delhivery(start, end):
        return [r for r in records if r["cp_id"] == 4 and start <= at(r) < end]

    last = delhivery(now - timedelta(minutes=45), now)
    days = range(1, 7)
    before = [delhivery(now - timedelta(days=d, minutes=45), now - timedelta(days=d)) for d in days]
    usual = statistics.mean(len(calls) for calls in before)
    assert 0.5 < len(last) / usual < 1.5
    assert sum(map(is_error, last)) / len(last) > 0.4


# ---------------------------------------------------------------- the command


def test_generate_demo_data_refuses_a_database_with_events_unless_reset(db):
    call_command("generate_demo_data", days=1, per_day=500)
    first = stored_count()
    with pytest.raises(CommandError, match="--reset"):
        call_command("generate_demo_data", days=1, per_day=500)
    assert stored_count() == first
    call_command("generate_demo_data", days=1, per_day=500, reset=True)
    assert stored_count() == Event.objects.count() and 0.8 * first < stored_count() < 1.2 * first


def test_the_demo_token_has_a_history_for_the_shippers_page(
    db, client, django_user_model, settings
):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    call_command("generate_demo_data", days=1, per_day=2000)
    token = ApiToken.objects.get(name="demo-shipper")
    assert token.accepted > 0 and token.last_used_at is not None
    client.force_login(django_user_model.objects.create_user("ops", password="pw-123456789"))
    assert "demo-shipper" in client.get("/shippers/").content.decode()


def test_the_start_up_banner_names_the_port_it_serves(db, capsys):
    call_command("setup_demo", days=1, host="0.0.0.0", port="8123")
    assert "http://0.0.0.0:8123/" in capsys.readouterr().out


def test_records_come_in_time_order_and_end_before_now():
    now, records = generated(9)
    stamps = [at(r) for r in records]
    assert stamps == sorted(stamps) and stamps[-1] < now


def test_the_readmes_sample_calls_are_stored_and_shown_where_it_says(
    ingest_client, client, django_user_model
):
    """README's curl example posts `python -m demo.sample_calls`: four calls timed just now,
    every one stored, and the four events of /events/?range=1h&account_code=sample-store."""
    printed = subprocess.run(
        [sys.executable, "-m", "demo.sample_calls"],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        check=True,
    )
    assert printed.stderr == b""
    response = ingest_client.generic(
        "POST", "/api/v1/events/", printed.stdout, content_type="application/x-ndjson"
    )
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 4
    stored = Event.objects.filter(account_code=sample_calls.ACCOUNT)
    assert sorted(stored.values_list("code", flat=True)) == [200, 303, 319, 503]
    client.force_login(django_user_model.objects.create_user("ops", password="pw-123456789"))
    page = client.get("/events/", {"range": "1h", "account_code": sample_calls.ACCOUNT})
    assert page.content.decode().count(sample_calls.ORDER) >= 3


def test_the_sample_calls_end_just_before_now():
    now = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    stamps = [at(call) for call in sample_calls.sample_calls(now=now)]
    assert stamps == sorted(stamps)
    assert now - timedelta(minutes=5) < stamps[0] and stamps[-1] < now


def test_the_demo_leaves_a_few_dozen_open_failures_and_retries_the_rest(db):
    """A shipper retries failed calls until they go through; a few are given up on."""
    from django.utils import timezone

    from ingest.models import OpenFailure
    from ingest.pipeline import RawItem, ingest_items
    from ingest.store import delete_all_events

    delete_all_events()  # what earlier tests committed (rolled back with this test)
    traffic = DemoTraffic(now=timezone.now(), days=3, per_day=3000)
    records = list(traffic.records())
    assert ingest_items([RawItem(r) for r in records], token_id=None).rejected == 0
    still_open = OpenFailure.objects.filter(is_open=True)
    closed_after_failing = OpenFailure.objects.filter(is_open=False, closed_id__isnull=False)
    assert 5 <= still_open.count() <= 120
    assert len({row.code for row in still_open}) >= 3
    assert closed_after_failing.count() > 10 * still_open.count()


# ---------------------------------------------------------------- latency


def _p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


@pytest.mark.parametrize("hour", HOURS)
def test_the_slow_courier_incident_is_seen_only_in_latency(hour):
    """Blue Dart's calls in the slow incident take many times their usual p95 and fail no
    more than usual: a case only latency catches."""
    now, records = generated(hour)
    placed = incidents(now, 8)
    slow = next(i for i in placed if i.name == "slow-courier")
    assert not slow.codes and slow.end < now

    def failing_incident(r: dict) -> bool:  # another incident's failures may overlap in time
        endpoint = next(e for e, (_, path, _) in ENDPOINTS.items() if path in r["url"])
        return any(i.codes and i.applies(at(r), 5, r["account_code"], endpoint) for i in placed)

    blue_dart = [r for r in records if r["cp_id"] == 5 and not failing_incident(r)]
    during = [r for r in blue_dart if slow.start <= at(r) < slow.end]
    usual = [r for r in blue_dart if at(r) < slow.start - timedelta(hours=6)]
    assert _p95([r["latency_ms"] for r in during]) > 8 * _p95([r["latency_ms"] for r in usual])
    error_rate = sum(map(is_error, during)) / len(during)
    assert error_rate < 2 * sum(map(is_error, usual)) / len(usual) + 0.05


def test_latencies_differ_by_endpoint_and_never_go_missing():
    _, records = generated(12)
    by_endpoint: dict[str, list[float]] = defaultdict(list)
    for record in records:
        by_endpoint[record["url"].split("?")[0].split("/api/")[1]].append(record["latency_ms"])
    medians = {path: statistics.median(values) for path, values in by_endpoint.items()}
    assert medians["v3/create-order/"] > 2.5 * medians["v2/track-order/"]
    assert all(value > 0 for values in by_endpoint.values() for value in values)
