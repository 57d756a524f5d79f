from django.core.management.base import BaseCommand
from django.db import connection, transaction

from ingest import open_failures


class Command(BaseCommand):
    help = (
        "Rebuild the open-failure state from the stored events (after a catalog edit changed "
        "which codes are benign). Batches arriving meanwhile wait, then merge their own calls."
    )

    def handle(self, *args, **options):
        with transaction.atomic(), connection.cursor() as cursor:
            references = open_failures.rebuild_all(cursor.cursor)
        self.stdout.write(f"Rebuilt the state of {references} reference(s).")
