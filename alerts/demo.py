"""The demo's alerts (`setup_demo` calls `setup_demo_alerts`): an enabled rule per courier with
an e-mail channel that writes to .local/mail/ (no mail server, no network), evaluated once at
set-up so that an incident happening now is firing on /alerts/ with its notification in the
history; `run_alerts` (started beside the web server by `make run`) carries on from there."""

from __future__ import annotations

from django.utils import timezone

from alerts.evaluator import evaluate_minute
from alerts.models import Channel, Rule
from alerts.outbox import deliver_due

DEMO_CHANNEL = "demo e-mail (written to .local/mail/)"
DEMO_RULE = "A courier's error rate over 30 % (demo)"


def setup_demo_alerts() -> None:
    """Idempotent: the channel and rule are made once; each call evaluates the current minute."""
    channel, _ = Channel.objects.get_or_create(
        name=DEMO_CHANNEL,
        defaults={"kind": "email", "config": {"to": ["oncall@example.com"], "backend": "file"}},
    )
    rule, created = Rule.objects.get_or_create(
        name=DEMO_RULE,
        defaults={
            "metric": "error_rate",
            "group_by": "cp_id",
            # An hour, with a floor a courier meets even in the Indian night trough (about 60
            # calls an hour for the demo's busiest courier at 05:00 IST): the incident under way
            # at generation fires whatever the hour, and stays firing for most of an hour after
            # the demo traffic stops.
            "window_minutes": 60,
            "threshold": 0.3,
            "warning": 0.25,
            "resolve_threshold": 0.2,
            "min_calls": 20,
            "min_errors": 10,
            "keep_firing_minutes": 10,
            "repeat_minutes": 60,
            # 323 "already placed" is the dashboard's benign code, not an outage.
            "exclude_benign": True,
        },
    )
    if created:
        rule.channels.add(channel)
    evaluate_minute(timezone.now())
    deliver_due()
