import os
import signal
import threading

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.utils import timezone

from demo.management.commands.generate_demo_data import demo_token
from demo.trickle import Trickle
from ingest.pipeline import RawItem, ingest_items

TICK_SECONDS = 10


class Command(BaseCommand):
    help = (
        "The demo's live traffic (demo.trickle): calls keep arriving through the ingest "
        "pipeline as they happen, until SIGTERM/SIGINT. Only on the embedded demo database "
        "(DATABASE_URL unset); `make run` starts it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--per-day", type=int, default=10_000, help="calls a day on average")

    def handle(self, *args, per_day, **options):
        if os.environ.get("DATABASE_URL"):
            raise CommandError(
                "demo_trickle writes demo traffic: it runs only on the embedded demo database "
                "(DATABASE_URL unset)"
            )
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        trickle = Trickle(start=timezone.now(), per_day=per_day)
        token_id = demo_token().pk
        while not stop.wait(TICK_SECONDS):
            try:
                send(trickle, token_id=token_id)
            except DatabaseError as error:  # the database restarting: these calls are lost, no more
                self.stderr.write(f"demo_trickle: {error}".strip())


def send(trickle: Trickle, *, token_id: int) -> int:
    """Ingest the calls whose time has come, as the demo shipper; how many were accepted."""
    due = trickle.due(timezone.now())
    if not due:
        return 0
    return ingest_items([RawItem(call) for call in due], token_id=token_id).accepted
