from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo traffic with incidents, fed through the one ingest pipeline."""

    name = "demo"
