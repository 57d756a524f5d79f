from django.apps import AppConfig


class StatsConfig(AppConfig):
    """The read room: windows and filters, the SQL over rollups, the questions, the read API."""

    name = "stats"
