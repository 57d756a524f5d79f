"""Subscriptions are sent on time in their zone, once per ISO week, and retried when SMTP fails."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from subscriptions.models import ReportSubscription
from subscriptions.schedule import send_due_reports
from tests.subscriptions import smtp

IST = ZoneInfo("Asia/Kolkata")
NEW_YORK = ZoneInfo("America/New_York")


def _subscription(**fields) -> ReportSubscription:
    values = {"recipients": "ops@example.com, lead@example.com", "weekday": 2, "hour": 9}
    return ReportSubscription.objects.create(**{**values, **fields})


def _week_of(message) -> str:
    [part] = list(message.iter_attachments())
    return part.get_filename().removeprefix("clickpost-errors-").removesuffix(".csv")


def test_sent_once_a_week_from_its_weekday_and_hour_in_its_zone(db, inbox):
    subscription = _subscription(zone="Asia/Kolkata")
    moments = [
        (datetime(2026, 11, 3, 8, 59, tzinfo=IST), 0),  # Tuesday of 2026-W45, before 09:00
        (datetime(2026, 11, 3, 9, 0, tzinfo=IST), 1),
        (datetime(2026, 11, 3, 9, 1, tzinfo=IST), 0),  # the same week: already sent
        (datetime(2026, 11, 6, 10, 0, tzinfo=IST), 0),
        (datetime(2026, 11, 9, 23, 0, tzinfo=IST), 0),  # Monday of W46: not yet Tuesday
        (datetime(2026, 11, 10, 9, 5, tzinfo=IST), 1),  # a new week sends again
    ]
    assert [send_due_reports(now) for now, _ in moments] == [sent for _, sent in moments]
    assert [_week_of(message) for message in inbox.messages] == ["2026-W44", "2026-W45"]
    assert all(to == ["ops@example.com", "lead@example.com"] for to, _ in inbox.received)
    subscription.refresh_from_db()
    assert (subscription.last_sent_week, subscription.last_error) == ("2026-W45", "")


def test_a_late_evaluator_still_sends_that_weeks_report(db, inbox):
    _subscription(zone="Asia/Kolkata", weekday=1, hour=0)
    assert send_due_reports(datetime(2026, 11, 8, 12, 0, tzinfo=IST)) == 1  # Sunday of W45
    assert _week_of(inbox.messages[0]) == "2026-W44"


def test_the_hour_is_the_subscriptions_zones_hour(db, inbox):
    _subscription(zone="America/New_York")
    assert send_due_reports(datetime(2026, 11, 3, 8, 59, tzinfo=NEW_YORK)) == 0
    assert send_due_reports(datetime(2026, 11, 3, 9, 0, tzinfo=NEW_YORK)) == 1
    assert len(inbox.messages) == 1


def test_disabled_subscriptions_are_not_sent(db, inbox):
    _subscription(zone="Asia/Kolkata", enabled=False)
    assert send_due_reports(datetime(2026, 11, 3, 10, 0, tzinfo=IST)) == 0
    assert inbox.messages == []


def test_a_failed_send_is_recorded_and_retried_the_next_minute(db, settings):
    subscription = _subscription(zone="Asia/Kolkata")
    port = smtp.free_port()
    smtp.use_smtp(settings, port)  # nothing listens there yet
    assert send_due_reports(datetime(2026, 11, 3, 9, 0, tzinfo=IST)) == 0
    subscription.refresh_from_db()
    assert subscription.last_sent_week is None
    assert subscription.last_error.startswith("2026-W44: ")
    controller, inbox = smtp.start(port)
    try:
        assert send_due_reports(datetime(2026, 11, 3, 9, 1, tzinfo=IST)) == 1
        assert send_due_reports(datetime(2026, 11, 3, 9, 2, tzinfo=IST)) == 0
    finally:
        controller.stop()
    assert [_week_of(message) for message in inbox.messages] == ["2026-W44"]
    subscription.refresh_from_db()
    assert (subscription.last_sent_week, subscription.last_error) == ("2026-W44", "")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("recipients", "ops@example.com, nobody", "'nobody' is not an e-mail address"),
        ("zone", "Mars/Base", "not an IANA time zone"),
        ("hour", 24, "less than or equal to 23"),
    ],
)
def test_bad_fields_are_refused_with_the_reason(db, field, value, message):
    subscription = ReportSubscription(
        **{"recipients": "ops@example.com", "zone": "UTC", **{field: value}}
    )
    with pytest.raises(Exception, match=message) as error:
        subscription.full_clean()
    assert field in error.value.message_dict
