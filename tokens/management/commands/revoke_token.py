from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tokens.models import ApiToken


class Command(BaseCommand):
    help = "Revoke an API token by name: its next request gets 401."

    def add_arguments(self, parser):
        parser.add_argument("name")

    def handle(self, *args, name, **options):
        updated = ApiToken.objects.filter(name=name, revoked_at=None).update(
            revoked_at=timezone.now()
        )
        if not updated:
            raise CommandError(f"No active token named {name!r}.")
        self.stdout.write(f"Revoked {name!r}.")
