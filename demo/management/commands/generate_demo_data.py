from django.core.management.base import BaseCommand
from django.utils import timezone

from demo.traffic import DemoTraffic
from ingest.pipeline import RawItem, ingest_items

BATCH = 2000


class Command(BaseCommand):
    help = "Write realistic Clickpost traffic (with incidents) through the ingest pipeline."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=14)
        parser.add_argument("--per-day", type=int, default=10_000, help="events a day on average")
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, days, per_day, seed, **options):
        traffic = DemoTraffic(now=timezone.now(), days=days, per_day=per_day, seed=seed)
        accepted = duplicates = 0
        batch: list[RawItem] = []
        for record in traffic.records():
            batch.append(RawItem(record))
            if len(batch) == BATCH:
                outcome = ingest_items(batch, token_id=None)
                accepted, duplicates = accepted + outcome.accepted, duplicates + outcome.duplicates
                batch = []
        if batch:
            outcome = ingest_items(batch, token_id=None)
            accepted, duplicates = accepted + outcome.accepted, duplicates + outcome.duplicates
        self.stdout.write(f"Demo data: {accepted} events stored, {duplicates} duplicates skipped.")
