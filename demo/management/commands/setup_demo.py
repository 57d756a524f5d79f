import os

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
        parser.add_argument(
            "--host", default=os.environ.get("HOST", "127.0.0.1"), help="for the banner"
        )
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"), help="for the banner")

    def handle(self, *args, days, host, port, **options):
        User = get_user_model()
        if not User.objects.filter(username=DEMO_USER).exists():
            User.objects.create_superuser(DEMO_USER, "", DEMO_PASSWORD)
        if not Event.objects.exists():
            self.stdout.write(f"Generating {days} days of demo traffic (once)...")
            call_command("generate_demo_data", days=days)
        setup_demo_alerts()  # an enabled rule and channel; an incident now is firing
        self.stdout.write(
            f"\n  clickpost-monitor: http://{host}:{port}/\n"
            f"  log in as {DEMO_USER} / {DEMO_PASSWORD}\n"
        )
