from django.core.management.base import BaseCommand

from ingest.models import ApiToken


class Command(BaseCommand):
    help = "List API tokens with their scopes, counts and last use (is my shipper working?)."

    def handle(self, *args, **options):
        row = "{:<24} {:<12} {:<12} {:>10} {:>10} {:>9}  {:<25} {}"
        self.stdout.write(
            row.format(
                "name",
                "prefix",
                "scopes",
                "accepted",
                "duplicates",
                "rejected",
                "last used",
                "state / last error",
            )
        )
        for t in ApiToken.objects.all():
            state = "revoked" if t.revoked_at else (t.last_error[:60] or "ok")
            last = t.last_used_at.isoformat(timespec="seconds") if t.last_used_at else "never"
            self.stdout.write(
                row.format(
                    t.name, t.prefix, t.scopes, t.accepted, t.duplicates, t.rejected, last, state
                )
            )
