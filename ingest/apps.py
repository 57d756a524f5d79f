from django.apps import AppConfig
from django.db import DEFAULT_DB_ALIAS, connections


class IngestConfig(AppConfig):
    name = "ingest"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_migrate, post_save

        from ingest.catalog import forget_cached_catalog
        from ingest.models import CodeEntry

        post_save.connect(forget_cached_catalog, sender=CodeEntry)
        post_delete.connect(forget_cached_catalog, sender=CodeEntry)
        post_migrate.connect(partitions_after_migrate, sender=self)


def partitions_after_migrate(sender, using=DEFAULT_DB_ALIAS, **kwargs) -> None:
    """A fresh install (or test database) starts with partitions ahead, as the daily
    `ensure_partitions` would leave them."""
    from django.conf import settings

    from ingest import partitions

    if (
        using == DEFAULT_DB_ALIAS
        and "ingest_event" in connections[using].introspection.table_names()
    ):
        partitions.ensure_partitions_ahead(days_ahead=settings.PARTITIONS_AHEAD_DAYS)
