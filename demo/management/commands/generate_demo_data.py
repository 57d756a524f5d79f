from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from demo.traffic import DemoTraffic
from ingest import store
from ingest.models import Event
from ingest.pipeline import RawItem, ingest_items
from tokens.auth import create_token
from tokens.models import ApiToken

BATCH = 2000
DEMO_TOKEN = "demo-shipper"
TOKEN_HISTORY = timedelta(hours=6)  # the demo token sends the last 6 hours, so it has a history


class Command(BaseCommand):
    help = (
        "Write realistic Clickpost traffic (shipments, incidents, a demo shipper token) through "
        "the ingest pipeline. Refuses a database that holds events unless --reset."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=14)
        parser.add_argument("--per-day", type=int, default=10_000, help="events a day on average")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--reset",
            action="store_true",
            help="delete every stored event, rollup and the demo token first",
        )

    def handle(self, *args, days, per_day, seed, reset, **options):
        if days < 1 or per_day < 1:
            raise CommandError("--days and --per-day must be at least 1")
        if reset:
            _reset()
        elif Event.objects.exists():
            raise CommandError(
                "The database already holds events; generating again would double the traffic. "
                "Run with --reset to replace them with fresh demo data."
            )
        now = timezone.now()
        token = demo_token()
        traffic = DemoTraffic(now=now, days=days, per_day=per_day, seed=seed)
        accepted = duplicates = 0
        batch: list[RawItem] = []
        sender: int | None = None
        for record in traffic.records():
            # The last hours come in through the demo token, like a shipper's.
            at_token = record["timestamp"] >= (now - TOKEN_HISTORY).isoformat()
            wanted = token.pk if at_token else None
            if batch and (len(batch) == BATCH or wanted != sender):
                outcome = ingest_items(batch, token_id=sender)
                accepted, duplicates = accepted + outcome.accepted, duplicates + outcome.duplicates
                batch = []
            sender = wanted
            batch.append(RawItem(record))
        if batch:
            outcome = ingest_items(batch, token_id=sender)
            accepted, duplicates = accepted + outcome.accepted, duplicates + outcome.duplicates
        self.stdout.write(f"Demo data: {accepted} events stored, {duplicates} duplicates skipped.")
        for incident in traffic.incidents:
            self.stdout.write(
                f"  incident {incident.name}: {incident.start:%Y-%m-%d %H:%M} UTC, "
                f"{incident.hours:g} h{' (under way now)' if incident.end > now else ''}"
            )


def demo_token() -> ApiToken:
    """The demo shipper's token (its secret is not shown: the demo sends in-process)."""
    existing = ApiToken.objects.filter(name=DEMO_TOKEN).first()
    return existing or create_token(name=DEMO_TOKEN, scopes=["ingest"])[0]


def _reset() -> None:
    """Empty the events and every rollup (the demo's own data only lives there) and drop the
    demo token."""
    with transaction.atomic():
        store.delete_all_events()
        ApiToken.objects.filter(name=DEMO_TOKEN).delete()
