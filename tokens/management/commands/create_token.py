from django.core.management.base import BaseCommand, CommandError

from tokens.auth import create_token
from tokens.models import SCOPES, ApiToken


class Command(BaseCommand):
    help = "Create an API token and print it once (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="who uses it, e.g. 'fluent-bit-prod'")
        parser.add_argument(
            "--scope", default="ingest", help=f"comma-separated, among: {', '.join(SCOPES)}"
        )

    def handle(self, *args, name, scope, **options):
        if ApiToken.objects.filter(name=name).exists():
            raise CommandError(f"A token named {name!r} exists; revoke it or pick another name.")
        scopes = [s.strip() for s in scope.split(",") if s.strip()]
        try:
            token, secret = create_token(name=name, scopes=scopes)
        except ValueError as error:
            raise CommandError(str(error)) from None
        self.stderr.write(f"Token {token.name!r} ({token.scopes}); shown once, keep it safe:")
        self.stdout.write(secret)
