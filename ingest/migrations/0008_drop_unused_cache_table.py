"""Drops `django_cache`: nothing reads Django's cache from the database any more (the rate
limits keep their buckets in `tokens_rate_bucket`), and the project uses Django's default
in-process cache."""

from django.db import migrations

CREATE = """
CREATE UNLOGGED TABLE IF NOT EXISTS django_cache (
    cache_key varchar(255) NOT NULL PRIMARY KEY,
    value     text         NOT NULL,
    expires   timestamptz  NOT NULL
);
CREATE INDEX IF NOT EXISTS django_cache_expires ON django_cache (expires);
"""


class Migration(migrations.Migration):
    dependencies = [("ingest", "0007_apitoken_moves_to_tokens")]

    operations = [migrations.RunSQL("DROP TABLE IF EXISTS django_cache;", CREATE)]
