"""Loads Clickpost's published code table (ingest.catalog.SEED) into the editable catalog."""

from django.db import migrations

from ingest.catalog import SEED


def load_seed(apps, schema_editor):
    CodeEntry = apps.get_model("ingest", "CodeEntry")
    for info in SEED:
        CodeEntry.objects.update_or_create(
            code=info.code,
            defaults={
                "category": info.category,
                "meaning": info.meaning,
                "is_error": info.is_error,
                "retryable": info.retryable,
                "action": info.action,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("ingest", "0002_event_partitioned_table")]

    operations = [migrations.RunPython(load_seed, migrations.RunPython.noop)]
