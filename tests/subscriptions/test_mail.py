"""The weekly report e-mail, received by a real SMTP server and parsed with the email package."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from subscriptions.mail import last_week, report_email, send_report

IST = ZoneInfo("Asia/Kolkata")
REPORT = "/api/v1/reports/weekly/"


def _week_counts(events, week: int) -> tuple[int, int]:
    """Calls and errors in 2026-W{week} in IST, counted from the generated events."""
    monday = datetime.fromisocalendar(2026, week, 1).replace(tzinfo=IST)
    start, end = monday.astimezone(UTC), (monday + timedelta(days=7)).astimezone(UTC)
    inside = [e for e in events if start <= e.ts < end]
    return len(inside), sum(e.is_error for e in inside)


def _attachment(message) -> tuple[str, str]:
    [part] = list(message.iter_attachments())
    return part.get_filename(), part.get_content()


def _plain(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_attached_csv_is_the_apis_csv_for_that_week(inbox, events, read_client):
    send_report(week="2026-W44", tz=IST, to=["ops@example.com"])
    [(recipients, message)] = inbox.received
    assert recipients == ["ops@example.com"]
    filename, text = _attachment(message)
    api = read_client.get(REPORT, {"week": "2026-W44", "tz": "Asia/Kolkata"})
    assert api["Content-Disposition"] == f'attachment; filename="{filename}"'
    expected = b"".join(api.streaming_content).decode("utf-8")
    assert filename == "clickpost-errors-2026-W44.csv"
    assert len(_rows(text)) > 10
    assert _rows(text) == _rows(expected)


def test_the_body_gives_the_weeks_numbers_and_the_change(db, inbox, events):
    send_report(week="2026-W44", tz=IST, to=["ops@example.com"])
    [message] = inbox.messages
    calls, errors = _week_counts(events, 44)
    previous_calls, previous_errors = _week_counts(events, 43)
    text = _plain(message)
    html = message.get_body(preferencelist=("html",)).get_content()
    assert f"Calls: {calls:,}   Errors: {errors:,}   Error rate: {errors / calls:.1%}" in text
    change = (errors - previous_errors) / previous_errors
    assert f"errors {change:+.0%} against the week before ({previous_errors:,} errors" in text
    assert f"of {previous_calls:,} calls" in text
    assert f"<b>{calls:,}</b>" in html and f"<b>{errors:,}</b>" in html
    assert message["Subject"] == (
        f"Clickpost errors 2026-W44: {errors:,} of {calls:,} calls ({errors / calls:.1%})"
    )


def test_the_body_lists_the_top_codes_and_couriers(db, inbox, events):
    send_report(week="2026-W44", tz=IST, to=["ops@example.com"])
    [message] = inbox.messages
    text = _plain(message)
    codes = text.split("Top codes:\n")[1].split("\n\n")[0].splitlines()
    couriers = text.split("Top couriers:\n")[1].split("\n\n")[0].splitlines()
    _, attached = _attachment(message)
    per_code: dict[str, int] = {}
    for row in _rows(attached):
        per_code[row["code"]] = per_code.get(row["code"], 0) + int(row["errors"])
    top_code, top_errors = max(per_code.items(), key=lambda item: (item[1], -int(item[0])))
    assert codes[0].startswith(f"  {top_code}  ")
    assert codes[0].endswith(f": {top_errors:,} errors")
    assert 1 <= len(codes) <= 5 and 1 <= len(couriers) <= 5
    assert any("Delhivery" in line or "Blue Dart" in line for line in couriers)


def test_the_html_body_escapes_courier_names(db, events):
    from ingest.models import Courier

    Courier.objects.filter(cp_id=4).update(name="<script>alert(1)</script>")
    message = report_email(week="2026-W44", tz=IST, to=["ops@example.com"])
    [(html, kind)] = message.alternatives
    assert kind == "text/html"
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_last_week_is_the_last_whole_iso_week_in_the_zone():
    monday_early = datetime(2026, 11, 29, 20, 0, tzinfo=UTC)  # Monday 01:30 IST, Sunday in UTC
    assert last_week(monday_early, IST) == "2026-W48"
    assert last_week(monday_early, ZoneInfo("UTC")) == "2026-W47"


def test_command_sends_to_every_address(db, inbox, events):
    call_command(
        "send_weekly_report", week="2026-W44", to="a@example.com,b@example.com", tz="Asia/Kolkata"
    )
    [(recipients, message)] = inbox.received
    assert recipients == ["a@example.com", "b@example.com"]
    assert _attachment(message)[0] == "clickpost-errors-2026-W44.csv"


def test_command_week_last(inbox, db):
    call_command("send_weekly_report", "--week", "last", "--to", "a@example.com", "--tz", "UTC")
    year, week, _ = (datetime.now(UTC).date() - timedelta(days=7)).isocalendar()
    assert _attachment(inbox.messages[0])[0] == f"clickpost-errors-{year}-W{week:02d}.csv"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"week": "2026-47", "to": "a@example.com"}, "not an ISO week"),
        ({"week": "last", "to": "a@example.com", "tz": "Mars/Base"}, "not an IANA time zone"),
        ({"week": "last", "to": "a@example.com,not-an-address"}, "--to: 'not-an-address'"),
    ],
)
def test_command_refuses_bad_arguments(db, options, message):
    with pytest.raises(CommandError, match=message):
        call_command("send_weekly_report", **options)
