"""`run_alerts`: the alert evaluator, every minute until SIGTERM/SIGINT; `--once [--at T]`."""

from __future__ import annotations

import logging
import signal
import time
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections
from django.utils import timezone

from alerts.evaluator import evaluate_minute
from alerts.leader import Leadership, due_minutes, floor_minute
from alerts.outbox import deliver_due
from stats.window import parse_time

log = logging.getLogger("alerts.run")


class Command(BaseCommand):
    help = (
        "Evaluate the alert rules every minute and send their notifications, until stopped. "
        "Any number may run: one leads (a PostgreSQL advisory lock), the others wait."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="evaluate one minute and exit")
        parser.add_argument("--at", help="with --once: the minute to evaluate (RFC 3339)")
        parser.add_argument(
            "--poll-seconds",
            type=float,
            default=5.0,
            help="how often a waiting process tries to lead, and the outbox is retried",
        )

    def handle(self, *args, once, at, poll_seconds, **options):
        if at and not once:
            raise CommandError("--at goes with --once")
        if once:
            self._once(self._moment(at))
            return
        self._loop(poll_seconds=max(poll_seconds, 0.2))

    def _moment(self, text: str | None) -> datetime:
        if not text:
            return timezone.now()
        try:
            return parse_time(text, tz=timezone.get_default_timezone())
        except ValueError as error:
            raise CommandError(f"--at {error}") from None

    def _once(self, moment: datetime) -> None:
        leader = Leadership()
        deadline = time.monotonic() + 60
        while not leader.try_acquire():
            if time.monotonic() > deadline:
                raise CommandError("another evaluator holds the lock; try again later")
            time.sleep(1)
        try:
            outcome = evaluate_minute(moment)
            sent = deliver_due()
        finally:
            leader.release()
        done = "evaluated" if outcome.evaluated else "already evaluated, skipped"
        self.stdout.write(
            f"{outcome.minute.isoformat()}: {done}; {outcome.rules} rules, "
            f"{outcome.transitions} transitions, {sent} notifications sent"
        )

    def _loop(self, *, poll_seconds: float) -> None:
        stopping = []
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopping.append(True))
        leader = Leadership()
        self.stdout.write("alert evaluator started; waiting to lead")
        leading = False
        while not stopping:
            try:
                if leader.try_acquire():
                    if not leading:
                        self.stdout.write("alert evaluator: leading")
                        leading = True
                    self._work(stopping)
                else:
                    leading = False
            except Exception:  # noqa: BLE001 - a database outage must not end the loop
                log.exception("alert evaluator: this round failed; trying again")
                close_old_connections()
            self._sleep(poll_seconds, stopping)
        leader.release()
        self.stdout.write("alert evaluator stopped")

    def _work(self, stopping: list) -> None:
        for minute in due_minutes(now=timezone.now()):
            if stopping:
                return
            outcome = evaluate_minute(minute)
            if outcome.evaluated:
                log.info(
                    "alerts %s: %s rules, %s transitions",
                    minute.isoformat(),
                    outcome.rules,
                    outcome.transitions,
                )
            deliver_due()
        deliver_due()

    def _sleep(self, poll_seconds: float, stopping: list) -> None:
        """Until the next minute starts or `poll_seconds` pass, waking at once on a signal."""
        now = timezone.now()
        next_minute = (floor_minute(now) - now).total_seconds() + 60.5
        end = time.monotonic() + min(poll_seconds, next_minute)
        while not stopping and time.monotonic() < end:
            time.sleep(0.1)
