from django.core.management.base import BaseCommand

from tokens.health import STATUS_ERRORS, token_health


class Command(BaseCommand):
    help = "List API tokens with their scopes, counts and last use (is my shipper working?)."

    def handle(self, *args, **options):
        row = "{:<24} {:<12} {:<12} {:>10} {:>10} {:>9}  {:<25} {}"
        headings = ("name", "prefix", "scopes", "accepted", "duplicates", "rejected")
        self.stdout.write(row.format(*headings, "last used", "status / last error"))
        for t in token_health():
            last = t["last_used_at"].isoformat(timespec="seconds") if t["last_used_at"] else "never"
            # The same status as the Shippers page: an old error under a newer success is "ok".
            status = t["status"]
            if status == STATUS_ERRORS:
                status = f"{status}: {t['last_error'][:60]}"
            counts = (t["accepted"], t["duplicates"], t["rejected"])
            self.stdout.write(
                row.format(t["name"], t["prefix"], ",".join(t["scopes"]), *counts, last, status)
            )
