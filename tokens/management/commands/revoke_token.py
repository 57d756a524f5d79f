from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tokens.auth import forget_cached_tokens
from tokens.models import ApiToken


class Command(BaseCommand):
    help = "Revoke an API token by name: its requests get 401 (within TOKEN_CACHE_SECONDS)."

    def add_arguments(self, parser):
        parser.add_argument("name")

    def handle(self, *args, name, **options):
        updated = ApiToken.objects.filter(name=name, revoked_at=None).update(
            revoked_at=timezone.now()
        )
        if not updated:
            raise CommandError(f"No active token named {name!r}.")
        forget_cached_tokens()  # this process at once; the web workers within their cache time
        self.stdout.write(
            f"Revoked {name!r}: refused from now on (by running workers within "
            f"{settings.TOKEN_CACHE_SECONDS} s, TOKEN_CACHE_SECONDS)."
        )
