"""The table of Django's DatabaseCache (settings.CACHES), which holds the per-token request
counts of the rate limits, so that a limit holds across all gunicorn workers.

The same columns `manage.py createcachetable` makes, UNLOGGED: no WAL for counts that a crash
may lose without harm. IF NOT EXISTS: an install that ran createcachetable keeps its table.
"""

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
    dependencies = [("ingest", "0003_seed_code_catalog")]

    operations = [migrations.RunSQL(CREATE, "DROP TABLE IF EXISTS django_cache;")]
