"""The weekly report: rows per (code, courier) equal an independent count of the events."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from stats.reports import CSV_COLUMNS, parse_iso_week

REPORT = "/api/v1/reports/weekly/"
LABELS = {4: "Delhivery", 5: "Blue Dart", 3: "Ecom Express", 999: "cp 999", 0: "no courier"}


def local_week(year: int, week: int, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Monday 00:00 to the next Monday 00:00 in `zone`, as UTC instants."""
    monday = datetime.fromisocalendar(year, week, 1).replace(tzinfo=zone)
    return monday.astimezone(UTC), (monday + timedelta(days=7)).astimezone(UTC)


def expected_rows(events, week: int, zone: ZoneInfo) -> dict[tuple, dict]:
    start, end = local_week(2026, week, zone)
    prev_start, prev_end = local_week(2026, week - 1, zone)
    now = [e for e in events if start <= e.ts < end]
    errors = Counter((e.category, e.code, e.cp_id) for e in now if e.is_error)
    calls = Counter(e.cp_id for e in now)
    before = Counter(
        (e.category, e.code, e.cp_id)
        for e in events
        if prev_start <= e.ts < prev_end and e.is_error
    )
    rows = {}
    for (category, code, cp_id), count in errors.items():
        prev = before[(category, code, cp_id)]
        rows[(category, str(code), "" if cp_id == 0 else str(cp_id))] = {
            "week": f"2026-W{week}",
            "courier": LABELS[cp_id],
            "errors": str(count),
            "calls": str(calls[cp_id]),
            "error_rate": f"{count / calls[cp_id]:.4f}",
            "prev_week_errors": str(prev),
            "change_pct": f"{(count - prev) / prev * 100:.1f}" if prev else "",
        }
    return rows


def read(response) -> str:
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode("utf-8")


def csv_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize(
    ("week", "zone"),
    [(44, "Europe/London"), (43, "Europe/London"), (44, "Asia/Kolkata"), (43, "UTC")],
)
def test_csv_rows_equal_a_count_per_code_and_courier(read_client, events, week, zone):
    response = read_client.get(REPORT, {"week": f"2026-W{week}", "tz": zone})
    rows = csv_rows(read(response))
    got = {
        (r["category"], r["code"], r["cp_id"]): {k: r[k] for k in CSV_COLUMNS if k in r}
        for r in rows
    }
    expected = expected_rows(events, week, ZoneInfo(zone))
    assert len(rows) == len(got) == len(expected)
    for key, want in expected.items():
        assert {k: got[key][k] for k in want} == want, key
    assert [int(r["errors"]) for r in rows] == sorted(
        (int(r["errors"]) for r in rows), reverse=True
    )


def test_csv_is_a_streamed_attachment_with_the_spec_header(read_client, events):
    response = read_client.get(REPORT, {"week": "2026-W44", "tz": "Europe/London"})
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="clickpost-errors-2026-W44.csv"'
    )
    first = b"".join(response.streaming_content).decode().splitlines()[0]
    assert first == (
        "week,category,code,meaning,cp_id,courier,errors,calls,error_rate,"
        "prev_week_errors,change_pct"
    )


def test_previous_week_of_a_dst_week_is_the_whole_iso_week(read_client, events):
    """London's week 43 lasted 169 hours; week 44's comparison counts all of it."""
    start, end = local_week(2026, 43, ZoneInfo("Europe/London"))
    assert end - start == timedelta(hours=169)
    response = read_client.get(
        REPORT, {"week": "2026-W44", "tz": "Europe/London", "format": "json"}
    )
    before = Counter((e.code, e.cp_id) for e in events if start <= e.ts < end and e.is_error)
    for row in json.loads(read(response)):
        assert row["prev_week_errors"] == before[(row["code"], row["cp_id"] or 0)]


def test_json_format_gives_the_same_rows_as_the_csv(read_client, events):
    params = {"week": "2026-W44", "tz": "Europe/London"}
    as_csv = csv_rows(read(read_client.get(REPORT, params)))
    response = read_client.get(REPORT, params | {"format": "json"})
    assert response["Content-Type"] == "application/json"
    as_json = json.loads(read(response))
    assert len(as_json) == len(as_csv)
    for j, c in zip(as_json, as_csv, strict=True):
        assert (str(j["code"]), str(j["cp_id"] or ""), str(j["errors"])) == (
            c["code"],
            c["cp_id"],
            c["errors"],
        )
        assert f"{j['error_rate']:.4f}" == c["error_rate"]


def test_a_week_without_errors_is_only_the_header(read_client, events):
    assert read(read_client.get(REPORT, {"week": "2025-W10"})).count("\n") == 1


def test_command_writes_the_same_csv_as_the_api(read_client, events, tmp_path):
    api_text = read(read_client.get(REPORT, {"week": "2026-W44", "tz": "Asia/Kolkata"}))
    target = tmp_path / "report.csv"
    call_command("export_weekly_report", week="2026-W44", tz="Asia/Kolkata", output=str(target))
    assert target.read_bytes().decode("utf-8") == api_text
    out = io.StringIO()
    call_command("export_weekly_report", "--week", "2026-W44", "--tz", "Asia/Kolkata", stdout=out)
    assert out.getvalue() == api_text


@pytest.mark.parametrize(
    "options", [{"week": "2026-W60"}, {"week": "last week"}, {"week": "2026-W44", "tz": "Mars/X"}]
)
def test_command_refuses_a_bad_week_or_zone(db, options):
    with pytest.raises(CommandError):
        call_command("export_weekly_report", **options)


def test_iso_week_53_exists_only_in_long_years():
    assert parse_iso_week("2026-W53", ZoneInfo("UTC")).start.date().isoformat() == "2026-12-28"
    with pytest.raises(ValueError):
        parse_iso_week("2025-W53", ZoneInfo("UTC"))


def test_command_week_last_is_the_last_whole_iso_week(db):
    from django.utils import timezone

    from ingest.pipeline import RawItem, ingest_items
    from stats.reports import last_whole_week

    today = timezone.now().astimezone(UTC).date()
    wednesday = today - timedelta(days=today.weekday() + 5)  # of the last whole week
    at = datetime.combine(wednesday, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    event = {"timestamp": at.isoformat(), "endpoint": "label", "http_status": 503, "cp_id": 4}
    assert ingest_items([RawItem(event)], token_id=None).accepted == 1
    out, named = io.StringIO(), io.StringIO()
    call_command("export_weekly_report", week="last", tz="UTC", stdout=out)
    call_command("export_weekly_report", week=last_whole_week(today=today), tz="UTC", stdout=named)
    assert out.getvalue() == named.getvalue()
    assert csv_rows(out.getvalue())[0]["code"] == "503"
    assert last_whole_week(today=datetime(2026, 11, 25).date()) == "2026-W47"
    assert last_whole_week(today=datetime(2026, 1, 1).date()) == "2025-W52"
