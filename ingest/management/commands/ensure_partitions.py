from django.conf import settings
from django.core.management.base import BaseCommand

from ingest import partitions


class Command(BaseCommand):
    help = (
        "Create the daily partitions of raw events from the retention horizon (RETENTION_DAYS ago) "
        "to N days ahead, so ingest never has to run DDL itself (it still would, for a day that "
        "is missing, at most INGEST_MAX_NEW_PARTITIONS a request). Run daily."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days-ahead",
            type=int,
            default=settings.PARTITIONS_AHEAD_DAYS,
            help="days after today (default: PARTITIONS_AHEAD_DAYS, %(default)s)",
        )

    def handle(self, *args, days_ahead, **options):
        partitions.ensure_partitions_ahead(days_ahead=max(days_ahead, 0))
        days = partitions.partition_days()
        span = f"{days[0]} .. {days[-1]}" if days else "none"
        self.stdout.write(f"{len(days)} daily partitions of raw events: {span}")
