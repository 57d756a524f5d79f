"""The weekly report as an e-mail: the week's CSV attached, a short summary in the body.

The numbers come from the read room's questions (`stats.questions.totals` and `breakdown`,
what the overview shows for that week) and the attachment from `stats.reports`, the lines the
API's CSV download streams, under the API's file name. An attachment is held in memory to be
sent: one week of (code, courier) rows, a few thousand lines at most.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils.html import format_html, format_html_join

from stats.questions import breakdown, totals
from stats.rates import growth
from stats.reports import last_whole_week, parse_iso_week, report_filename, weekly_csv_lines
from stats.window import Filters, Window

TOP = 5


def last_week(now: datetime, tz: ZoneInfo) -> str:
    """The last whole ISO week before `now` in `tz`, e.g. "2026-W47"."""
    return last_whole_week(today=now.astimezone(tz).date())


def resolve_week(text: str, *, now: datetime, tz: ZoneInfo) -> str:
    """ "last" or an ISO week such as 2026-W47; ValueError naming the problem otherwise."""
    week = last_week(now, tz) if text.strip() == "last" else text.strip()
    parse_iso_week(week, tz)
    return week


def _previous(week: Window) -> Window:
    # The previous ISO week, not week.previous(): a week with a DST change lasts 167 or 169 h.
    start = week.start.astimezone(week.tz).date() - timedelta(days=7)
    monday = datetime(start.year, start.month, start.day, tzinfo=week.tz)
    return Window(start=monday, end=week.start, tz=week.tz)


def summary(*, week: str, tz: ZoneInfo) -> dict:
    """The body's numbers: {"week", "tz", "calls", "errors", "error_rate", "previous_calls",
    "previous_errors", "previous_error_rate", "change" (relative change of errors, None when
    the previous week had none), "codes", "couriers" (breakdown rows, most errors first)}."""
    window = parse_iso_week(week, tz)
    now, before = (
        totals(window=window, filters=Filters()),
        totals(window=_previous(window), filters=Filters()),
    )
    change = growth(now["errors"], before["errors"])
    top = {
        by: [
            row
            for row in breakdown(window=window, by=by, limit=TOP, filters=Filters())
            if row["errors"]
        ]
        for by in ("code", "cp_id")
    }
    return {
        "week": week,
        "tz": str(tz),
        "calls": now["events"],
        "errors": now["errors"],
        "error_rate": now["error_rate"],
        "previous_calls": before["events"],
        "previous_errors": before["errors"],
        "previous_error_rate": before["error_rate"],
        "change": change,
        "codes": top["code"],
        "couriers": top["cp_id"],
    }


def _change_words(numbers: dict) -> str:
    if numbers["change"] is None:
        return f"no errors the week before ({numbers['previous_calls']:,} calls)"
    return (
        f"errors {numbers['change']:+.0%} against the week before "
        f"({numbers['previous_errors']:,} errors of {numbers['previous_calls']:,} calls, "
        f"{numbers['previous_error_rate']:.1%})"
    )


def _text(numbers: dict, filename: str) -> str:
    lines = [
        f"Clickpost API errors, week {numbers['week']} ({numbers['tz']})",
        "",
        f"Calls: {numbers['calls']:,}   Errors: {numbers['errors']:,}   "
        f"Error rate: {numbers['error_rate']:.1%}",
        f"Change: {_change_words(numbers)}",
        "",
        "Top codes:",
        *(f"  {r['key']}  {r['label']}: {r['errors']:,} errors" for r in numbers["codes"]),
        "",
        "Top couriers:",
        *(
            f"  {r['label']}: {r['errors']:,} errors of {r['events']:,} calls "
            f"({r['error_rate']:.1%})"
            for r in numbers["couriers"]
        ),
        "",
        f"Every code and courier is in the attached {filename}.",
    ]
    return "\n".join(lines) + "\n"


def _html(numbers: dict, filename: str) -> str:
    codes = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
        ((r["key"], r["label"], f"{r['errors']:,}") for r in numbers["codes"]),
    )
    couriers = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (r["label"], f"{r['errors']:,}", f"{r['events']:,}", f"{r['error_rate']:.1%}")
            for r in numbers["couriers"]
        ),
    )
    return format_html(
        "<h2>Clickpost API errors, week {} ({})</h2>"
        "<p>Calls: <b>{}</b> &middot; Errors: <b>{}</b> &middot; Error rate: <b>{}</b></p>"
        "<p>Change: {}</p>"
        "<h3>Top codes</h3><table><tr><th>Code</th><th>Meaning</th><th>Errors</th></tr>{}</table>"
        "<h3>Top couriers</h3><table><tr><th>Courier</th><th>Errors</th><th>Calls</th>"
        "<th>Error rate</th></tr>{}</table>"
        "<p>Every code and courier is in the attached {}.</p>",
        numbers["week"],
        numbers["tz"],
        f"{numbers['calls']:,}",
        f"{numbers['errors']:,}",
        f"{numbers['error_rate']:.1%}",
        _change_words(numbers),
        codes,
        couriers,
        filename,
    )


def report_email(*, week: str, tz: ZoneInfo, to: Sequence[str]) -> EmailMultiAlternatives:
    """The e-mail of one ISO week's report in `tz`, to `to`, from DEFAULT_FROM_EMAIL."""
    numbers = summary(week=week, tz=tz)
    filename = report_filename(week)
    message = EmailMultiAlternatives(
        subject=(
            f"Clickpost errors {week}: {numbers['errors']:,} of {numbers['calls']:,} calls "
            f"({numbers['error_rate']:.1%})"
        ),
        body=_text(numbers, filename),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=list(to),
    )
    message.attach_alternative(_html(numbers, filename), "text/html")
    message.attach(filename, "".join(weekly_csv_lines(week=week, tz=tz)), "text/csv")
    return message


def send_report(*, week: str, tz: ZoneInfo, to: Sequence[str]) -> None:
    """Build and send one report through the Django e-mail backend; raises when it fails."""
    report_email(week=week, tz=tz, to=to).send(fail_silently=False)
