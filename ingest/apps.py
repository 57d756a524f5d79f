from django.apps import AppConfig


class IngestConfig(AppConfig):
    name = "ingest"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from ingest.catalog import forget_cached_catalog
        from ingest.models import CodeEntry

        post_save.connect(forget_cached_catalog, sender=CodeEntry)
        post_delete.connect(forget_cached_catalog, sender=CodeEntry)
