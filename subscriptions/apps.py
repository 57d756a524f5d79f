from django.apps import AppConfig


class SubscriptionsConfig(AppConfig):
    """Scheduled e-mail of the weekly report (SPEC "Scheduled reports")."""

    name = "subscriptions"
    default_auto_field = "django.db.models.BigAutoField"
