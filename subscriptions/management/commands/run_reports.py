"""`run_reports`: the scheduled weekly reports, checked every minute until SIGTERM/SIGINT;
`--once [--at T]` checks one moment and exits (cron, tests)."""

from __future__ import annotations

import logging
import signal
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections
from django.utils import timezone

from stats.window import parse_time
from subscriptions.schedule import send_due_reports

log = logging.getLogger("subscriptions.run")


class Command(BaseCommand):
    help = (
        "Send the weekly report subscriptions when they are due, checking every minute, until "
        "stopped. Any number may run: each week of a subscription is claimed before it is sent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="check one moment and exit")
        parser.add_argument("--at", help="with --once: the moment to check (RFC 3339)")
        parser.add_argument("--poll-seconds", type=float, default=30.0)

    def handle(self, *args, once, at, poll_seconds, **options):
        if at and not once:
            raise CommandError("--at goes with --once")
        if once:
            moment = timezone.now()
            if at:
                try:
                    moment = parse_time(at, tz=timezone.get_default_timezone())
                except ValueError as error:
                    raise CommandError(f"--at {error}") from None
            sent = send_due_reports(moment)
            self.stdout.write(f"{moment.isoformat()}: {sent} reports sent")
            return
        stopping: list[bool] = []
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopping.append(True))
        self.stdout.write("report scheduler started")
        while not stopping:
            try:
                send_due_reports(timezone.now())
            except Exception:  # noqa: BLE001 - a database outage must not end the loop
                log.exception("report scheduler: this round failed; trying again")
                close_old_connections()
            end = time.monotonic() + max(poll_seconds, 0.2)
            while not stopping and time.monotonic() < end:
                time.sleep(0.1)
        self.stdout.write("report scheduler stopped")
