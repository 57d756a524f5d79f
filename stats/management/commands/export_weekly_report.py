"""`python manage.py export_weekly_report --week 2026-W47|last [--tz ZONE] [--output FILE]`."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from stats.reports import last_whole_week, parse_iso_week, weekly_csv_lines
from stats.window import default_zone, parse_zone


class Command(BaseCommand):
    help = (
        "Write the weekly CSV of errors per (code, courier) for one ISO week (SPEC 'Weekly CSV "
        "report'), streamed to stdout or to --output."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--week", required=True, help="ISO week, e.g. 2026-W47, or 'last' (the last whole one)"
        )
        parser.add_argument("--tz", help="IANA zone of the week's edges (default: TIME_ZONE)")
        parser.add_argument("--output", help="file to write (default: stdout)")

    def handle(self, *args, week: str, tz: str | None, output: str | None, **options):
        try:
            zone = parse_zone(tz) if tz else default_zone()
            if week.strip() == "last":
                week = last_whole_week(today=timezone.now().astimezone(zone).date())
            parse_iso_week(week, zone)
        except ValueError as error:
            raise CommandError(str(error)) from None
        lines = weekly_csv_lines(week=week, tz=zone)
        if output is None:
            for line in lines:
                self.stdout.write(line, ending="")
            return
        with open(output, "w", encoding="utf-8", newline="") as file:
            file.writelines(lines)
        self.stderr.write(f"Wrote {output}")
