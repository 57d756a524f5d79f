"""`python manage.py send_weekly_report --week last|2026-W47 --to a@x,b@y [--tz ZONE]`."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from stats.window import default_zone, parse_zone
from subscriptions.mail import resolve_week, send_report
from subscriptions.models import split_recipients, validate_recipients


class Command(BaseCommand):
    help = (
        "E-mail one ISO week's report (the weekly CSV attached, a summary in the body) through "
        "the Django e-mail settings. For cron; subscriptions are sent by run_alerts."
    )

    def add_arguments(self, parser):
        parser.add_argument("--week", required=True, help="'last' or an ISO week, e.g. 2026-W47")
        parser.add_argument("--to", required=True, help="addresses, comma-separated")
        parser.add_argument("--tz", help="IANA zone of the week's edges (default: TIME_ZONE)")

    def handle(self, *args, week: str, to: str, tz: str | None, **options):
        try:
            zone = parse_zone(tz) if tz else default_zone()
            resolved = resolve_week(week, now=timezone.now(), tz=zone)
            validate_recipients(to)
        except ValueError as error:
            raise CommandError(str(error)) from None
        except ValidationError as error:
            raise CommandError(f"--to: {error.messages[0]}") from None
        addresses = split_recipients(to)
        try:
            send_report(week=resolved, tz=zone, to=addresses)
        except OSError as error:
            raise CommandError(f"sending failed: {error}") from None
        self.stderr.write(f"Sent the report of {resolved} to {', '.join(addresses)}")
