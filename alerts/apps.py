from django.apps import AppConfig


class AlertsConfig(AppConfig):
    """Rules, alert states, silences, channels, the evaluator and the notification outbox."""

    name = "alerts"
    default_auto_field = "django.db.models.BigAutoField"
