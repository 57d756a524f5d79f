from django.apps import AppConfig


class AlertsConfig(AppConfig):
    """Rules, alert states, silences, channels, the evaluator and the notification outbox."""

    name = "alerts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Deleting a rule, by any path, resolves its firing groups first (alerts.ending).
        from alerts import ending  # noqa: F401
