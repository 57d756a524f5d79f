"""Merge: the latency histograms (0007, 0008 fill) beside main's 0007-0009."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0008_fill_latency_histograms"),
        ("ingest", "0009_merge_benign_and_cache_sweep"),
    ]

    operations = []
