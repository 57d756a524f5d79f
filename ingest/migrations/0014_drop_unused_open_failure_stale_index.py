"""The stale rows are rebuilt by their keys, which the batch statement returns (see
`ingest.open_failures`): nothing reads `WHERE stale` any more, so its index only cost writes."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0013_rollup_latency_hourly"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="openfailure",
            name="open_failure_stale",
        ),
    ]
