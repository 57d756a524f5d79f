"""Merge: the latency histograms (0007, 0008 fill) beside main's 0007-0010."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0008_fill_latency_histograms"),
        ("ingest", "0010_event_key_v2"),
    ]

    operations = []
