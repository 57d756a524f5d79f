import re
from datetime import UTC, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ingest import partitions

_AGE = re.compile(r"^\s*(\d+)\s*d?\s*$", re.IGNORECASE)


def parse_age(value: str) -> timedelta:
    """'90d' or '90' -> 90 days; at least one day."""
    match = _AGE.match(value)
    if not match or int(match[1]) < 1:
        raise CommandError(f"--older-than {value!r}: give whole days, e.g. 90d")
    return timedelta(days=int(match[1]))


class Command(BaseCommand):
    help = (
        "Drop raw events older than the retention period, a whole day's partition at a time. "
        "The 15-minute rollups (charts, reports) are kept. Safe while ingest runs."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            default=f"{settings.RETENTION_DAYS}d",
            help="age in days, e.g. 90d (default: RETENTION_DAYS, %(default)s)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="list the days that would be dropped"
        )

    def handle(self, *args, older_than, dry_run, **options):
        # A day's partition goes once all of it is older than the cutoff (UTC days).
        keep_from = (timezone.now() - parse_age(older_than)).astimezone(UTC).date()
        if dry_run:
            days = [d for d in partitions.partition_days() if d < keep_from]
        else:
            days = partitions.drop_partitions_before(keep_from)
        verb = "Would drop" if dry_run else "Dropped"
        listed = ", ".join(f"{d:%Y-%m-%d}" for d in days) or "none"
        self.stdout.write(f"{verb} {len(days)} day(s) of raw events before {keep_from}: {listed}")
