from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from alerts.demo import setup_demo_alerts
from ingest.models import Event

DEMO_USER, DEMO_PASSWORD = "demo", "clickpost-demo"


class Command(BaseCommand):
    help = "Local run: a demo login and demo traffic, each made only once (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=14)

    def handle(self, *args, days, **options):
        User = get_user_model()
        if not User.objects.filter(username=DEMO_USER).exists():
            User.objects.create_superuser(DEMO_USER, "", DEMO_PASSWORD)
        if not Event.objects.exists():
            self.stdout.write(f"Generating {days} days of demo traffic (once)...")
            call_command("generate_demo_data", days=days)
        setup_demo_alerts()  # an enabled rule and channel; an incident now is firing
        self.stdout.write(
            "\n  clickpost-monitor: http://127.0.0.1:8000/\n"
            f"  log in as {DEMO_USER} / {DEMO_PASSWORD}\n"
        )
